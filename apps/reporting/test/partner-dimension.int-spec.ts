import { randomUUID } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, JetStreamClient } from '@nats-io/jetstream';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { createGrpcClient, PromiseClient } from '@trackly/grpc';
import { RunningService } from '@trackly/app-shell';
import { ManualClock } from '@trackly/kernel';
import { EventType, Events } from '@trackly/messaging';
import { createTestDatabase, deleteNatsPrefix, eventually, freePort, TestDatabase, testInfra, testNatsPrefix } from '@trackly/testing';
import {
  DateBasis,
  GetPerformanceReportRequest,
  PerformanceRow,
  ReportGrouping,
  ReportingServiceService,
} from '@trackly/contracts/reporting/v1/reporting_service';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { AttributionType } from '@trackly/contracts/attribution/v1/attribution';
import { reportingMigrations } from '../src/migrations';
import { ReportingPartnerRevenueRollups1765700000000 } from '../src/migrations/1765700000000-partner-revenue-rollups.migration';
import { decision, Dims } from './attribution-fixtures';
import { rebuildRollupsSql } from '../src/projection/rollup-rebuild';
import { loadReportingConfig } from '../src/reporting.config';
import { migrateReporting, startReporting } from '../src/reporting.app';

/**
 * The partner dimension of the performance report (issue 17): conversions grouped and filtered by the partner that
 * reported them, exact through batches, a re-attribution that moves a conversion to another creative and a
 * reversal; sends and taps, which have no partner, are flagged not applicable instead of shown as numbers.
 */
const at = (iso: string) => new Date(iso);
const { CONVERSION_STATUS_APPROVED: APPROVED, CONVERSION_STATUS_PENDING: PENDING, CONVERSION_STATUS_REVERSED: REVERSED } = ConversionStatus;
const { REPORT_GROUPING_CREATIVE: CREATIVE, REPORT_GROUPING_PARTNER: PARTNER, REPORT_GROUPING_DATE: DATE } = ReportGrouping;

const D1: Dims = { campaignId: 'camp-1', creativeId: 'cr-1', offerId: 'off-1' };
const D2: Dims = { campaignId: 'camp-2', creativeId: 'cr-2', offerId: 'off-2' };

// tune: X1 credited to mA (cr-1), then moved to mB (cr-2) by re-attribution; V1 view-through on mB; T1 a test on mA.
const X1 = decision('tune', 'X1', 'mA', D1, 'USD', 10_000_000, APPROVED, '2026-05-05T12:00:00Z');
const X1_MOVED = decision('tune', 'X1', 'mB', D2, 'USD', 10_000_000, APPROVED, '2026-05-05T12:00:00Z');
const V1 = decision('tune', 'V1', 'mB', D2, 'USD', 2_000_000, APPROVED, '2026-05-06T09:00:00Z', { type: AttributionType.ATTRIBUTION_TYPE_VIEW_THROUGH, creditedClickId: '' });
const T1 = decision('tune', 'T1', 'mA', D1, 'USD', 1_000_000, APPROVED, '2026-05-05T18:00:00Z', { test: true });
// everflow: Y1 credited to mA (cr-1), then reversed; Y2 pending in EUR on mB (cr-2).
const Y1 = decision('everflow', 'Y1', 'mA', D1, 'USD', 4_000_000, APPROVED, '2026-05-05T14:00:00Z');
const Y1_REVERSED = { ...Y1, status: REVERSED };
const Y2 = decision('everflow', 'Y2', 'mB', D2, 'EUR', 5_000_000, PENDING, '2026-05-06T10:00:00Z');

const corrections = [
  { previous: X1, current: X1_MOVED, cause: 'reattribution', correctionId: 'corr-move' },
  { previous: Y1, current: Y1_REVERSED, cause: 'reversal', correctionId: 'corr-reverse' },
];

describe('reporting: the partner dimension of the performance report', () => {
  const clock = new ManualClock(at('2026-05-10T00:00:00Z'));
  let db: TestDatabase;
  let prefix: string;
  let app: RunningService;
  let client: PromiseClient<typeof ReportingServiceService>;
  let nc: NatsConnection;
  let js: JetStreamClient;

  async function publish<T>(type: EventType<T>, payload: T, msgID: string = randomUUID()): Promise<void> {
    await js.publish(`${prefix}.${type.subject}`, type.codec.encode(payload).finish(), { msgID });
  }
  const report = (groupBy: ReportGrouping, more: Partial<GetPerformanceReportRequest> = {}) =>
    client.getPerformanceReport({
      groupBy, fromDate: '2026-05-01', toDate: '2026-05-07', timeZone: '', thenBy: 0, dateBasis: 0, filter: undefined, includeTest: false, reportingCurrency: '', ...more,
    });
  const byPartners = (...partnerIds: string[]) => ({ filter: { campaignIds: [], offerIds: [], creativeIds: [], partnerIds } });
  /** What a row says about conversions, per currency: [currency, approved, pending, reversed, view-through, conversions, reversed conversions]. */
  const money = (r: PerformanceRow) => ({
    key: r.key, key2: r.key2, conversions: r.conversions, reversedConversions: r.reversedConversions,
    revenue: r.revenue.map((t) => [t.revenue!.currencyCode, t.revenue!.amountMicros, t.pendingRevenue!.amountMicros, t.reversed!.amountMicros,
      t.viewThroughRevenue!.amountMicros, t.conversions, t.reversedConversions]),
  });
  /** The send- and tap-based figures: all zero and flagged, each revenue total's per-send and per-click ratios unset. */
  const activity = (r: PerformanceRow) => ({
    na: r.activityNotApplicable, figures: [r.sends, r.clicks, r.uniqueClicks, r.taps, r.ctrPpm, r.cvrPpm],
    ratios: r.revenue.map((t) => [t.revenuePerSend, t.epc]),
  });
  const NOT_APPLICABLE = (currencies: number) => ({ na: true, figures: ['0', '0', '0', '0', '0', '0'], ratios: Array(currencies).fill([undefined, undefined]) });

  beforeAll(async () => {
    db = await createTestDatabase('reporting', reportingMigrations, (url) => migrateReporting(url).then(() => undefined));
    prefix = testNatsPrefix();
    const grpcPort = await freePort();
    app = await startReporting(
      loadReportingConfig({
        DATABASE_URL: db.url, NATS_URL: testInfra().natsUrl, NATS_PREFIX: prefix, REPORTING_HOST: '127.0.0.1',
        REPORTING_GRPC_PORT: String(grpcPort), LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
      }),
      { clock },
    );
    client = createGrpcClient(ReportingServiceService, `127.0.0.1:${grpcPort}`);
    nc = await connect({ servers: testInfra().natsUrl });
    js = jetstream(nc);

    await publish(Events.MessageSent, { messageId: 'mA', contactId: 'c-mA', phoneMasked: '+1***0001', ...D1, sentAt: at('2026-05-01T10:00:00Z') });
    await publish(Events.MessageSent, { messageId: 'mB', contactId: 'c-mB', phoneMasked: '+1***0002', ...D2, sentAt: at('2026-05-02T10:00:00Z') });
    // Decisions and corrections back to back: the consumer applies them in batches, each rollup row once per batch.
    for (const a of [X1, V1, T1, Y1, Y2]) await publish(Events.ConversionAttributed, { attribution: a });
    for (const c of corrections) await publish(Events.AttributionCorrected, c);
    // The move again under a new event id: applied once, by its correction id.
    await publish(Events.AttributionCorrected, corrections[0]);
    // A sentinel after them on the same stream.
    await publish(Events.ConversionAttributed, { attribution: decision('p9', 'Z', 'mZ', D2, 'USD', 1, APPROVED, '2026-05-09T00:00:00Z') });
    await eventually(async () => {
      const r = await report(DATE, { fromDate: '2026-05-09', toDate: '2026-05-09' });
      return r.total?.sends === '0' && r.total.conversions === '1';
    }, 20_000);
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await nc?.close();
    await app?.close();
    await db?.drop();
    await deleteNatsPrefix(prefix);
  });

  it('groups conversions by partner exactly, through a reversal and a re-attribution, with sends and taps not applicable', async () => {
    const r = await report(PARTNER);
    expect(r.rows.map(money)).toEqual([
      // everflow: Y1 reversed (no longer a conversion), Y2 pending in EUR.
      { key: 'everflow', key2: '', conversions: '1', reversedConversions: '1', revenue: [['EUR', '0', '5000000', '0', '0', '1', '0'], ['USD', '0', '0', '4000000', '0', '0', '1']] },
      // tune: X1 (moved, still tune's) and the view-through V1; the test T1 is left out.
      { key: 'tune', key2: '', conversions: '2', reversedConversions: '0', revenue: [['USD', '12000000', '0', '0', '2000000', '2', '0']] },
    ]);
    expect(money(r.total!)).toEqual({
      key: '', key2: '', conversions: '3', reversedConversions: '1',
      revenue: [['EUR', '0', '5000000', '0', '0', '1', '0'], ['USD', '12000000', '0', '4000000', '2000000', '2', '1']],
    });
    expect(r.rows.map(activity)).toEqual([NOT_APPLICABLE(2), NOT_APPLICABLE(1)]);
    expect(activity(r.total!)).toEqual(NOT_APPLICABLE(2));

    // The same conversions without the partner: the figures agree, and sends and clicks are there again.
    const byCreative = await report(CREATIVE);
    expect(money(byCreative.total!)).toEqual(money(r.total!));
    expect([byCreative.total!.activityNotApplicable, byCreative.total!.sends]).toEqual([false, '2']);
    expect(byCreative.total!.revenue.every((t) => t.revenuePerSend && t.epc)).toBe(true);
  });

  it('moves the partner\'s numbers with a re-attribution: partner then creative', async () => {
    const r = await report(PARTNER, { thenBy: CREATIVE });
    expect(r.rows.map(money)).toEqual([
      { key: 'everflow', key2: 'cr-1', conversions: '0', reversedConversions: '1', revenue: [['USD', '0', '0', '4000000', '0', '0', '1']] },
      { key: 'everflow', key2: 'cr-2', conversions: '1', reversedConversions: '0', revenue: [['EUR', '0', '5000000', '0', '0', '1', '0']] },
      // X1 left cr-1 for cr-2: tune has no cr-1 row left.
      { key: 'tune', key2: 'cr-2', conversions: '2', reversedConversions: '0', revenue: [['USD', '12000000', '0', '0', '2000000', '2', '0']] },
    ]);
    expect(r.rows.every((row) => row.activityNotApplicable)).toBe(true);
  });

  it('filters by partner on any grouping, by either date basis, tests only when asked', async () => {
    const tune = await report(CREATIVE, byPartners('tune'));
    expect(tune.rows.map(money)).toEqual([
      { key: 'cr-2', key2: '', conversions: '2', reversedConversions: '0', revenue: [['USD', '12000000', '0', '0', '2000000', '2', '0']] },
    ]);
    expect(tune.rows.map(activity)).toEqual([NOT_APPLICABLE(1)]);
    // By date alone, filtered: not the per-bucket totals (they have no partner).
    const tuneByDate = await report(DATE, { ...byPartners('tune'), timeZone: 'America/New_York' });
    expect(tuneByDate.rows.map((x) => [x.key, x.conversions])).toEqual([['2026-05-05', '1'], ['2026-05-06', '1']]);
    // Send-date cohort: X1 and V1 on mB's send day.
    const cohort = await report(PARTNER, { dateBasis: DateBasis.DATE_BASIS_SEND, thenBy: DATE });
    expect(cohort.rows.map((x) => [x.key, x.key2, x.conversions, x.reversedConversions])).toEqual([
      ['everflow', '2026-05-01', '0', '1'], ['everflow', '2026-05-02', '1', '0'], ['tune', '2026-05-02', '2', '0'],
    ]);
    const withTests = await report(PARTNER, { ...byPartners('tune', 'everflow'), includeTest: true });
    expect(withTests.rows.map((x) => [x.key, x.conversions, x.revenue.map((t) => [t.revenue!.amountMicros, t.testConversions])])).toEqual([
      ['everflow', '1', [['0', '0'], ['0', '0']]], ['tune', '3', [['13000000', '1']]],
    ]);
    expect((await report(CREATIVE, byPartners('nobody'))).rows).toEqual([]);
  });

  it('refuses a bad partner id, and no partner grouping for cohort maturity', async () => {
    await expect(report(PARTNER, byPartners('a b'))).rejects.toMatchObject({ details: expect.stringMatching(/filter\.partner_ids/) });
    await expect(
      client.getCohortMaturity({ fromDate: '2026-05-01', toDate: '2026-05-07', timeZone: '', groupBy: PARTNER, includeTest: false }),
    ).rejects.toMatchObject({ details: expect.stringMatching(/group_by/) });
  });

  it('keeps the partner figures through replays and equal to a rebuild of the rollups from the facts', async () => {
    const reports = () => Promise.all([report(PARTNER, { thenBy: CREATIVE }), report(DATE, byPartners('everflow')), report(PARTNER, { dateBasis: DateBasis.DATE_BASIS_SEND })]);
    const before = await reports();
    for (const c of corrections) await publish(Events.AttributionCorrected, c);
    await publish(Events.ConversionAttributed, { attribution: Y1 });
    await publish(Events.ConversionAttributed, { attribution: decision('p9', 'Z2', 'mZ', D2, 'USD', 1, APPROVED, '2026-05-09T01:00:00Z') });
    await eventually(async () => (await report(DATE, { fromDate: '2026-05-09', toDate: '2026-05-09' })).total?.conversions === '2', 20_000);
    expect(await reports()).toEqual(before);
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    try {
      await pg.query('BEGIN');
      for (const sql of rebuildRollupsSql()) await pg.query(sql);
      await pg.query('COMMIT');
    } finally {
      await pg.end();
    }
    expect(await reports()).toEqual(before);
  });

  it('migrates populated rollups both ways: down sums the partners away, up brings the partner figures back exactly', async () => {
    const reports = () => Promise.all([report(PARTNER, { thenBy: CREATIVE }), report(CREATIVE, byPartners('tune')), report(CREATIVE, { thenBy: DATE })]);
    const before = await reports();
    const ds = await new DataSource({ type: 'postgres', url: db.url }).initialize();
    // The revenue rollups without their partner: what the rows were before the migration.
    const withoutPartner = () =>
      Promise.all(['revenue_rollup', 'cohort_revenue_rollup'].map((t) => ds.query(
        `SELECT grain, bucket, campaign_id, creative_id, offer_id, currency, sum(conversions)::text AS n, sum(reversed_conversions)::text AS r,
           sum(approved_micros)::text AS a, sum(pending_micros)::text AS p, sum(reversed_micros)::text AS x
         FROM "reporting".${t} GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(conversions) <> 0 OR sum(reversed_conversions) <> 0 ORDER BY 1, 2, 3, 4, 5, 6`,
      )));
    const migration = new ReportingPartnerRevenueRollups1765700000000();
    const qr = ds.createQueryRunner();
    try {
      const summed = await withoutPartner();
      expect(summed[0].length).toBeGreaterThan(0);
      await migration.down(qr);
      expect(await withoutPartner()).toEqual(summed);
      await migration.up(qr);
      expect(await withoutPartner()).toEqual(summed);
    } finally {
      await qr.release();
      await ds.destroy();
    }
    expect(await reports()).toEqual(before);
  });
});
