import { DataSource } from 'typeorm';
import { dataSourceOptions, runServiceMigrations } from '@trackly/database';
import { ManualClock, MS_PER_DAY } from '@trackly/kernel';
import { createLogger } from '@trackly/logging';
import { createTestDatabase, eventually, partitionsOf, TestDatabase } from '@trackly/testing';
import { ingestMigrations } from '../src/migrations';
import { loadIngestConfig } from '../src/ingest.config';
import { archivePartitions, ingestPartitionKeeper } from '../src/partitions/archive-partitions';
import { PostbackArchive } from '../src/postbacks/postback-archive.service';
import { PostbackRequestEntity } from '../src/postbacks/postback-request.entity';
import { startIngestForTest } from './ingest-test-app';

jest.setTimeout(120_000);

const UNCHECKED_REF = 'IngestArchiveConversionRefUnchecked1766000000001';
const withReference = ingestMigrations.filter((m) => m.name !== UNCHECKED_REF);
const beforePartitioning = withReference.filter((m) => m.name !== 'IngestPostbackArchivePartitioned1765710000000');
const migrateTo = (url: string, migrations: typeof ingestMigrations) => runServiceMigrations({ url, schema: 'ingest', entities: [], migrations });

/**
 * The raw archive's conversion to monthly partitions (migration 1765710000000) on a database that already holds
 * requests, then the archive's own statements on the partitioned table, then ingest's keeper on a fake clock.
 */
describe('ingest.postback_requests partitioned by month (real Postgres)', () => {
  let db: TestDatabase;
  let ds: DataSource;
  const now = new Date();
  const monthsAgo = (n: number) => new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - n, 15, 12));

  beforeAll(async () => {
    db = await createTestDatabase('ingest_prepart', beforePartitioning, (url) => migrateTo(url, beforePartitioning).then(() => undefined));
    ds = await new DataSource(dataSourceOptions({ url: db.url, schema: 'ingest', entities: [PostbackRequestEntity], migrations: [] })).initialize();
  });

  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  const partitions = () => partitionsOf(ds, '"ingest".postback_requests');
  const monthName = (d: Date) => `postback_requests_p${d.toISOString().slice(0, 7).replace('-', '')}`;

  it('keeps every archived request, its replays and the sequence through the conversion', async () => {
    // 2,000 requests over the last 20 months, every tenth a replay of the one before it.
    await ds.query(`INSERT INTO "ingest".postback_requests (received_at, partner_id, source_ip, method, path, query, outcome, reason_code)
      SELECT date_trunc('month', now()) - (g % 20) * interval '1 month' + interval '3 days', 'p' || (g % 3), '203.0.113.' || (g % 200), 'GET',
             '/postbacks/p', 'click_id=c' || g || '&conversion_id=o' || g, CASE WHEN g % 4 = 0 THEN 'invalid' ELSE 'stored' END,
             CASE WHEN g % 4 = 0 THEN 'INVALID_FIELDS' END
      FROM generate_series(1, 2000) g`);
    await ds.query(`UPDATE "ingest".postback_requests SET replay_of = id - 1 WHERE id % 10 = 0`);
    const snapshot = () => ds.query(`SELECT * FROM "ingest".postback_requests ORDER BY id`);
    const was = await snapshot();

    const started = Date.now();
    expect(await migrateTo(db.url, withReference)).toEqual(['IngestPostbackArchivePartitioned1765710000000']);
    if (process.env.TEST_LOG_LEVEL === 'info') console.log(`archive of ${was.length} rows converted in ${Date.now() - started} ms`);

    expect(await snapshot()).toEqual(was);
    const parts = await partitions();
    // One per month from 14 months back (the 400-day retention) through two months ahead, the older requests in one
    // history partition, and the default.
    expect(parts).toHaveLength(1 + 14 + 1 + 2 + 1);
    expect(parts).toEqual(expect.arrayContaining([monthName(monthsAgo(14)), monthName(monthsAgo(0)), monthName(monthsAgo(-2)), 'postback_requests_history', 'postback_requests_default']));
    expect(await ds.query(`SELECT count(*)::int AS n FROM "ingest".postback_requests_history`)).toEqual([{ n: 500 }]);
    const [pk] = await ds.query(`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conname = 'postback_requests_pkey' AND conrelid = '"ingest".postback_requests'::regclass`);
    expect(pk.def).toBe('PRIMARY KEY (id, received_at)');
    // Nothing references the archive any more (adjustments and replays name requests by plain id).
    expect(await ds.query(`SELECT conname FROM pg_constraint WHERE contype = 'f' AND confrelid = '"ingest".postback_requests'::regclass`)).toEqual([]);
    const fks = await ds.query(`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE contype = 'f' AND conrelid = '"ingest".postback_requests'::regclass`);
    expect(fks).toEqual([{ def: 'FOREIGN KEY (conversion_ref) REFERENCES ingest.conversions(id)' }]);

    // Then the reference loses its key on every partition (migration 1766000000001), the rows untouched.
    expect(await migrateTo(db.url, ingestMigrations)).toEqual([UNCHECKED_REF]);
    expect(await ds.query(`SELECT conrelid::regclass::text AS t FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text LIKE 'ingest.postback_requests%'`)).toEqual([]);
    expect(await snapshot()).toEqual(was);
  });

  it("serves the archive's own statements on the partitioned table (ids drawn ahead, insert, outcomes, replay, counters)", async () => {
    const archive = new PostbackArchive(ds);
    const request = (partnerId: string, receivedAt: Date) => ({
      receivedAt, partnerId, sourceIp: '198.51.100.7', method: 'GET', path: `/postbacks/${partnerId}`, query: 'click_id=x&conversion_id=y', contentType: null, body: null,
    });
    // Ids drawn ahead from the sequence (the edge's batch names its rows before its statement), rows in any month.
    const received = [now, now, monthsAgo(1), monthsAgo(5)];
    const refs = [];
    for (const receivedAt of received) refs.push({ id: await archive.nextId(), receivedAt });
    for (const ref of refs) await archive.insert(ds.manager, ref.id, request('fresh', ref.receivedAt));
    const [one, ...many] = refs.map((r) => r.id);
    expect(Number(many[0])).toBeGreaterThan(Number(one));
    // Outcomes by id AND receive time: one partition probed, not every month's.
    await archive.finish(refs[0], { outcome: 'invalid', reason: 'bad', reasonCode: 'INVALID_FIELDS' });
    await archive.finishMany(
      (_name, text, values) => ds.query(text, values),
      refs.slice(1).map((ref) => ({ ...ref, outcome: 'invalid' as const, reasonCode: 'INVALID_FIELDS' })),
    );
    const rows = await ds.query(`SELECT id::text, outcome, tableoid::regclass::text AS p FROM "ingest".postback_requests WHERE partner_id = 'fresh' ORDER BY id`);
    expect(rows.map((r: { outcome: string }) => r.outcome)).toEqual(['invalid', 'invalid', 'invalid', 'invalid']);
    expect(rows[3].p).toBe(`ingest.${monthName(monthsAgo(5))}`);
    const replayId = await ds.transaction(async (m) => {
      const [original] = await archive.selectForReplay(m, { partnerId: 'fresh', from: monthsAgo(6), to: new Date(now.getTime() + 1000), outcomes: ['invalid'], limit: 10 });
      expect(original.id).toBe(many[2]);
      return archive.recordReplay(m, original, now);
    });
    expect(await ds.query(`SELECT replay_of::text FROM "ingest".postback_requests WHERE id = $1 AND received_at = $2`, [replayId.id, replayId.receivedAt])).toEqual([{ replay_of: many[2] }]);
    const groups = await archive.groups('fresh', null);
    expect(groups).toEqual([{ partnerId: 'fresh', outcome: 'invalid', reasonCode: 'INVALID_FIELDS', count: 4n }]);
  });

  it('drops whole months past INGEST_ARCHIVE_RETENTION_DAYS (default 400), never one still inside it', async () => {
    const config = loadIngestConfig({});
    expect(config.INGEST_ARCHIVE_RETENTION_DAYS).toBe(400);
    expect(archivePartitions(config)).toMatchObject({ granularity: 'month', retentionDays: 400 });
    const clock = new ManualClock(now);
    const keeper = ingestPartitionKeeper(ds, config, clock, createLogger('ingest-test', 'silent'));
    const result = await keeper.runAll();
    const horizon = now.getTime() - 400 * MS_PER_DAY;
    const dropped = result['ingest.postback_requests'].dropped;
    // 400 days back reaches into the 14th month before this one: the history partition (everything older) goes, and
    // any month that ended before it; none after.
    expect(dropped).toContain('postback_requests_history');
    for (const name of dropped.filter((n: string) => /_p\d{6}$/.test(n))) {
      const end = Date.UTC(Number(name.slice(-6, -2)), Number(name.slice(-2)), 1);
      expect(end).toBeLessThanOrEqual(horizon);
    }
    const left: { oldest: Date }[] = await ds.query(`SELECT min(received_at) AS oldest FROM "ingest".postback_requests`);
    expect(new Date(left[0].oldest).getTime()).toBeGreaterThan(horizon - 31 * MS_PER_DAY);
    expect(await partitions()).toContain(monthName(monthsAgo(12)));
    expect(await partitions()).not.toContain('postback_requests_history');
  });

  it('runs the keeper in the ingest app from its start (months ahead of its clock made)', async () => {
    const t = await startIngestForTest({}, new ManualClock(new Date('2031-08-10T12:00:00Z')));
    try {
      const made = await eventually(async () => {
        const { rows } = await t.pg.query(
          `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = '"ingest".postback_requests'::regclass`,
        );
        const names = rows.map((r: { name: string }) => r.name);
        return ['postback_requests_p203108', 'postback_requests_p203109', 'postback_requests_p203110'].every((n) => names.includes(n)) && names;
      });
      expect(made).not.toContain('postback_requests_p203111');
    } finally {
      await t.close();
    }
  });
});
