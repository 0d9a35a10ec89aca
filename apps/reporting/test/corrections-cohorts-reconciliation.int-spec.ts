import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { PromiseClient } from '@trackly/grpc';
import { ManualClock } from '@trackly/kernel';
import { EventType, Events } from '@trackly/messaging';
import { eventually } from '@trackly/testing';
import {
  DateBasis,
  GetPerformanceReportRequest,
  PerformanceRow,
  ReportGrouping,
  ReportingServiceService,
} from '@trackly/contracts/reporting/v1/reporting_service';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { Attribution, AttributionOutcome, AttributionType, UnattributedReason } from '@trackly/contracts/attribution/v1/attribution';
import { AttributionState, Conversion } from '@trackly/contracts/ingest/v1/ingest';
import { Click, ClickClass } from '@trackly/contracts/tracking/v1/tracking';
import { ReportingTestApp } from './reporting-test-app';
import { decision, Dims } from './attribution-fixtures';
import { rebuildRollupsSql } from '../src/projection/rollup-rebuild';

const at = (iso: string) => new Date(iso);
const { CONVERSION_STATUS_APPROVED: APPROVED, CONVERSION_STATUS_PENDING: PENDING, CONVERSION_STATUS_REVERSED: REVERSED, CONVERSION_STATUS_REJECTED: REJECTED } =
  ConversionStatus;
const { REPORT_GROUPING_CREATIVE: CREATIVE, REPORT_GROUPING_DATE: DATE, REPORT_GROUPING_OFFER: OFFER } = ReportGrouping;

const D1: Dims = { campaignId: 'camp-1', creativeId: 'cr-1', offerId: 'off-1' };
const D2: Dims = { campaignId: 'camp-2', creativeId: 'cr-2', offerId: 'off-2' };

function click(clickId: string, messageId: string, d: Dims, clickedAt: string, first: boolean, clickClass: ClickClass, messageSentAt?: string): Click {
  return {
    clickId, messageId, contactId: `c-${messageId}`, ...d, clickedAt: at(clickedAt), firstClickOnMessage: first, userAgent: 'ua',
    messageSentAt: messageSentAt ? at(messageSentAt) : undefined, clickClass, classificationReason: '', classifierVersion: 'v1',
  };
}

const unattributed = (a: Attribution, reason: UnattributedReason): Attribution => ({
  ...a, outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_UNATTRIBUTED, reason, type: AttributionType.ATTRIBUTION_TYPE_UNSPECIFIED,
  creditedClickId: '', messageId: '', contactId: '', campaignId: '', creativeId: '', offerId: '',
});

function received(partnerId: string, conversionId: string, currencyCode: string, micros: number, status: ConversionStatus, occurredAt: string): Conversion {
  return {
    id: randomUUID(), partnerId, conversionId, clickId: 'k', payout: { currencyCode, amountMicros: String(micros) }, status,
    occurredAt: at(occurredAt), receivedAt: at(occurredAt), attributionState: AttributionState.ATTRIBUTION_STATE_PENDING,
    attributionReason: '', creditedMessageId: '', messageId: '',
  };
}

// X1: credited to mA, then adjusted twice, moved to mB by re-attribution, then reversed.
const X1 = decision('p1', 'X1', 'mA', D1, 'USD', 10_000_000, APPROVED, '2026-05-05T12:00:00Z');
const X1_PENDING = { ...X1, status: PENDING };
const X1_RAISED = { ...X1, payout: { currencyCode: 'USD', amountMicros: '12500000' } };
const X1_MOVED = { ...decision('p1', 'X1', 'mB', D2, 'USD', 12_500_000, APPROVED, '2026-05-05T12:00:00Z') };
const X1_REVERSED = { ...X1_MOVED, status: REVERSED };
// X2: credited before its message's send arrives (cohort filled in later).
const X2 = decision('p2', 'X2', 'mC', D1, 'EUR', 5_000_000, APPROVED, '2026-05-06T08:00:00Z');
// X3: credited, then rejected by the partner: all its revenue goes.
const X3 = decision('p1', 'X3', 'mA', D1, 'USD', 7_000_000, APPROVED, '2026-05-05T13:00:00Z');
// U1: unknown click id first, credited to mA once the click is known.
const U1_CREDITED = decision('p1', 'U1', 'mA', D1, 'USD', 3_000_000, APPROVED, '2026-05-05T15:00:00Z');
const U1 = unattributed(U1_CREDITED, UnattributedReason.UNATTRIBUTED_REASON_UNKNOWN_CLICK_ID);

const corrections: { previous: Attribution; current: Attribution; cause: string; correctionId: string }[] = [
  { previous: X1, current: X1_PENDING, cause: 'adjustment', correctionId: 'corr-1' },
  { previous: X1_PENDING, current: X1_RAISED, cause: 'adjustment', correctionId: 'corr-2' },
  { previous: X1_RAISED, current: X1_MOVED, cause: 'reattribution', correctionId: 'corr-3' },
  { previous: X1_MOVED, current: X1_REVERSED, cause: 'adjustment', correctionId: 'corr-4' },
  { previous: X3, current: { ...X3, status: REJECTED }, cause: 'adjustment', correctionId: 'corr-5' },
  { previous: U1, current: U1_CREDITED, cause: 'reattribution', correctionId: 'corr-6' },
];

const usd = (m: number) => ({ currencyCode: 'USD', amountMicros: String(m) });
const eur = (m: number) => ({ currencyCode: 'EUR', amountMicros: String(m) });

describe('reporting: corrections, click classes, cohorts, two groupings, reconciliation', () => {
  const clock = new ManualClock(at('2026-05-10T00:00:00Z'));
  let t: ReportingTestApp;
  let client: PromiseClient<typeof ReportingServiceService>;

  const publish = <T>(type: EventType<T>, payload: T, msgID?: string) => t.publish(type, payload, msgID);
  const report = (groupBy: ReportGrouping, more: Partial<GetPerformanceReportRequest> = {}) =>
    client.getPerformanceReport({ groupBy, fromDate: '2026-05-01', toDate: '2026-05-07', timeZone: '', thenBy: 0, dateBasis: 0, filter: undefined, includeTest: false, reportingCurrency: '', ...more });
  const pick = (r: PerformanceRow) => ({
    key: r.key, key2: r.key2, sends: r.sends, clicks: r.clicks, uniqueClicks: r.uniqueClicks, taps: r.taps, conversions: r.conversions,
    reversedConversions: r.reversedConversions,
    revenue: r.revenue.map((x) => [x.revenue!.currencyCode, x.revenue!.amountMicros, x.pendingRevenue!.amountMicros, x.reversed!.amountMicros]),
  });
  const counts = (sends: number, clicks: number, conversions: number, reversed: number, taps = clicks) => ({
    sends: String(sends), clicks: String(clicks), uniqueClicks: String(clicks), taps: String(taps), conversions: String(conversions), reversedConversions: String(reversed),
  });

  beforeAll(async () => {
    t = await ReportingTestApp.start({ clock });
    client = t.client;

    await publish(Events.CreativeUpserted, { creative: { creativeId: 'cr-1', name: 'Summer Sale 20%', updatedAt: at('2026-04-01T00:00:00Z') } });
    await publish(Events.MessageSent, { messageId: 'mA', contactId: 'c-mA', phoneMasked: '+1***0001', ...D1, sentAt: at('2026-05-01T10:00:00Z') });
    // A preview fetch and a scanner before the person's tap: stored, never counted.
    await publish(Events.ClickRecorded, { click: click('k-prev', 'mA', D1, '2026-05-01T10:00:30Z', false, ClickClass.CLICK_CLASS_PREVIEW) });
    await publish(Events.ClickRecorded, { click: click('k-bot', 'mA', D1, '2026-05-01T10:01:00Z', false, ClickClass.CLICK_CLASS_BOT) });
    await publish(Events.ClickRecorded, { click: click('k-mA', 'mA', D1, '2026-05-01T10:05:00Z', true, ClickClass.CLICK_CLASS_HUMAN) });
    // Clicks ahead of their sends: kB knows its send time, kC (unclassified, an older event) does not.
    await publish(Events.ClickRecorded, { click: click('k-mB', 'mB', D2, '2026-05-03T09:00:00Z', true, ClickClass.CLICK_CLASS_HUMAN, '2026-05-02T10:00:00Z') });
    await publish(Events.ClickRecorded, { click: click('k-mC', 'mC', D1, '2026-05-04T12:00:00Z', true, ClickClass.CLICK_CLASS_UNSPECIFIED) });

    for (const a of [X1, X2, X3]) await publish(Events.ConversionAttributed, { attribution: a });
    await publish(Events.ConversionUnattributed, { attribution: U1 });
    await eventually(async () => (await report(CREATIVE)).total?.conversions === '3', 20_000);

    await publish(Events.MessageSent, { messageId: 'mB', contactId: 'c-mB', phoneMasked: '+1***0002', ...D2, sentAt: at('2026-05-02T10:00:00Z') });
    await publish(Events.MessageSent, { messageId: 'mC', contactId: 'c-mC', phoneMasked: '+1***0003', ...D1, sentAt: at('2026-05-01T23:00:00Z') });
    for (const c of corrections) await publish(Events.AttributionCorrected, c);
    // The first correction again under a new event id: applied once, by its correction id.
    await publish(Events.AttributionCorrected, corrections[0]);

    for (const c of [
      received('p1', 'X1', 'USD', 10_000_000, APPROVED, '2026-05-05T12:00:00Z'),
      received('p1', 'X3', 'USD', 7_000_000, APPROVED, '2026-05-05T13:00:00Z'),
      received('p1', 'U1', 'USD', 3_000_000, APPROVED, '2026-05-05T15:00:00Z'),
      received('p1', 'P1', 'USD', 2_000_000, PENDING, '2026-05-05T16:00:00Z'),
      received('p2', 'X2', 'EUR', 5_000_000, APPROVED, '2026-05-06T08:00:00Z'),
    ]) {
      await publish(Events.ConversionReceived, { conversion: c });
    }
    const adjusted = {
      conversion: received('p1', 'X1', 'USD', 12_500_000, REVERSED, '2026-05-05T12:00:00Z'),
      previousStatus: APPROVED, previousPayout: usd(10_000_000), adjustmentId: 'adj-1', cause: 'reversal',
    };
    await publish(Events.ConversionAdjusted, adjusted);
    await publish(Events.ConversionAdjusted, adjusted);
    // Sentinels on all three streams.
    await publish(Events.MessageSent, { messageId: 'mZ', contactId: 'cZ', phoneMasked: '', ...D2, sentAt: at('2026-05-09T00:00:00Z') });
    await publish(Events.ConversionAttributed, { attribution: decision('p9', 'Z', 'mZ', D2, 'USD', 1, APPROVED, '2026-05-09T00:00:00Z') });
    await publish(Events.ConversionReceived, { conversion: received('p9', 'Z', 'USD', 1, APPROVED, '2026-05-09T00:00:00Z') });
    await eventually(async () => {
      const r = await report(DATE, { fromDate: '2026-05-09', toDate: '2026-05-09' });
      const rec = await client.getReconciliationReport({ fromDate: '2026-05-09', toDate: '2026-05-09', timeZone: '', partnerId: 'p9', includeTest: false });
      return r.total?.sends === '1' && r.total.conversions === '1' && rec.rows.length === 1;
    }, 20_000);
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it('nets corrections out exactly: moved, adjusted, reversed, rejected and late-credited conversions', async () => {
    const r = await report(CREATIVE);
    expect(r.rows.map(pick)).toEqual([
      { key: 'cr-1', key2: '', ...counts(2, 2, 2, 0), revenue: [['EUR', '5000000', '0', '0'], ['USD', '3000000', '0', '0']] },
      { key: 'cr-2', key2: '', ...counts(1, 1, 0, 1), revenue: [['USD', '0', '0', '12500000']] },
    ]);
    expect(pick(r.total!)).toEqual({ key: '', key2: '', ...counts(3, 3, 2, 1), revenue: [['EUR', '5000000', '0', '0'], ['USD', '3000000', '0', '12500000']] });
    // The message detail follows the re-attribution.
    expect((await client.getMessageReport({ messageId: 'mA' })).conversions.map((c) => c.conversionId)).toEqual(['U1']);
    expect((await client.getMessageReport({ messageId: 'mB' })).conversions.map((c) => [c.conversionId, c.status])).toEqual([['X1', 'reversed']]);
  });

  it('shows previews and bots in no count, message detail or journey', async () => {
    expect(await client.getMessageReport({ messageId: 'mA' })).toMatchObject({ clickCount: '1', firstClickedAt: at('2026-05-01T10:05:00Z') });
    expect((await client.getContactJourney({ contactId: 'c-mA' })).clicks).toBe('1');
    const pg = new Client({ connectionString: t.db.url });
    await pg.connect();
    try {
      const { rows } = await pg.query(`SELECT click_id, click_class FROM "reporting".clicks WHERE message_id = 'mA' ORDER BY click_id`);
      expect(rows).toEqual([
        { click_id: 'k-bot', click_class: 'BOT' }, { click_id: 'k-mA', click_class: 'HUMAN' }, { click_id: 'k-prev', click_class: 'PREVIEW' },
      ]);
    } finally {
      await pg.end();
    }
  });

  it('groups by two dimensions: creative then local date, by conversion date', async () => {
    const r = await report(CREATIVE, { thenBy: DATE });
    expect(r.thenBy).toBe(DATE);
    expect(r.rows.map(pick)).toEqual([
      { key: 'cr-1', key2: '2026-05-01', ...counts(2, 1, 0, 0), revenue: [] },
      { key: 'cr-1', key2: '2026-05-04', ...counts(0, 1, 0, 0), revenue: [] },
      { key: 'cr-1', key2: '2026-05-05', ...counts(0, 0, 1, 0), revenue: [['USD', '3000000', '0', '0']] },
      { key: 'cr-1', key2: '2026-05-06', ...counts(0, 0, 1, 0), revenue: [['EUR', '5000000', '0', '0']] },
      { key: 'cr-2', key2: '2026-05-02', ...counts(1, 0, 0, 0), revenue: [] },
      { key: 'cr-2', key2: '2026-05-03', ...counts(0, 1, 0, 0), revenue: [] },
      { key: 'cr-2', key2: '2026-05-05', ...counts(0, 0, 0, 1), revenue: [['USD', '0', '0', '12500000']] },
    ]);
    expect(r.rows[0]).toMatchObject({ name: 'Summer Sale 20%', name2: '' });
    const byOfferDate = await report(DATE, { thenBy: OFFER });
    expect(byOfferDate.rows.map((x) => `${x.key}/${x.key2}`)).toEqual([
      '2026-05-01/off-1', '2026-05-02/off-2', '2026-05-03/off-2', '2026-05-04/off-1', '2026-05-05/off-1', '2026-05-05/off-2', '2026-05-06/off-1',
    ]);
  });

  it('puts clicks and conversions on their send date in the cohort basis, in the requested zone', async () => {
    const utc = await report(CREATIVE, { thenBy: DATE, dateBasis: DateBasis.DATE_BASIS_SEND });
    expect(utc.dateBasis).toBe(DateBasis.DATE_BASIS_SEND);
    expect(utc.rows.map(pick)).toEqual([
      { key: 'cr-1', key2: '2026-05-01', ...counts(2, 2, 2, 0), revenue: [['EUR', '5000000', '0', '0'], ['USD', '3000000', '0', '0']] },
      { key: 'cr-2', key2: '2026-05-02', ...counts(1, 1, 0, 1), revenue: [['USD', '0', '0', '12500000']] },
    ]);
    // Tokyo is UTC+9: mC, sent 23:00 UTC on 1 May, is a 2 May send there, with its click and conversion.
    const tokyo = await report(CREATIVE, { thenBy: DATE, dateBasis: DateBasis.DATE_BASIS_SEND, timeZone: 'Asia/Tokyo' });
    expect(tokyo.rows.map(pick).filter((x) => x.key === 'cr-1')).toEqual([
      { key: 'cr-1', key2: '2026-05-01', ...counts(1, 1, 1, 0), revenue: [['USD', '3000000', '0', '0']] },
      { key: 'cr-1', key2: '2026-05-02', ...counts(1, 1, 1, 0), revenue: [['EUR', '5000000', '0', '0']] },
    ]);
  });

  it('matures a send cohort: revenue per send within 1, 7, 30 and 90 days of each send', async () => {
    // On May 10 the cohort of May 1-7 (ending May 8, 00:00 UTC) is 2 days old: day 1 has a value, 7, 30 and 90 are immature.
    const young = await client.getCohortMaturity({ fromDate: '2026-05-01', toDate: '2026-05-07', timeZone: 'UTC', groupBy: CREATIVE, includeTest: false });
    expect(young.total!.points.map((p) => [p.days, p.immature, p.revenue.length > 0, p.maturesAt?.toISOString()])).toEqual([
      [1, false, true, '2026-05-09T00:00:00.000Z'], [7, true, false, '2026-05-15T00:00:00.000Z'],
      [30, true, false, '2026-06-07T00:00:00.000Z'], [90, true, false, '2026-08-06T00:00:00.000Z'],
    ]);
    clock.set(at('2026-08-06T00:00:00Z'));
    const r = await client.getCohortMaturity({ fromDate: '2026-05-01', toDate: '2026-05-07', timeZone: 'UTC', groupBy: CREATIVE, includeTest: false });
    clock.set(at('2026-05-10T00:00:00Z'));
    const show = (row: { key: string; sends: string; points: { days: number; revenue: { currencyCode: string; amountMicros: string }[]; revenuePerSend: { amountMicros: string }[] }[] }) =>
      [row.key, row.sends, row.points.map((p) => `${p.days}:${p.revenue.map((m, i) => `${m.currencyCode} ${m.amountMicros}/${p.revenuePerSend[i].amountMicros}`).join(' ')}`)];
    // cr-1: U1 ($3, 4.2 days after mA's send) and X2 (EUR 5, 4.4 days after mC's); cr-2's only conversion was reversed.
    expect(r.rows.map(show)).toEqual([
      ['cr-1', '2', ['1:EUR 0/0 USD 0/0', '7:EUR 5000000/2500000 USD 3000000/1500000', '30:EUR 5000000/2500000 USD 3000000/1500000', '90:EUR 5000000/2500000 USD 3000000/1500000']],
      ['cr-2', '1', ['1:', '7:', '30:', '90:']],
    ]);
    expect(r.rows[0].name).toBe('Summer Sale 20%');
    expect(show(r.total!)[1]).toBe('3');
    await expect(client.getCohortMaturity({ fromDate: '2026-05-01', toDate: '2026-05-07', timeZone: '', groupBy: DATE, includeTest: false })).rejects.toMatchObject({
      details: expect.stringMatching(/group_by/),
    });
  });

  it('refuses the same dimension twice and an unknown basis', async () => {
    await expect(report(CREATIVE, { thenBy: CREATIVE })).rejects.toMatchObject({ details: expect.stringMatching(/then_by must differ/) });
    await expect(report(CREATIVE, { dateBasis: 7 as DateBasis })).rejects.toMatchObject({ details: expect.stringMatching(/date_basis/) });
  });

  it('reconciles per partner and day: received vs credited vs reversed vs unattributed by reason vs pending', async () => {
    const r = await client.getReconciliationReport({ fromDate: '2026-05-01', toDate: '2026-05-07', timeZone: 'UTC', partnerId: '', includeTest: false });
    const n = (count: number, m: number, cur = usd) => ({ count: String(count), amount: cur(m) });
    expect(r.rows).toEqual([
      {
        partnerId: 'p1', date: '2026-05-05', currencyCode: 'USD',
        received: n(4, 24_500_000), receivedPendingStatus: n(1, 2_000_000), credited: n(1, 3_000_000), reversed: n(1, 12_500_000),
        unattributed: [{ reason: 'REJECTED', total: n(1, 7_000_000) }], pending: n(1, 2_000_000),
        receivedDirect: n(0, 0), creditedOverCap: n(0, 0), held: n(0, 0), test: n(0, 0),
      },
      {
        partnerId: 'p2', date: '2026-05-06', currencyCode: 'EUR',
        received: n(1, 5_000_000, eur), receivedPendingStatus: n(0, 0, eur), credited: n(1, 5_000_000, eur), reversed: n(0, 0, eur),
        unattributed: [], pending: n(0, 0, eur),
        receivedDirect: n(0, 0, eur), creditedOverCap: n(0, 0, eur), held: n(0, 0, eur), test: n(0, 0, eur),
      },
    ]);
    const p2 = await client.getReconciliationReport({ fromDate: '2026-05-01', toDate: '2026-05-07', timeZone: 'UTC', partnerId: 'p2', includeTest: false });
    expect(p2.rows.map((x) => x.partnerId)).toEqual(['p2']);
  });

  it('keeps every figure when the corrections are replayed under new event ids, and matches a rebuild from the facts', async () => {
    // By date alone reads the per-bucket total rollups: they must agree with the per-creative rows summed, and with a rebuild.
    const byDate = () =>
      Promise.all([
        report(DATE, { timeZone: 'Asia/Kathmandu' }),
        report(DATE, { timeZone: 'America/New_York', dateBasis: DateBasis.DATE_BASIS_SEND }),
      ]);
    const summedByDate = async () =>
      Promise.all(
        [
          report(CREATIVE, { thenBy: DATE, timeZone: 'Asia/Kathmandu' }),
          report(CREATIVE, { thenBy: DATE, timeZone: 'America/New_York', dateBasis: DateBasis.DATE_BASIS_SEND }),
        ].map(async (r) => {
          const days = new Map<string, bigint[]>();
          for (const row of (await r).rows) {
            const d = days.get(row.key2) ?? [0n, 0n, 0n, 0n];
            [row.sends, row.clicks, row.conversions, row.reversedConversions].forEach((v, i) => (d[i] += BigInt(v)));
            days.set(row.key2, d);
          }
          return [...days].filter(([, d]) => d.some((v) => v !== 0n)).sort(([a], [b]) => a.localeCompare(b));
        }),
      );
    const totalsOf = (r: { rows: PerformanceRow[] }) =>
      r.rows.map((x) => [x.key, [x.sends, x.clicks, x.conversions, x.reversedConversions].map(BigInt)] as const);
    const before = await Promise.all([report(CREATIVE, { thenBy: DATE }), report(OFFER, { dateBasis: DateBasis.DATE_BASIS_SEND }), ...(await byDate())]);
    for (const c of corrections) await publish(Events.AttributionCorrected, c);
    await publish(Events.ConversionAttributed, { attribution: X1 });
    await publish(Events.ConversionAttributed, { attribution: decision('p9', 'Z2', 'mZ', D2, 'USD', 1, APPROVED, '2026-05-09T01:00:00Z') });
    await eventually(async () => (await report(DATE, { fromDate: '2026-05-09', toDate: '2026-05-09' })).total?.conversions === '2', 20_000);
    const after = await Promise.all([report(CREATIVE, { thenBy: DATE }), report(OFFER, { dateBasis: DateBasis.DATE_BASIS_SEND }), ...(await byDate())]);
    expect(after).toEqual(before);
    const summed = await summedByDate();
    expect(summed.map((days) => days.length > 0)).toEqual([true, true]);
    expect((await byDate()).map(totalsOf)).toEqual(summed);

    const pg = new Client({ connectionString: t.db.url });
    await pg.connect();
    try {
      await pg.query('BEGIN');
      for (const sql of rebuildRollupsSql()) await pg.query(sql);
      await pg.query('COMMIT');
    } finally {
      await pg.end();
    }
    expect(
      await Promise.all([report(CREATIVE, { thenBy: DATE }), report(OFFER, { dateBasis: DateBasis.DATE_BASIS_SEND }), ...(await byDate())]),
    ).toEqual(before);
  });
});
