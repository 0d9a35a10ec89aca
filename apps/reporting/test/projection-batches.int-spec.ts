import { DataSource } from 'typeorm';
import { createTestDatabase, TestDatabase } from '@trackly/testing';
import type { AttributedFact, ClickFact, CorrectionFact, CreditedConversionFact, MessageFact } from '../src/domain/facts';
import { reportingMigrations } from '../src/migrations';
import { migrateReporting } from '../src/reporting.app';
import { ProjectionService } from '../src/projection/projection.service';
import { rebuildRollupsSql } from '../src/projection/rollup-rebuild';
import { ReportsService } from '../src/reports/reports.service';
import { directReceivedFact } from '../src/domain/facts';
import { ReportGrouping } from '@trackly/contracts/reporting/v1/reporting_service';

/**
 * The projection's batch edge cases on real Postgres, one transaction per batch as the consumer runs them: duplicates
 * inside one batch, a change already applied, a correction chain inside one batch, an older tap arriving after a
 * later one. After every batch the rollups equal a rebuild from the facts.
 */
const D = { campaignId: 'camp-1', creativeId: 'cr-1', offerId: 'off-1' };
const at = (iso: string) => new Date(iso);
const TABLES = [
  'activity_rollup', 'cohort_activity_rollup', 'revenue_rollup', 'cohort_revenue_rollup',
  'activity_total_rollup', 'cohort_activity_total_rollup', 'revenue_total_rollup', 'cohort_revenue_total_rollup',
];

const message = (messageId: string, sentAt: string): MessageFact => ({ ...D, messageId, contactId: 'c-' + messageId, phoneMasked: '+1***0000', sentAt: at(sentAt) });
const click = (clickId: string, messageId: string, clickedAt: string, clickClass = 'HUMAN'): ClickFact => ({
  ...D, clickId, messageId, contactId: 'c-' + messageId, clickedAt: at(clickedAt), firstClickOnMessage: false, clickClass, messageSentAt: undefined,
});
const credited = (conversionId: string, messageId: string, micros: bigint, status: CreditedConversionFact['status'], occurredAt: string): AttributedFact => ({
  kind: 'credited',
  fact: {
    ...D, partnerId: 'p1', conversionId, messageId, clickId: 'k-' + messageId, contactId: 'c-' + messageId, payout: { currency: 'USD', micros },
    status, occurredAt: at(occurredAt), type: 'CLICK_THROUGH', test: false, source: 'INGEST', overCap: false, holdUntil: undefined,
  },
});
const correction = (correctionId: string, next: AttributedFact): CorrectionFact => ({
  correctionId, cause: 'test', partnerId: next.fact.partnerId, conversionId: next.fact.conversionId, next,
});

describe('reporting projection: batches (real Postgres)', () => {
  let db: TestDatabase;
  let ds: DataSource;
  const projection = new ProjectionService();

  const batch = (fn: (m: DataSource['manager']) => Promise<void>) => ds.transaction((m) => fn(m));
  const rollups = async () => {
    const out: Record<string, unknown[]> = {};
    for (const t of TABLES) {
      const rows: Record<string, unknown>[] = await ds.query(`SELECT * FROM "reporting".${t}`);
      // A row whose measures netted to zero is the same as no row.
      out[t] = rows
        .filter((r) => Object.entries(r).some(([k, v]) => !['grain', 'bucket', 'campaign_id', 'creative_id', 'offer_id', 'partner_id', 'currency'].includes(k) && String(v) !== '0'))
        .map((r) => JSON.stringify(r))
        .sort();
    }
    return out;
  };
  const expectRebuildEqual = async () => {
    const live = await rollups();
    await ds.transaction(async (m) => {
      for (const sql of rebuildRollupsSql()) await m.query(sql);
    });
    expect(await rollups()).toEqual(live);
  };
  const sums = async (table: string, cols: string) =>
    (await ds.query(`SELECT ${cols} FROM "reporting".${table} WHERE grain = 1440 ORDER BY 1`)) as Record<string, string>[];

  beforeAll(async () => {
    db = await createTestDatabase('reporting', reportingMigrations, (url) => migrateReporting(url).then(() => undefined));
    ds = new DataSource({ type: 'postgres', url: db.url });
    await ds.initialize();
  }, 60_000);

  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  it('counts a click delivered twice in one batch once, and moves the engagement to an older tap of a later batch', async () => {
    await batch((m) => projection.recordMessages(m, [message('m1', '2026-05-01T10:00:00Z'), message('m1', '2026-05-01T10:00:00Z')]));
    await batch((m) => projection.recordClicks(m, [click('k3', 'm1', '2026-05-02T00:30:00Z'), click('k3', 'm1', '2026-05-02T00:30:00Z'), click('p1', 'm1', '2026-05-01T10:01:00Z', 'PREVIEW')]));
    await batch((m) => projection.recordClicks(m, [click('k2', 'm1', '2026-05-01T23:00:00Z'), click('k1', 'm1', '2026-05-01T22:00:00Z')]));
    expect(await sums('activity_rollup', `to_char(bucket, 'MM-DD') AS day, sends::text, clicks::text AS taps, unique_clicks::text AS engagements `)).toEqual([
      { day: '05-01', sends: '1', taps: '2', engagements: '1' },
      { day: '05-02', sends: '0', taps: '1', engagements: '0' },
    ]);
    await expectRebuildEqual();
  });

  it('credits a decision delivered twice in one batch once, and nets a correction chain inside one batch to its last step', async () => {
    await batch((m) =>
      projection.recordDecisions(m, [
        credited('A', 'm1', 10_000_000n, 'approved', '2026-05-03T10:00:00Z'),
        credited('A', 'm1', 10_000_000n, 'approved', '2026-05-03T10:00:00Z'),
        credited('B', 'm1', 5_000_000n, 'pending', '2026-05-03T11:00:00Z'),
      ]),
    );
    expect(await sums('revenue_total_rollup', `conversions::text, approved_micros::text, pending_micros::text`)).toEqual([
      { conversions: '2', approved_micros: '10000000', pending_micros: '5000000' },
    ]);
    const c1 = correction('c1', credited('A', 'm1', 10_000_000n, 'reversed', '2026-05-03T10:00:00Z'));
    const c2 = correction('c2', credited('A', 'm1', 7_000_000n, 'approved', '2026-05-04T10:00:00Z'));
    await batch((m) => projection.applyCorrections(m, [c1, c2, c1]));
    // Delivered again later (already applied): nothing moves; a decision for A is not a first decision any more.
    await batch((m) => projection.applyCorrections(m, [c1]));
    await batch((m) => projection.recordDecisions(m, [credited('A', 'm1', 99_000_000n, 'approved', '2026-05-03T10:00:00Z')]));
    expect(await sums('revenue_total_rollup', `to_char(bucket, 'MM-DD') AS day, conversions::text, reversed_conversions::text, approved_micros::text `)).toEqual([
      { day: '05-03', conversions: '1', reversed_conversions: '0', approved_micros: '0' },
      { day: '05-04', conversions: '1', reversed_conversions: '0', approved_micros: '7000000' },
    ]);
    await expectRebuildEqual();
  });

  it('applies the last fresh adjustment of a batch to the received side, once per adjustment id', async () => {
    const received = (micros: bigint, status: string) => ({
      partnerId: 'p1', conversionId: 'R1', payout: { currency: 'USD', micros }, status, occurredAt: at('2026-05-05T10:00:00Z'), receivedAt: at('2026-05-05T10:00:01Z'),
      test: false, source: 'INGEST',
    });
    await batch((m) => projection.recordReceivedConversions(m, [received(1_000_000n, 'pending'), received(1_000_000n, 'pending')]));
    await batch((m) =>
      projection.recordAdjustedConversions(m, [
        { adjustmentId: 'a1', cause: 'status', fact: received(1_000_000n, 'approved') },
        { adjustmentId: 'a2', cause: 'payout', fact: received(3_000_000n, 'approved') },
      ]),
    );
    await batch((m) => projection.recordAdjustedConversions(m, [{ adjustmentId: 'a1', cause: 'status', fact: received(1_000_000n, 'approved') }]));
    expect(await ds.query(`SELECT payout_micros::text AS micros, status FROM "reporting".received_conversions`)).toEqual([{ micros: '3000000', status: 'approved' }]);
  });

  it('leaves test conversions out unless asked, shows view-through, capped and held amounts apart, and books a direct call as received', async () => {
    const reports = new ReportsService(ds);
    const with_ = (d: AttributedFact, more: Partial<CreditedConversionFact>): AttributedFact => ({ kind: 'credited', fact: { ...(d.fact as CreditedConversionFact), ...more } });
    const day = '2026-06-10T12:00:00Z';
    const decisions = [
      with_(credited('T1', 'm1', 50_000_000n, 'approved', day), { test: true }),
      with_(credited('V1', 'm1', 4_000_000n, 'approved', day), { type: 'VIEW_THROUGH' }),
      with_(credited('C1', 'm1', 3_000_000n, 'pending', day), { overCap: true }),
      with_(credited('H1', 'm1', 2_000_000n, 'pending', day), { holdUntil: new Date(Date.now() + 86_400_000) }),
      with_(credited('D1', 'm1', 2_000_000n, 'approved', day), { source: 'DIRECT', type: 'DIRECT' }),
    ];
    await batch(async (m) => {
      await projection.recordDecisions(m, decisions);
      await projection.recordReceivedConversions(m, decisions.flatMap((d) => directReceivedFact(d, at(day)) ?? []));
    });
    const q = { groupBy: ReportGrouping.REPORT_GROUPING_CREATIVE, fromDate: '2026-06-10', toDate: '2026-06-10', timeZone: 'UTC' };
    const plain = (await reports.performance(q)).total!;
    expect(plain.conversions).toBe('4');
    expect(plain.revenue[0]).toMatchObject({
      revenue: { amountMicros: '6000000' }, clickRevenue: { amountMicros: '2000000' }, viewThroughRevenue: { amountMicros: '4000000' },
      viewThroughConversions: '1', pendingRevenue: { amountMicros: '5000000' }, cappedRevenue: { amountMicros: '3000000' }, cappedConversions: '1',
      heldRevenue: { amountMicros: '2000000' }, heldConversions: '1', testRevenue: { amountMicros: '0' }, testConversions: '0',
    });
    const withTests = (await reports.performance({ ...q, includeTest: true })).total!;
    expect(withTests.conversions).toBe('5');
    expect(withTests.revenue[0]).toMatchObject({ revenue: { amountMicros: '56000000' }, testRevenue: { amountMicros: '50000000' }, testConversions: '1' });
    // The direct call is received (and credited) in the books; nothing is pending.
    const books = await reports.reconciliation({ fromDate: '2026-06-10', toDate: '2026-06-10', timeZone: 'UTC', partnerId: '' });
    expect(books.rows).toHaveLength(1);
    expect(books.rows[0]).toMatchObject({
      received: { count: '1', amount: { amountMicros: '2000000' } }, receivedDirect: { count: '1' }, credited: { count: '4', amount: { amountMicros: '11000000' } },
      creditedOverCap: { count: '1', amount: { amountMicros: '3000000' } }, held: { count: '1', amount: { amountMicros: '2000000' } },
      pending: { count: '0' }, test: { count: '0' },
    });
    const booksWithTests = await reports.reconciliation({ fromDate: '2026-06-10', toDate: '2026-06-10', timeZone: 'UTC', partnerId: '', includeTest: true });
    expect(booksWithTests.rows[0]).toMatchObject({ credited: { count: '5' } });
    await expectRebuildEqual();
  });

  it('joins taps and a credited conversion stored before their send to its cohort in the send batch, the engagement once', async () => {
    // Taps without their send's time (older events) and a conversion credited before the send: cohort_at waits for it.
    await batch((m) => projection.recordClicks(m, [click('e2', 'm9', '2026-07-01T10:20:00Z'), click('e1', 'm9', '2026-07-01T10:10:00Z'), click('ep', 'm9', '2026-07-01T10:00:30Z', 'PREVIEW')]));
    await batch((m) => projection.recordDecisions(m, [credited('E1', 'm9', 4_000_000n, 'approved', '2026-07-02T09:00:00Z')]));
    expect(await sums('cohort_activity_rollup', `to_char(bucket, 'MM-DD') AS day, clicks::text AS taps`)).not.toContainEqual(expect.objectContaining({ day: '06-30' }));
    // The send (twice in the batch, with another message) joins them: two taps, one engagement, the revenue, on its date.
    await batch((m) => projection.recordMessages(m, [message('m9', '2026-06-30T22:00:00Z'), message('m10', '2026-06-30T23:00:00Z'), message('m9', '2026-06-30T22:00:00Z')]));
    const cohort = (await sums('cohort_activity_rollup', `to_char(bucket, 'MM-DD') AS day, clicks::text AS taps, unique_clicks::text AS engagements`)).filter((r) => r.day === '06-30');
    expect(cohort).toEqual([{ day: '06-30', taps: '2', engagements: '1' }]);
    const revenue = (await sums('cohort_revenue_rollup', `to_char(bucket, 'MM-DD') AS day, conversions::text, approved_micros::text`)).filter((r) => r.day === '06-30');
    expect(revenue).toEqual([{ day: '06-30', conversions: '1', approved_micros: '4000000' }]);
    expect((await sums('activity_rollup', `to_char(bucket, 'MM-DD') AS day, sends::text`)).filter((r) => r.day === '06-30')).toEqual([{ day: '06-30', sends: '2' }]);
    // Delivered again: nothing moves.
    await batch((m) => projection.recordMessages(m, [message('m9', '2026-06-30T22:00:00Z')]));
    expect((await sums('cohort_activity_rollup', `to_char(bucket, 'MM-DD') AS day, clicks::text AS taps, unique_clicks::text AS engagements`)).filter((r) => r.day === '06-30')).toEqual(cohort);
    await expectRebuildEqual();
  });
});
