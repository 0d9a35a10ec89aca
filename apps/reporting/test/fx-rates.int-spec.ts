import { randomUUID } from 'node:crypto';
import { PromiseClient } from '@trackly/grpc';
import { ManualClock } from '@trackly/kernel';
import { EventType, Events } from '@trackly/messaging';
import { eventually } from '@trackly/testing';
import { ReportGrouping, ReportingServiceService } from '@trackly/contracts/reporting/v1/reporting_service';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { Attribution, AttributionOutcome, AttributionType, UnattributedReason } from '@trackly/contracts/attribution/v1/attribution';
import { ReportingTestApp } from './reporting-test-app';

const at = (iso: string) => new Date(iso);
const money = (currencyCode: string, micros: number) => ({ currencyCode, amountMicros: String(micros) });
const { CONVERSION_STATUS_APPROVED: APPROVED, CONVERSION_STATUS_PENDING: PENDING, CONVERSION_STATUS_REVERSED: REVERSED } = ConversionStatus;

function credited(conversionId: string, creativeId: string, currencyCode: string, amountMicros: number, status: ConversionStatus, occurredAt: string): Attribution {
  return {
    partnerId: 'p1', conversionId, conversionRef: randomUUID(), ruleVersion: 'first-click/1',
    test: false, source: 0, payoutDefaulted: false, overCap: false, holdUntil: undefined,
    outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED, reason: UnattributedReason.UNATTRIBUTED_REASON_UNSPECIFIED,
    type: AttributionType.ATTRIBUTION_TYPE_CLICK_THROUGH, reportedClickId: `k-${conversionId}`, creditedClickId: `k-${conversionId}`,
    messageId: `m-${conversionId}`, contactId: 'c1', campaignId: 'camp-1', creativeId, offerId: 'off-1',
    payout: money(currencyCode, amountMicros), status, occurredAt: at(occurredAt), creditedClickedAt: undefined,
    windowDays: 30, decidedAt: at(occurredAt), explanation: 'first click on the offer within the window',
  };
}

describe('FX rates and the reporting currency (real Postgres, NATS, gRPC)', () => {
  let t: ReportingTestApp;
  let client: PromiseClient<typeof ReportingServiceService>;

  const publish = <T>(type: EventType<T>, payload: T) => t.publish(type, payload);
  const report = (reportingCurrency: string) =>
    client.getPerformanceReport({
      groupBy: ReportGrouping.REPORT_GROUPING_CREATIVE, fromDate: '2026-03-01', toDate: '2026-03-06', timeZone: '', thenBy: 0, dateBasis: 0,
      filter: undefined, includeTest: false, reportingCurrency,
    });

  beforeAll(async () => {
    t = await ReportingTestApp.start({ clock: new ManualClock(at('2026-04-02T00:00:00Z')) });
    client = t.client;
    for (const a of [
      credited('E1', 'cr-1', 'EUR', 10_000_000, APPROVED, '2026-03-02T23:30:00Z'), // rate of 03-01 (1.08)
      credited('E2', 'cr-1', 'EUR', 20_000_000, PENDING, '2026-03-05T08:00:00Z'), // rate of 03-03 (1.10)
      credited('E3', 'cr-1', 'EUR', 3_333_333, APPROVED, '2026-03-03T00:00:00Z'), // 3.666666 3 (half-even: …6.3 -> …6)
      credited('G1', 'cr-2', 'GBP', 4_000_000, APPROVED, '2026-03-02T12:00:00Z'), // before the first GBP rate: missing
      credited('G2', 'cr-2', 'GBP', 1_000_000, REVERSED, '2026-03-04T12:00:00Z'), // rate of 03-04 (1.25)
      credited('U1', 'cr-2', 'USD', 5_000_000, APPROVED, '2026-03-04T12:00:00Z'), // the quote itself: 1, no rate
    ]) {
      await publish(Events.ConversionAttributed, { attribution: a });
    }
    await eventually(async () => (await report('')).total?.conversions === '5' || undefined, 20_000);
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it('refuses a batch with any bad row, naming each, and stores nothing of it', async () => {
    const r = await client.upsertFxRates({
      rates: [
        { day: '2026-03-01', currency: 'EUR', quote: 'USD', rateMicros: '1080000' },
        { day: '2026-02-30', currency: 'EUR', quote: 'USD', rateMicros: '1080000' },
        { day: '2026-03-02', currency: 'usd', quote: 'USD', rateMicros: '-5' },
      ],
    });
    expect(r.stored).toBe(0);
    expect(r.errors.map((e) => [e.index, e.field])).toEqual([[1, 'day'], [2, 'currency'], [2, 'rate']]);
    expect((await client.listFxRates({ quote: 'USD', currency: '', fromDate: '', toDate: '' })).rates).toEqual([]);
  });

  it('stores rates, replaces a day\'s rate, and lists by quote and range', async () => {
    const first = await client.upsertFxRates({
      rates: [
        { day: '2026-03-01', currency: 'EUR', quote: 'USD', rateMicros: '1070000' },
        { day: '2026-03-03', currency: 'EUR', quote: 'USD', rateMicros: '1100000' },
        { day: '2026-03-04', currency: 'GBP', quote: 'USD', rateMicros: '1250000' },
        { day: '2026-03-02', currency: 'USD', quote: 'EUR', rateMicros: '920000' },
      ],
    });
    expect(first).toEqual({ stored: 4, errors: [] });
    expect(await client.upsertFxRates({ rates: [{ day: '2026-03-01', currency: 'EUR', quote: 'USD', rateMicros: '1080000' }] })).toEqual({ stored: 1, errors: [] });
    const list = await client.listFxRates({ quote: 'USD', currency: '', fromDate: '2026-03-01', toDate: '2026-03-03' });
    expect(list.rates).toEqual([
      { day: '2026-03-01', currency: 'EUR', quote: 'USD', rateMicros: '1080000' },
      { day: '2026-03-03', currency: 'EUR', quote: 'USD', rateMicros: '1100000' },
    ]);
  });

  it('converts each conversion at the latest rate on or before its day, names the missing ones, keeps originals', async () => {
    const r = await report('USD');
    const [cr1, cr2] = r.rows;
    // 10.00 EUR at 1.08 + 3.333333 EUR at 1.10 (3.6666663 -> 3.666666) approved; 20.00 EUR at 1.10 pending.
    expect(cr1.converted).toEqual({
      revenue: money('USD', 14_466_666), pendingRevenue: money('USD', 22_000_000), reversed: money('USD', 0),
      conversions: '3', firstRateDay: '2026-03-01', lastRateDay: '2026-03-03', fxMissing: [],
    });
    // USD needs no rate; the reversed GBP at 03-04's 1.25; the 03-02 GBP has no rate on or before its day.
    expect(cr2.converted).toEqual({
      revenue: money('USD', 5_000_000), pendingRevenue: money('USD', 0), reversed: money('USD', 1_250_000),
      conversions: '2', firstRateDay: '2026-03-04', lastRateDay: '2026-03-04',
      fxMissing: [{ amount: money('GBP', 4_000_000), conversions: '1', firstDay: '2026-03-02', lastDay: '2026-03-02' }],
    });
    expect(r.total!.converted).toEqual({
      revenue: money('USD', 19_466_666), pendingRevenue: money('USD', 22_000_000), reversed: money('USD', 1_250_000),
      conversions: '5', firstRateDay: '2026-03-01', lastRateDay: '2026-03-04',
      fxMissing: [{ amount: money('GBP', 4_000_000), conversions: '1', firstDay: '2026-03-02', lastDay: '2026-03-02' }],
    });
    // The original amounts per currency are as stored, with or without a reporting currency.
    const plain = await report('');
    expect(plain.rows.map((x) => x.converted)).toEqual([undefined, undefined]);
    expect(r.rows.map((x) => x.revenue)).toEqual(plain.rows.map((x) => x.revenue));
    expect(cr1.revenue.map((t) => [t.revenue, t.pendingRevenue])).toEqual([[money('EUR', 13_333_333), money('EUR', 20_000_000)]]);
  });

  it('converts the other way with the rates into that quote only', async () => {
    const r = await report('EUR');
    // USD 5.00 at 03-02's 0.92 (the latest on or before 03-04); GBP has no rate into EUR.
    expect(r.rows[1].converted!.revenue).toEqual(money('EUR', 4_600_000));
    expect(r.rows[1].converted!.fxMissing.map((m) => [m.amount, m.conversions])).toEqual([[money('GBP', 5_000_000), '2']]);
    expect(r.rows[0].converted!.revenue).toEqual(money('EUR', 13_333_333));
  });

  it('refuses a reporting currency that is not an ISO code', async () => {
    await expect(report('usd')).rejects.toThrow(/reporting_currency/);
  });
});
