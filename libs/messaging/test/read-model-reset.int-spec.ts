import type { MigrationInterface, QueryRunner } from 'typeorm';
import { DataSource } from 'typeorm';
import { Client } from 'pg';
import { dataSourceOptions, runServiceMigrations } from '@trackly/database';
import { createTestDatabase, eventually, TestDatabase } from '@trackly/testing';
import { messagingTablesSql, ReadModelReset } from '@trackly/messaging';

jest.setTimeout(60_000);

const SCHEMA = 'resettest';

class ResetTestInitial1765740000001 implements MigrationInterface {
  name = 'ResetTestInitial1765740000001';

  async up(q: QueryRunner): Promise<void> {
    for (const sql of messagingTablesSql(SCHEMA)) await q.query(sql);
    await q.query(`CREATE TABLE "${SCHEMA}".facts (key text PRIMARY KEY)`);
    await q.query(`CREATE TABLE "${SCHEMA}".rollup (bucket text PRIMARY KEY, n bigint NOT NULL)`);
    await q.query(`CREATE TABLE "${SCHEMA}".entered (id text PRIMARY KEY)`);
  }

  async down(): Promise<void> {
    /* throwaway database */
  }
}

/**
 * ReadModelReset on real Postgres: a dry run only counts; a reset empties the read model's tables and the
 * processed-event records of its own durables (others stay); and a consumer's group committing while the reset
 * runs is either wholly removed or wholly kept — never its rows without its records.
 */
describe('ReadModelReset (real Postgres)', () => {
  let db: TestDatabase;
  let ds: DataSource;
  const spec = {
    schema: SCHEMA,
    reset: [{ table: 'facts' }, { table: 'rollup' }, { table: 'processed_events', consumers: ['svc-feed'] }],
    keep: ['entered', 'outbox', 'dead_letters', 'migrations'],
  };
  const count = async (sql: string) => Number((await ds.query(sql))[0].n);
  const state = async () => ({
    facts: await count(`SELECT count(*) AS n FROM "${SCHEMA}".facts`),
    rollup: await count(`SELECT coalesce(sum(n), 0) AS n FROM "${SCHEMA}".rollup`),
    feed: await count(`SELECT count(*) AS n FROM "${SCHEMA}".processed_events WHERE consumer = 'svc-feed'`),
    other: await count(`SELECT count(*) AS n FROM "${SCHEMA}".processed_events WHERE consumer = 'svc-other'`),
    entered: await count(`SELECT count(*) AS n FROM "${SCHEMA}".entered`),
  });
  /** What a consumer's group writes: the fact, the rollup increment and the processed-event record, in one tx. */
  const apply = (q: { query(sql: string, p?: unknown[]): Promise<unknown> }, key: string) =>
    q.query(
      `WITH f AS (INSERT INTO "${SCHEMA}".facts (key) VALUES ($1)),
            r AS (INSERT INTO "${SCHEMA}".rollup (bucket, n) VALUES ('all', 1) ON CONFLICT (bucket) DO UPDATE SET n = "${SCHEMA}".rollup.n + 1)
       INSERT INTO "${SCHEMA}".processed_events (consumer, event_id) VALUES ('svc-feed', $1)`,
      [key],
    );

  beforeAll(async () => {
    const migrate = (url: string) => runServiceMigrations({ url, schema: SCHEMA, entities: [], migrations: [ResetTestInitial1765740000001] }).then(() => undefined);
    db = await createTestDatabase('readmodelreset', [ResetTestInitial1765740000001], migrate);
    ds = await new DataSource(dataSourceOptions({ url: db.url, schema: SCHEMA, entities: [], migrations: [] })).initialize();
  });

  beforeEach(async () => {
    await ds.query(`TRUNCATE "${SCHEMA}".facts, "${SCHEMA}".rollup, "${SCHEMA}".processed_events, "${SCHEMA}".entered`);
    for (let i = 0; i < 5; i++) await apply(ds, `e-${i}`);
    await ds.query(`INSERT INTO "${SCHEMA}".processed_events (consumer, event_id) SELECT 'svc-other', 'o-' || g FROM generate_series(1, 3) g`);
    await ds.query(`INSERT INTO "${SCHEMA}".entered (id) VALUES ('typed-by-a-person')`);
  });

  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  it('a dry run counts and removes nothing; a reset removes the read model and its own durables\' records only', async () => {
    const reset = new ReadModelReset(ds, spec);
    const expected = [
      { table: `${SCHEMA}.facts`, rowsMatching: '', rows: 5 },
      { table: `${SCHEMA}.rollup`, rowsMatching: '', rows: 1 },
      { table: `${SCHEMA}.processed_events`, rowsMatching: 'consumer IN (svc-feed)', rows: 5 },
    ];
    expect(await reset.run(true)).toEqual(expected);
    expect(await state()).toEqual({ facts: 5, rollup: 5, feed: 5, other: 3, entered: 1 });

    expect(await reset.run(false)).toEqual(expected);
    expect(await state()).toEqual({ facts: 0, rollup: 0, feed: 0, other: 3, entered: 1 });
    expect(reset.keptTables).toEqual([`${SCHEMA}.entered`, `${SCHEMA}.outbox`, `${SCHEMA}.dead_letters`, `${SCHEMA}.migrations`]);
  });

  it('waits for a group in flight and removes it whole; a group after the reset stays whole', async () => {
    const consumer = new Client({ connectionString: db.url });
    await consumer.connect();
    try {
      await consumer.query('BEGIN');
      await apply(consumer, 'in-flight');
      const resetting = new ReadModelReset(ds, spec).run(false);
      // The reset is blocked on the group's locks (not done before it, not half-way through it).
      await eventually(async () => {
        const r: { n: string }[] = await ds.query(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
        return Number(r[0].n) > 0;
      }, 10_000, 20);
      await consumer.query('COMMIT');
      const counts = await resetting;
      // It counted the group it waited for, and removed its fact, its increment and its record together.
      expect(counts.map((c) => c.rows)).toEqual([6, 1, 6]);
      expect(await state()).toEqual({ facts: 0, rollup: 0, feed: 0, other: 3, entered: 1 });

      // A group after the reset: its rows and its record both stay (a re-drive of it is then skipped).
      await apply(consumer, 'after');
      expect(await state()).toEqual({ facts: 1, rollup: 1, feed: 1, other: 3, entered: 1 });
    } finally {
      await consumer.end();
    }
  });
});
