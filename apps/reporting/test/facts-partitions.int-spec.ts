import { DataSource } from 'typeorm';
import { dataSourceOptions, runServiceMigrations } from '@trackly/database';
import { ManualClock, MS_PER_DAY } from '@trackly/kernel';
import { createLogger } from '@trackly/logging';
import { createTestDatabase, TestDatabase } from '@trackly/testing';
import type { CreditedConversionFact, UnattributedConversionFact } from '../src/domain/facts';
import { reportingMigrations } from '../src/migrations';
import { factPartitions, reportingPartitionKeeper } from '../src/projection/fact-partitions';
import { ProjectionService } from '../src/projection/projection.service';
import { loadReportingConfig } from '../src/reporting.config';

jest.setTimeout(120_000);

const beforePartitioning = reportingMigrations.filter((m) => m.name !== 'ReportingFactsPartitioned1765710000001');
const migrateTo = (url: string, migrations: typeof reportingMigrations) => runServiceMigrations({ url, schema: 'reporting', entities: [], migrations });
const FACTS = ['messages', 'clicks', 'credited_conversions', 'unattributed_conversions'];

/**
 * Reporting's facts converted to monthly partitions (migration 1765710000001) on a database that holds facts, the
 * projection's idempotency on the partitioned tables, and the keeper dropping months past the retention while the
 * rollups stay.
 */
describe('reporting facts partitioned by month (real Postgres)', () => {
  let db: TestDatabase;
  let ds: DataSource;
  const projection = new ProjectionService();
  const now = new Date();
  const monthStart = (n: number) => new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - n, 1));

  beforeAll(async () => {
    db = await createTestDatabase('reporting_prepart', beforePartitioning, (url) => migrateTo(url, beforePartitioning).then(() => undefined));
    ds = await new DataSource(dataSourceOptions({ url: db.url, schema: 'reporting', entities: [], migrations: [] })).initialize();
  });

  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  const partitions = async (table: string) =>
    (await ds.query(`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass ORDER BY 1`, [`"reporting".${table}`])).map(
      (r: { name: string }) => r.name,
    );
  const snapshot = async () => {
    const out: Record<string, unknown[]> = {};
    for (const t of [...FACTS, 'received_conversions', 'activity_rollup', 'revenue_rollup']) out[t] = await ds.query(`SELECT * FROM "reporting".${t} ORDER BY 1, 2, 3`);
    return out;
  };

  it('keeps every fact and column through the conversion; keys gain the time, received_conversions stays plain', async () => {
    // 1,000 sends over the last 16 months, a tap for every other one, a credited and an unattributed conversion per ten.
    await ds.query(`INSERT INTO "reporting".messages (message_id, contact_id, phone_masked, campaign_id, creative_id, offer_id, sent_at)
      SELECT 'm' || g, 'k' || (g % 50), '+1******' || g, 'camp', 'cr', 'of', date_trunc('month', now()) - (g % 16) * interval '1 month' + interval '2 days'
      FROM generate_series(1, 1000) g`);
    await ds.query(`INSERT INTO "reporting".clicks (click_id, message_id, contact_id, offer_id, campaign_id, creative_id, clicked_at, first_click_on_message, cohort_at)
      SELECT 'c' || message_id, message_id, contact_id, offer_id, campaign_id, creative_id, sent_at + interval '1 hour', true, sent_at
      FROM "reporting".messages WHERE substr(message_id, 2)::int % 2 = 0`);
    await ds.query(`INSERT INTO "reporting".credited_conversions (partner_id, conversion_id, message_id, click_id, contact_id, offer_id, campaign_id,
        creative_id, payout_micros, currency, status, occurred_at, type, cohort_at, source)
      SELECT 'p', 'o' || message_id, message_id, 'c' || message_id, contact_id, offer_id, campaign_id, creative_id, 1500000, 'USD', 'approved',
        sent_at + interval '1 day', 'CLICK_THROUGH', sent_at, 'INGEST'
      FROM "reporting".messages WHERE substr(message_id, 2)::int % 10 = 0`);
    await ds.query(`INSERT INTO "reporting".unattributed_conversions (partner_id, conversion_id, reason, reported_click_id, payout_micros, currency, status, occurred_at)
      SELECT 'p', 'u' || message_id, 'UNKNOWN_CLICK_ID', 'zz', 1000000, 'USD', 'approved', sent_at FROM "reporting".messages WHERE substr(message_id, 2)::int % 10 = 5`);
    await ds.query(`INSERT INTO "reporting".received_conversions (partner_id, conversion_id, payout_micros, currency, status, occurred_at, received_at)
      SELECT partner_id, conversion_id, payout_micros, currency, status, occurred_at, occurred_at FROM "reporting".credited_conversions`);
    await ds.query(`INSERT INTO "reporting".activity_rollup (grain, bucket, campaign_id, creative_id, offer_id, sends)
      SELECT 1440, date_trunc('day', sent_at), 'camp', 'cr', 'of', count(*) FROM "reporting".messages GROUP BY 2`);
    const was = await snapshot();

    const started = Date.now();
    expect(await migrateTo(db.url, reportingMigrations)).toEqual(['ReportingFactsPartitioned1765710000001']);
    if (process.env.TEST_LOG_LEVEL === 'info') console.log(`4 fact tables (2,200 rows) converted in ${Date.now() - started} ms`);

    expect(await snapshot()).toEqual(was);
    for (const t of FACTS) {
      // One per month from 14 months back through two months ahead, a history partition if older facts exist, the default.
      const [{ back }] = await ds.query(
        `SELECT ((extract(year FROM now()) - extract(year FROM min(${t === 'messages' ? 'sent_at' : t === 'clicks' ? 'clicked_at' : 'occurred_at'}))) * 12
           + extract(month FROM now()) - extract(month FROM min(${t === 'messages' ? 'sent_at' : t === 'clicks' ? 'clicked_at' : 'occurred_at'})))::int AS back
         FROM "reporting".${t}`,
      );
      const parts = await partitions(t);
      expect(parts).toHaveLength(14 + 1 + 2 + 1 + (back > 14 ? 1 : 0));
      expect(parts).toContain(`${t}_default`);
    }
    const keys = await ds.query(
      `SELECT conrelid::regclass::text AS t, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE contype = 'p' AND connamespace = 'reporting'::regnamespace
         AND conrelid::regclass::text IN ('reporting.messages', 'reporting.clicks', 'reporting.credited_conversions', 'reporting.unattributed_conversions', 'reporting.received_conversions')
       ORDER BY 1`,
    );
    expect(keys).toEqual([
      { t: 'reporting.clicks', def: 'PRIMARY KEY (click_id, clicked_at)' },
      { t: 'reporting.credited_conversions', def: 'PRIMARY KEY (partner_id, conversion_id, occurred_at)' },
      { t: 'reporting.messages', def: 'PRIMARY KEY (message_id, sent_at)' },
      { t: 'reporting.received_conversions', def: 'PRIMARY KEY (partner_id, conversion_id)' },
      { t: 'reporting.unattributed_conversions', def: 'PRIMARY KEY (partner_id, conversion_id, occurred_at)' },
    ]);
    expect(await ds.query(`SELECT relkind FROM pg_class WHERE oid = '"reporting".received_conversions'::regclass`)).toEqual([{ relkind: 'r' }]);
  });

  it('applies a fact once on the partitioned tables, a conversion once even when its time changed', async () => {
    const sentAt = new Date(now.getTime() - 3_600_000);
    const send = { messageId: 'fresh-m', contactId: 'k1', phoneMasked: '+1***', campaignId: 'camp', creativeId: 'cr', offerId: 'of', sentAt };
    const tap = { ...send, clickId: 'fresh-c', clickedAt: new Date(sentAt.getTime() + 60_000), firstClickOnMessage: true, clickClass: 'HUMAN', messageSentAt: sentAt };
    const credited: CreditedConversionFact = {
      partnerId: 'p', conversionId: 'fresh-o', messageId: 'fresh-m', clickId: 'fresh-c', contactId: 'k1', campaignId: 'camp', creativeId: 'cr', offerId: 'of',
      payout: { currency: 'USD', micros: 2_000_000n }, status: 'approved', occurredAt: new Date(sentAt.getTime() + 120_000), type: 'CLICK_THROUGH',
      test: false, source: 'INGEST', overCap: false, holdUntil: undefined,
    };
    const unattributed: UnattributedConversionFact = {
      partnerId: 'p', conversionId: 'fresh-u', reason: 'UNKNOWN_CLICK_ID', reportedClickId: 'zz', payout: { currency: 'USD', micros: 1n }, status: 'approved',
      occurredAt: sentAt, test: false, source: 'INGEST',
    };
    const sends = async () => (await ds.query(`SELECT coalesce(sum(sends), 0)::int AS n FROM "reporting".activity_rollup WHERE grain = 15 AND campaign_id = 'camp'`))[0].n;
    const revenue = async () => (await ds.query(`SELECT coalesce(sum(approved_micros), 0)::text AS n FROM "reporting".revenue_rollup WHERE grain = 15`))[0].n;
    for (let i = 0; i < 2; i++) {
      await ds.transaction(async (m) => {
        await projection.recordMessages(m, [send]);
        await projection.recordClicks(m, [tap]);
        // The second time the same conversions come with another time (an adjusted conversion, re-driven).
        const later = i * 86_400_000 * 40;
        await projection.recordDecisions(m, [
          { kind: 'credited', fact: { ...credited, occurredAt: new Date(credited.occurredAt.getTime() - later) } },
          { kind: 'unattributed', fact: { ...unattributed, occurredAt: new Date(unattributed.occurredAt.getTime() - later) } },
        ]);
      });
    }
    const count = async (t: string, where: string) => (await ds.query(`SELECT count(*)::int AS n FROM "reporting".${t} WHERE ${where}`))[0].n;
    expect(await count('messages', `message_id = 'fresh-m'`)).toBe(1);
    expect(await count('clicks', `click_id = 'fresh-c'`)).toBe(1);
    expect(await count('credited_conversions', `conversion_id = 'fresh-o'`)).toBe(1);
    expect(await count('unattributed_conversions', `conversion_id = 'fresh-u'`)).toBe(1);
    expect(await sends()).toBe(1);
    expect(await revenue()).toBe('2000000');
  });

  it('drops whole months of facts past REPORTING_FACTS_RETENTION_DAYS (default 400); the rollups stay', async () => {
    const config = loadReportingConfig({});
    expect(config.REPORTING_FACTS_RETENTION_DAYS).toBe(400);
    expect(factPartitions(config).map((t) => `${t.table}/${t.granularity}/${t.retentionDays}`)).toEqual(FACTS.map((t) => `${t}/month/400`));
    const rollups = await ds.query(`SELECT * FROM "reporting".activity_rollup ORDER BY 1, 2, 3, 4, 5`);
    const keeper = reportingPartitionKeeper(ds, config, new ManualClock(now), createLogger('reporting-test', 'silent'));
    const result = await keeper.runAll();
    const horizon = now.getTime() - 400 * MS_PER_DAY;
    const monthEnd = (name: string) => Date.UTC(Number(name.slice(-6, -2)), Number(name.slice(-2)), 1);
    for (const t of FACTS) {
      // Every month that ended before now − 400 days is gone, every other one is still there.
      for (const name of result[`reporting.${t}`].dropped.filter((n) => /_p\d{6}$/.test(n))) expect(monthEnd(name)).toBeLessThanOrEqual(horizon);
      for (const name of (await partitions(t)).filter((n: string) => /_p\d{6}$/.test(n))) expect(monthEnd(name)).toBeGreaterThan(horizon);
      expect(await partitions(t)).toContain(`${t}_p${monthStart(12).toISOString().slice(0, 7).replace('-', '')}`);
    }
    expect(result['reporting.messages'].dropped.length).toBeGreaterThanOrEqual(1);
    const [{ oldest }] = await ds.query(`SELECT min(sent_at) AS oldest FROM "reporting".messages`);
    expect(new Date(oldest).getTime()).toBeGreaterThan(horizon - 31 * MS_PER_DAY);
    expect(await ds.query(`SELECT * FROM "reporting".activity_rollup ORDER BY 1, 2, 3, 4, 5`)).toEqual(rollups);
  });
});
