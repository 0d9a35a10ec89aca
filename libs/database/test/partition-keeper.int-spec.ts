import { Client } from 'pg';
import { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { convertToPartitioned, convertToUnpartitioned, dataSourceOptions, PartitionKeeper, rawPool, runServiceMigrations } from '@trackly/database';
import { ManualClock, MS_PER_DAY } from '@trackly/kernel';
import { createLogger } from '@trackly/logging';
import { createTestDatabase, eventually, TestDatabase } from '@trackly/testing';

jest.setTimeout(60_000);

const SCHEMA = 'parttest';

/** A table shaped like the ones converted: serial id, key without the time, a unique key, partial and plain indexes, a check, a foreign key out. */
class PartTestTables1764300000001 implements MigrationInterface {
  name = 'PartTestTables1764300000001';
  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "parttest".owners (id text PRIMARY KEY)`);
    await q.query(`CREATE TABLE "parttest".events (
      id bigserial PRIMARY KEY,
      ext_id text NOT NULL,
      owner_id text REFERENCES "parttest".owners (id),
      at timestamptz NOT NULL,
      amount bigint NOT NULL CHECK (amount >= 0),
      note text DEFAULT 'none',
      CONSTRAINT events_ext_key UNIQUE (ext_id)
    )`);
    await q.query(`CREATE INDEX "IDX_events_owner_at" ON "parttest".events (owner_id, at DESC) WHERE owner_id IS NOT NULL`);
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "parttest".events, "parttest".owners`);
  }
}

/** Another migration's column, added before the conversion runs: it must be carried over. */
class PartTestExtraColumn1764300000002 implements MigrationInterface {
  name = 'PartTestExtraColumn1764300000002';
  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "parttest".events ADD COLUMN partner text NOT NULL DEFAULT 'p0'`);
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "parttest".events DROP COLUMN partner`);
  }
}

const before = [PartTestTables1764300000001, PartTestExtraColumn1764300000002];
const migrate = (url: string) => runServiceMigrations({ url, schema: SCHEMA, entities: [], migrations: before }).then(() => undefined);

describe('tables converted to time partitions and kept by PartitionKeeper (real Postgres)', () => {
  let db: TestDatabase;
  let ds: DataSource;
  const now = new Date(Math.floor(Date.now() / MS_PER_DAY) * MS_PER_DAY + 10 * 3_600_000);

  beforeAll(async () => {
    db = await createTestDatabase('parttest', before, migrate);
    ds = await new DataSource(dataSourceOptions({ url: db.url, schema: SCHEMA, entities: [], migrations: [] })).initialize();
  });

  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  const partitions = async (table: string) =>
    (await ds.query(`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass ORDER BY 1`, [`"parttest".${table}`])).map(
      (r: { name: string }) => r.name,
    );
  const day = (d: number) => new Date(now.getTime() + d * MS_PER_DAY);
  const dayName = (d: number) => `events_p${day(d).toISOString().slice(0, 10).replace(/-/g, '')}`;

  it('keeps every row and column, the keys (with the time added), indexes, checks, foreign keys and the sequence', async () => {
    await ds.query(`INSERT INTO "parttest".owners VALUES ('o1'), ('o2')`);
    // 3,000 rows over the last 10 days, a few far older (beyond the days made one by one), one tomorrow.
    await ds.query(`INSERT INTO "parttest".events (ext_id, owner_id, at, amount, partner)
      SELECT 'e' || g, CASE WHEN g % 3 = 0 THEN NULL ELSE 'o' || (1 + g % 2) END, $1::timestamptz - (g % 10) * interval '1 day' - interval '1 hour', g, 'p' || (g % 4)
      FROM generate_series(1, 3000) g`, [now]);
    await ds.query(`INSERT INTO "parttest".events (ext_id, at, amount) VALUES ('old-1', $1, 1), ('old-2', $1, 2), ('tomorrow', $2, 3), ('far', $3, 4)`, [
      day(-40), day(1), day(400),
    ]);
    const snapshot = async () => ds.query(`SELECT id, ext_id, owner_id, at, amount, note, partner FROM "parttest".events ORDER BY id`);
    const was = await snapshot();

    // In one transaction, as a migration runs it.
    const q = ds.createQueryRunner();
    const started = Date.now();
    await q.startTransaction();
    const result = await convertToPartitioned(q, { schema: SCHEMA, table: 'events', column: 'at', granularity: 'day', history: 30, now });
    await q.commitTransaction();
    const ms = Date.now() - started;
    await q.release();
    // Measured figure for docs/scaling.md (TEST_LOG_LEVEL=info prints it).
    if (process.env.TEST_LOG_LEVEL === 'info') console.log(`converted ${result.rows} rows into ${result.partitions.length} partitions in ${ms} ms`);

    expect(result.rows).toBe(3004);
    expect(await snapshot()).toEqual(was);
    const parts = await partitions('events');
    // 30 days back one by one, the older rows in the history partition, today, 7 ahead, the default.
    expect(parts).toEqual(expect.arrayContaining(['events_history', 'events_default', dayName(-30), dayName(0), dayName(7)]));
    expect(parts).toHaveLength(1 + 30 + 1 + 7 + 1);
    expect((await ds.query(`SELECT tableoid::regclass::text AS p FROM "parttest".events WHERE ext_id = 'old-1'`))[0].p).toBe('parttest.events_history');
    expect((await ds.query(`SELECT tableoid::regclass::text AS p FROM "parttest".events WHERE ext_id = 'tomorrow'`))[0].p).toBe(`parttest.${dayName(1)}`);
    // A row far ahead (a clock far off) goes to the default partition, not a partition per day up to it.
    expect((await ds.query(`SELECT tableoid::regclass::text AS p FROM "parttest".events WHERE ext_id = 'far'`))[0].p).toBe('parttest.events_default');

    const keys = await ds.query(
      `SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = '"parttest".events'::regclass ORDER BY conname`,
    );
    expect(keys.map((k: { conname: string; def: string }) => `${k.conname}: ${k.def}`)).toEqual([
      'events_amount_check: CHECK ((amount >= 0))',
      'events_ext_key: UNIQUE (ext_id, at)',
      'events_owner_id_fkey: FOREIGN KEY (owner_id) REFERENCES parttest.owners(id)',
      'events_pkey: PRIMARY KEY (id, at)',
    ]);
    const [index] = await ds.query(`SELECT indexdef FROM pg_indexes WHERE schemaname = 'parttest' AND indexname = 'IDX_events_owner_at'`);
    expect(index.indexdef).toBe('CREATE INDEX "IDX_events_owner_at" ON ONLY parttest.events USING btree (owner_id, at DESC) WHERE (owner_id IS NOT NULL)');
    // The sequence followed the rows: the next id is past the copied ones, and the key and checks hold.
    const [next] = await ds.query(`INSERT INTO "parttest".events (ext_id, at, amount) VALUES ('new', $1, 5) RETURNING id, note, partner`, [now]);
    expect(Number(next.id)).toBeGreaterThan(Number(was[was.length - 1].id));
    expect(next).toMatchObject({ note: 'none', partner: 'p0' });
    await expect(ds.query(`INSERT INTO "parttest".events (ext_id, at, amount) VALUES ('new', $1, 5)`, [now])).rejects.toThrow(/duplicate key/);
    await expect(ds.query(`INSERT INTO "parttest".events (ext_id, at, amount) VALUES ('neg', $1, -1)`, [now])).rejects.toThrow(/events_amount_check/);
    await expect(ds.query(`INSERT INTO "parttest".events (ext_id, owner_id, at, amount) VALUES ('x', 'nobody', $1, 1)`, [now])).rejects.toThrow(/events_owner_id_fkey/);
  });

  it('refuses a table that a foreign key references, and changes nothing', async () => {
    const q = ds.createQueryRunner();
    await q.startTransaction();
    try {
      await expect(convertToPartitioned(q, { schema: SCHEMA, table: 'owners', column: 'at', granularity: 'day' })).rejects.toThrow(
        /parttest.owners is referenced by foreign keys \(parttest.events.events_owner_id_fkey\): drop them first/,
      );
    } finally {
      await q.rollbackTransaction();
      await q.release();
    }
    expect(await ds.query(`SELECT relkind FROM pg_class WHERE oid = '"parttest".owners'::regclass`)).toEqual([{ relkind: 'r' }]);
  });

  it('creates periods ahead and drops only what is wholly past the retention, on a fake clock', async () => {
    const clock = new ManualClock(now);
    const keeper = new PartitionKeeper({
      pool: rawPool(ds), tables: [], lockTimeoutMs: 200, clock, logger: createLogger('parttest', 'silent'),
    });
    const table = { schema: SCHEMA, table: 'events', granularity: 'day' as const, retentionDays: 20, ahead: 9 };
    const first = await keeper.maintain(table);
    // Days 8 and 9 were not made by the migration (7 ahead); everything older than 20 days goes, day −20 stays
    // (its end, day −19 at 00:00, is after now − 20 days).
    expect(first.created).toEqual([dayName(8), dayName(9)]);
    const horizon = now.getTime() - 20 * MS_PER_DAY;
    expect(first.dropped).toEqual(['events_history', ...Array.from({ length: 10 }, (_, i) => dayName(-30 + i))]);
    for (const name of first.dropped.filter((n) => n !== 'events_history')) {
      const d = new Date(`${name.slice(8, 12)}-${name.slice(12, 14)}-${name.slice(14, 16)}T00:00:00Z`);
      expect(d.getTime() + MS_PER_DAY).toBeLessThanOrEqual(horizon);
    }
    expect(await partitions('events')).toContain(dayName(-20));
    expect(await ds.query(`SELECT count(*)::int AS n FROM "parttest".events WHERE ext_id LIKE 'old-%'`)).toEqual([{ n: 0 }]);
    expect(await keeper.maintain(table)).toEqual({ created: [], dropped: [] });

    // One millisecond before day −20 leaves the retention nothing goes; at that instant it does.
    clock.set(new Date(now.getTime() + 14 * 3_600_000 - 1)); // day −19 00:00 + 20 days − 1 ms
    expect((await keeper.maintain(table)).dropped).toEqual([]);
    clock.advance(1);
    expect((await keeper.maintain(table)).dropped).toEqual([dayName(-20)]);
  });

  it('gives up a drop after lock_timeout instead of queueing the hot path behind it, and drops at the next run', async () => {
    const clock = new ManualClock(new Date(now.getTime() + 2 * MS_PER_DAY));
    const keeper = new PartitionKeeper({ pool: rawPool(ds), tables: [], lockTimeoutMs: 150, clock, logger: createLogger('parttest', 'silent') });
    const table = { schema: SCHEMA, table: 'events', granularity: 'day' as const, retentionDays: 20, ahead: 9 };
    const hold = new Client({ connectionString: db.url });
    const hot = new Client({ connectionString: db.url });
    await hold.connect();
    await hot.connect();
    try {
      // An insert in flight (a long transaction of the hot path) holds the parent's ROW EXCLUSIVE lock.
      await hold.query('BEGIN');
      await hold.query(`INSERT INTO "parttest".events (ext_id, at, amount) VALUES ('in-flight', $1, 1)`, [now]);
      const started = Date.now();
      const run = keeper.maintain(table).then(
        () => 'dropped',
        (e: Error) => e.message,
      );
      // Another insert arriving while the keeper's DETACH waits for its lock queues behind it at most that long.
      await eventually(async () =>
        (await hot.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%DETACH PARTITION%'`)).rowCount! > 0,
      );
      const insertStarted = Date.now();
      await hot.query(`INSERT INTO "parttest".events (ext_id, at, amount) VALUES ('queued', $1, 1)`, [now]);
      const insertMs = Date.now() - insertStarted;
      const outcome = await run;
      const waited = Date.now() - started;
      if (process.env.TEST_LOG_LEVEL === 'info') console.log(`keeper gave up after ${waited} ms; an insert behind it waited ${insertMs} ms`);
      expect(outcome).toMatch(/lock timeout/);
      expect(waited).toBeLessThan(150 + 1000);
      expect(insertMs).toBeLessThan(150 + 1000);
      expect(await hot.query(`SELECT 1 FROM "parttest".events WHERE ext_id = 'queued'`)).toMatchObject({ rowCount: 1 });
      expect(await partitions('events')).toContain(dayName(-19));
      await hold.query('COMMIT');

      const started2 = Date.now();
      expect((await keeper.maintain(table)).dropped).toEqual([dayName(-19)]);
      if (process.env.TEST_LOG_LEVEL === 'info') console.log(`detach + drop of a day partition: ${Date.now() - started2} ms`);
    } finally {
      await hold.query('ROLLBACK').catch(() => undefined);
      await hold.end();
      await hot.end();
    }
  });

  it('turns back into a plain table with its rows (the migration down)', async () => {
    const count = async () => (await ds.query(`SELECT count(*)::int AS n FROM "parttest".events`))[0].n;
    const n = await count();
    const q = ds.createQueryRunner();
    await convertToUnpartitioned(q, { schema: SCHEMA, table: 'events', primaryKey: ['id'] });
    await q.release();
    expect(await count()).toBe(n);
    expect(await ds.query(`SELECT relkind FROM pg_class WHERE oid = '"parttest".events'::regclass`)).toEqual([{ relkind: 'r' }]);
    expect((await ds.query(`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conname = 'events_pkey'`))[0].def).toBe('PRIMARY KEY (id)');
  });
});
