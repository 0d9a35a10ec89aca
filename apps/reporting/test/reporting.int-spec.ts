import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { Client } from 'pg';
import { GrpcCallError, PromiseClient } from '@trackly/grpc';
import { ManualClock } from '@trackly/kernel';
import { EventType, Events } from '@trackly/messaging';
import { eventually } from '@trackly/testing';
import {
  GetPerformanceReportRequest,
  JourneyEventKind,
  PerformanceRow,
  ReportGrouping,
  ReportingServiceService,
  RevenueTotal,
} from '@trackly/contracts/reporting/v1/reporting_service';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { Attribution, AttributionOutcome, AttributionType, UnattributedReason } from '@trackly/contracts/attribution/v1/attribution';
import type { Click } from '@trackly/contracts/tracking/v1/tracking';
import type { MessageSent } from '@trackly/contracts/tracking/v1/tracking_events';
import { ReportingTestApp } from './reporting-test-app';

// Dates: US daylight time starts on 2026-03-08, so New York is UTC-4 here; Kolkata is +05:30, Kathmandu +05:45.
const at = (iso: string) => new Date(iso);

type Dims = { campaignId: string; creativeId: string; offerId: string };
const C1_CR1_O1: Dims = { campaignId: 'camp-1', creativeId: 'cr-1', offerId: 'off-1' };
const C2_CR2_O1: Dims = { campaignId: 'camp-2', creativeId: 'cr-2', offerId: 'off-1' };
const C2_CR1_O2: Dims = { campaignId: 'camp-2', creativeId: 'cr-1', offerId: 'off-2' };
const C2_CR2_O2: Dims = { campaignId: 'camp-2', creativeId: 'cr-2', offerId: 'off-2' };
const SENTINEL: Dims = { campaignId: 'camp-9', creativeId: 'cr-9', offerId: 'off-9' };

function sent(messageId: string, contactId: string, d: Dims, sentAt: string): MessageSent {
  return { messageId, contactId, phoneMasked: '+1***1234', ...d, sentAt: at(sentAt) };
}

function click(clickId: string, messageId: string, contactId: string, d: Dims, clickedAt: string, firstClickOnMessage: boolean): Click {
  return { clickId, messageId, contactId, ...d, clickedAt: at(clickedAt), firstClickOnMessage, userAgent: 'test', messageSentAt: undefined, clickClass: 1, classificationReason: '', classifierVersion: '' };
}

function credited(
  partnerId: string,
  conversionId: string,
  messageId: string,
  clickId: string,
  contactId: string,
  d: Dims,
  currencyCode: string,
  amountMicros: number,
  s: ConversionStatus,
  occurredAt: string,
): Attribution {
  return {
    partnerId,
    conversionId,
    conversionRef: randomUUID(),
    ruleVersion: 'first-click/1',
    test: false, source: 0, payoutDefaulted: false, overCap: false, holdUntil: undefined,
    outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED,
    reason: UnattributedReason.UNATTRIBUTED_REASON_UNSPECIFIED,
    type: AttributionType.ATTRIBUTION_TYPE_CLICK_THROUGH,
    reportedClickId: clickId,
    creditedClickId: clickId,
    messageId,
    contactId,
    ...d,
    payout: { currencyCode, amountMicros: String(amountMicros) },
    status: s,
    occurredAt: at(occurredAt),
    creditedClickedAt: undefined,
    windowDays: 30,
    decidedAt: at(occurredAt),
    explanation: 'first click on the offer within the window',
  };
}

const { CONVERSION_STATUS_APPROVED: APPROVED, CONVERSION_STATUS_PENDING: PENDING, CONVERSION_STATUS_REVERSED: REVERSED } = ConversionStatus;

const A = credited('p1', 'A', 'm1', 'k1', 'c1', C1_CR1_O1, 'USD', 24_990_000, APPROVED, '2026-03-11T02:00:00Z'); // NY: 03-10
const B = credited('p1', 'B', 'm1', 'k1', 'c1', C1_CR1_O1, 'USD', 10_000_000, PENDING, '2026-03-10T13:00:00Z');
const E = credited('p1', 'E', 'm1', 'k1', 'c1', C1_CR1_O1, 'USD', 5_000_000, REVERSED, '2026-03-10T14:00:00Z');
const C = credited('p2', 'C', 'm3', 'k3', 'c3', C2_CR1_O2, 'EUR', 30_000_000, APPROVED, '2026-03-11T19:00:00Z'); // Kolkata: 03-12
const D = credited('p2', 'D', 'm3', 'k3', 'c3', C2_CR1_O2, 'EUR', 5_000_000, APPROVED, '2026-03-11T18:14:59Z'); // Kathmandu 23:59:59
const F = credited('p1', 'F', 'm4', 'k4', 'c1', C2_CR2_O2, 'USD', 12_000_000, APPROVED, '2026-03-11T20:30:00Z'); // same instant as k4
const REJECTED = credited('p1', 'R', 'm1', 'k1', 'c1', C1_CR1_O1, 'USD', 99_000_000, ConversionStatus.CONVERSION_STATUS_REJECTED, '2026-03-10T15:00:00Z');
const Z = credited('p9', 'Z', 'm9', 'k9', 'c9', SENTINEL, 'USD', 1_000_000, APPROVED, '2026-04-01T12:00:00Z');
const UNATTRIBUTED: Attribution = {
  ...credited('p1', 'U1', '', '', '', { campaignId: '', creativeId: '', offerId: '' }, 'USD', 7_000_000, APPROVED, '2026-03-10T16:00:00Z'),
  outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_UNATTRIBUTED,
  reason: UnattributedReason.UNATTRIBUTED_REASON_UNKNOWN_CLICK_ID,
  type: AttributionType.ATTRIBUTION_TYPE_UNSPECIFIED,
  reportedClickId: 'nope',
};

const money = (currencyCode: string, micros: number) => ({ currencyCode, amountMicros: String(micros) });
/** [approved or pending conversions, reversed conversions, reversed micros] of one currency. */
type Counts = [number, number, number];
const rev = (cur: string, approved: number, pending: number, perSend: number, epc: number, [n, nReversed, reversed]: Counts): RevenueTotal => ({
  revenue: money(cur, approved),
  pendingRevenue: money(cur, pending),
  revenuePerSend: money(cur, perSend),
  epc: money(cur, epc),
  reversed: money(cur, reversed),
  conversions: String(n),
  reversedConversions: String(nReversed),
  // No view-through, capped, held or test conversions in this seed: all approved revenue is click revenue.
  clickRevenue: money(cur, approved),
  viewThroughRevenue: money(cur, 0),
  viewThroughConversions: '0',
  cappedRevenue: money(cur, 0),
  cappedConversions: '0',
  heldRevenue: money(cur, 0),
  heldConversions: '0',
  testRevenue: money(cur, 0),
  testConversions: '0',
});
// Ratios in millionths, computed here in floating point as an independent check of the service's integer maths.
const ppm = (a: number, b: number) => String(b ? Math.round((a * 1e6) / b) : 0);
const row = (
  key: string,
  name: string,
  sends: number,
  taps: number,
  engagements: number,
  [conversions, reversedConversions]: [number, number],
  revenue: RevenueTotal[],
  key2 = '',
  name2 = '',
): PerformanceRow => ({
  key,
  name,
  key2,
  name2,
  sends: String(sends),
  // Clicks are engagements (first taps); CTR and CVR divide by them.
  clicks: String(engagements),
  uniqueClicks: String(engagements),
  taps: String(taps),
  conversions: String(conversions),
  reversedConversions: String(reversedConversions),
  ctrPpm: ppm(engagements, sends),
  cvrPpm: ppm(conversions, engagements),
  activityNotApplicable: false,
  // EPC per engagement, recomputed here in floating point (rev's epc argument was per tap before engagements).
  revenue: revenue.map((t) => ({
    ...t,
    epc: money(t.epc!.currencyCode, engagements ? Math.round(Number(t.revenue!.amountMicros) / engagements) : 0),
  })),
  converted: undefined,
});

describe('reporting service (real Postgres, NATS, gRPC)', () => {
  let t: ReportingTestApp;
  let client: PromiseClient<typeof ReportingServiceService>;

  const publish = <T>(type: EventType<T>, payload: T, msgID?: string) => t.publish(type, payload, msgID);

  const report = (groupBy: ReportGrouping, fromDate: string, toDate: string, timeZone = '', more: Partial<GetPerformanceReportRequest> = {}) =>
    client.getPerformanceReport({ groupBy, fromDate, toDate, timeZone, thenBy: 0, dateBasis: 0, filter: undefined, includeTest: false, reportingCurrency: '', ...more });

  beforeAll(async () => {
    t = await ReportingTestApp.start({ clock: new ManualClock(at('2026-04-02T00:00:00Z')) });
    client = t.client;

    // Tracking stream. Names: the older creative name arrives last and must not win.
    await publish(Events.CampaignUpserted, { campaign: { campaignId: 'camp-1', name: 'Weekly blast', updatedAt: at('2026-03-01T00:00:00Z') } });
    await publish(Events.CampaignUpserted, { campaign: { campaignId: 'camp-2', name: 'Flash sale', updatedAt: at('2026-03-01T00:00:00Z') } });
    await publish(Events.CreativeUpserted, { creative: { creativeId: 'cr-1', name: 'Summer Sale 20%', updatedAt: at('2026-03-02T00:00:00Z') } });
    await publish(Events.CreativeUpserted, { creative: { creativeId: 'cr-1', name: 'Summer Sale (draft)', updatedAt: at('2026-03-01T00:00:00Z') } });
    for (const [offerId, name] of [['off-1', 'Summer Clearance'], ['off-2', 'EU Shoes']]) {
      await publish(Events.OfferUpserted, {
        offer: {
          offerId,
          name,
          destinationUrlTemplate: 'https://shop.example/?c={click_id}',
          defaultPayout: money('USD', 1_000_000),
          clickWindowDays: undefined,
          updatedAt: at('2026-03-01T00:00:00Z'),
        },
      });
    }
    const m1 = sent('m1', 'c1', C1_CR1_O1, '2026-03-10T12:00:00Z');
    const k1 = click('k1', 'm1', 'c1', C1_CR1_O1, '2026-03-10T12:10:00Z', true);
    await publish(Events.MessageSent, m1);
    await publish(Events.MessageSent, sent('m2', 'c2', C2_CR2_O1, '2026-03-10T12:05:00Z'));
    await publish(Events.ClickRecorded, { click: k1 });
    await publish(Events.ClickRecorded, { click: click('k2', 'm1', 'c1', C1_CR1_O1, '2026-03-10T12:20:00Z', false) });
    // Clicks before their MessageSent: they carry their own dimensions.
    await publish(Events.ClickRecorded, { click: click('k3', 'm3', 'c3', C2_CR1_O2, '2026-03-11T03:30:00Z', true) });
    await publish(Events.MessageSent, sent('m3', 'c3', C2_CR1_O2, '2026-03-11T03:00:00Z'));
    await publish(Events.ClickRecorded, { click: click('k4', 'm4', 'c1', C2_CR2_O2, '2026-03-11T20:30:00Z', true) });
    await publish(Events.MessageSent, sent('m4', 'c1', C2_CR2_O2, '2026-03-11T20:00:00Z'));
    // A message known only by its click (its MessageSent never arrives).
    await publish(Events.ClickRecorded, { click: click('k5', 'm-ghost', 'c5', C1_CR1_O1, '2026-02-01T10:00:00Z', true) });
    // The same facts again under new event ids (as after a relay crash outside the duplicate window).
    await publish(Events.MessageSent, m1);
    await publish(Events.ClickRecorded, { click: k1 });
    await publish(Events.MessageSent, sent('m9', 'c9', SENTINEL, '2026-04-01T12:00:00Z'));

    // Attribution stream.
    for (const a of [B, E, A, C, D, F, REJECTED]) await publish(Events.ConversionAttributed, { attribution: a });
    await publish(Events.ConversionUnattributed, { attribution: UNATTRIBUTED });
    await publish(Events.ConversionAttributed, { attribution: A });
    await publish(Events.ConversionAttributed, { attribution: Z });

    // Each stream is applied in order by one consumer: once both sentinels show, everything before them is applied.
    await eventually(async () => {
      const r = await report(ReportGrouping.REPORT_GROUPING_DATE, '2026-04-01', '2026-04-01');
      return r.total?.sends === '1' && r.total.conversions === '1';
    }, 20_000);
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it('reports per creative: two currencies apart, ratios per currency, names with last update winning', async () => {
    const r = await report(ReportGrouping.REPORT_GROUPING_CREATIVE, '2026-03-10', '2026-03-11');
    expect(r.timeZone).toBe('UTC');
    expect(r.rows).toEqual([
      row('cr-1', 'Summer Sale 20%', 2, 3, 2, [4, 1], [
        rev('EUR', 35_000_000, 0, 17_500_000, 11_666_667, [2, 0, 0]),
        rev('USD', 24_990_000, 10_000_000, 12_495_000, 8_330_000, [2, 1, 5_000_000]),
      ]),
      row('cr-2', '', 2, 1, 1, [1, 0], [rev('USD', 12_000_000, 0, 6_000_000, 12_000_000, [1, 0, 0])]),
    ]);
    expect(r.total).toEqual(
      row('', '', 4, 4, 3, [5, 1], [
        rev('EUR', 35_000_000, 0, 8_750_000, 8_750_000, [2, 0, 0]),
        rev('USD', 36_990_000, 10_000_000, 9_247_500, 9_247_500, [3, 1, 5_000_000]),
      ]),
    );
  });

  it('reports per offer', async () => {
    const r = await report(ReportGrouping.REPORT_GROUPING_OFFER, '2026-03-10', '2026-03-11');
    expect(r.rows).toEqual([
      row('off-1', 'Summer Clearance', 2, 2, 1, [2, 1], [rev('USD', 24_990_000, 10_000_000, 12_495_000, 12_495_000, [2, 1, 5_000_000])]),
      row('off-2', 'EU Shoes', 2, 2, 2, [3, 0], [
        rev('EUR', 35_000_000, 0, 17_500_000, 17_500_000, [2, 0, 0]),
        rev('USD', 12_000_000, 0, 6_000_000, 6_000_000, [1, 0, 0]),
      ]),
    ]);
  });

  it('reports per campaign', async () => {
    const r = await report(ReportGrouping.REPORT_GROUPING_CAMPAIGN, '2026-03-10', '2026-03-11');
    expect(r.rows).toEqual([
      row('camp-1', 'Weekly blast', 1, 2, 1, [2, 1], [rev('USD', 24_990_000, 10_000_000, 24_990_000, 12_495_000, [2, 1, 5_000_000])]),
      row('camp-2', 'Flash sale', 3, 2, 2, [3, 0], [
        rev('EUR', 35_000_000, 0, 11_666_667, 17_500_000, [2, 0, 0]),
        rev('USD', 12_000_000, 0, 4_000_000, 6_000_000, [1, 0, 0]),
      ]),
    ]);
  });

  it('reports per UTC date, only days with activity', async () => {
    const r = await report(ReportGrouping.REPORT_GROUPING_DATE, '2026-03-01', '2026-03-31', '');
    expect(r.rows).toEqual([
      row('2026-03-10', '', 2, 2, 1, [1, 1], [rev('USD', 0, 10_000_000, 0, 0, [1, 1, 5_000_000])]),
      row('2026-03-11', '', 2, 2, 2, [4, 0], [
        rev('EUR', 35_000_000, 0, 17_500_000, 17_500_000, [2, 0, 0]),
        rev('USD', 36_990_000, 0, 18_495_000, 18_495_000, [2, 0, 0]),
      ]),
    ]);
  });

  it('cuts days in America/New_York: a conversion at 02:00 UTC moves to the previous local day', async () => {
    const r = await report(ReportGrouping.REPORT_GROUPING_DATE, '2026-03-10', '2026-03-11', 'America/New_York');
    expect(r.timeZone).toBe('America/New_York');
    expect(r.rows).toEqual([
      row('2026-03-10', '', 3, 3, 2, [2, 1], [rev('USD', 24_990_000, 10_000_000, 8_330_000, 8_330_000, [2, 1, 5_000_000])]),
      row('2026-03-11', '', 1, 1, 1, [3, 0], [
        rev('EUR', 35_000_000, 0, 35_000_000, 35_000_000, [2, 0, 0]),
        rev('USD', 12_000_000, 0, 12_000_000, 12_000_000, [1, 0, 0]),
      ]),
    ]);
  });

  it('cuts days in Asia/Kolkata (+05:30): evening UTC moves to the next local day', async () => {
    const r = await report(ReportGrouping.REPORT_GROUPING_DATE, '2026-03-10', '2026-03-12', 'Asia/Kolkata');
    expect(r.rows).toEqual([
      row('2026-03-10', '', 2, 2, 1, [1, 1], [rev('USD', 0, 10_000_000, 0, 0, [1, 1, 5_000_000])]),
      row('2026-03-11', '', 1, 1, 1, [2, 0], [
        rev('EUR', 5_000_000, 0, 5_000_000, 5_000_000, [1, 0, 0]),
        rev('USD', 24_990_000, 0, 24_990_000, 24_990_000, [1, 0, 0]),
      ]),
      row('2026-03-12', '', 1, 1, 1, [2, 0], [
        rev('EUR', 30_000_000, 0, 30_000_000, 30_000_000, [1, 0, 0]),
        rev('USD', 12_000_000, 0, 12_000_000, 12_000_000, [1, 0, 0]),
      ]),
    ]);
    expect(r.total).toMatchObject({ sends: '4', clicks: '3', uniqueClicks: '3', taps: '4', conversions: '5', reversedConversions: '1' });
  });

  it('cuts a single day in Asia/Kathmandu (+05:45) exactly at the quarter hour', async () => {
    // The day is [2026-03-10T18:15Z, 2026-03-11T18:15Z): conversion D at 18:14:59Z is in, C at 19:00Z is not.
    const r = await report(ReportGrouping.REPORT_GROUPING_DATE, '2026-03-11', '2026-03-11', 'Asia/Kathmandu');
    expect(r.rows).toEqual([
      row('2026-03-11', '', 1, 1, 1, [2, 0], [
        rev('EUR', 5_000_000, 0, 5_000_000, 5_000_000, [1, 0, 0]),
        rev('USD', 24_990_000, 0, 24_990_000, 24_990_000, [1, 0, 0]),
      ]),
    ]);
  });

  it('counts the clicks of a message whose send never arrived, in the click date range', async () => {
    const r = await report(ReportGrouping.REPORT_GROUPING_CREATIVE, '2026-02-01', '2026-02-01');
    expect(r.rows).toEqual([row('cr-1', 'Summer Sale 20%', 0, 1, 1, [0, 0], [])]);
  });

  it.each<[string, Partial<GetPerformanceReportRequest>, RegExp]>([
    ['an unspecified grouping', { groupBy: ReportGrouping.REPORT_GROUPING_UNSPECIFIED }, /group_by/],
    ['a malformed date', { fromDate: '2026-3-1' }, /from_date/],
    ['a range ending before it starts', { fromDate: '2026-03-12', toDate: '2026-03-11' }, /to_date/],
    ['a range over 366 days', { fromDate: '2025-01-01', toDate: '2026-01-02' }, /366 days/],
    ['an unknown time zone', { timeZone: 'Mars/Olympus' }, /time_zone/],
    ['an offset instead of a zone', { timeZone: '+05:30' }, /time_zone/],
  ])('refuses %s with INVALID_ARGUMENT', async (_what, over, why) => {
    const err = await client
      .getPerformanceReport({ groupBy: ReportGrouping.REPORT_GROUPING_DATE, fromDate: '2026-03-10', toDate: '2026-03-11', timeZone: '', thenBy: 0, dateBasis: 0, filter: undefined, includeTest: false, reportingCurrency: '', ...over })
      .catch((e) => e);
    expect(err).toBeInstanceOf(GrpcCallError);
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(why);
  });

  it('reports a message: clicks, first click, credited conversions in time order, approved revenue', async () => {
    const r = await client.getMessageReport({ messageId: 'm1' });
    expect(r).toEqual({
      messageId: 'm1',
      contactId: 'c1',
      phoneMasked: '+1***1234',
      campaignId: 'camp-1',
      creativeId: 'cr-1',
      offerId: 'off-1',
      sentAt: at('2026-03-10T12:00:00Z'),
      clicked: true,
      firstClickedAt: at('2026-03-10T12:10:00Z'),
      clickCount: '2',
      conversions: [
        { partnerId: 'p1', conversionId: 'B', clickId: 'k1', payout: money('USD', 10_000_000), occurredAt: at('2026-03-10T13:00:00Z'), status: 'pending', messageId: 'm1', offerId: 'off-1' },
        { partnerId: 'p1', conversionId: 'E', clickId: 'k1', payout: money('USD', 5_000_000), occurredAt: at('2026-03-10T14:00:00Z'), status: 'reversed', messageId: 'm1', offerId: 'off-1' },
        { partnerId: 'p1', conversionId: 'A', clickId: 'k1', payout: money('USD', 24_990_000), occurredAt: at('2026-03-11T02:00:00Z'), status: 'approved', messageId: 'm1', offerId: 'off-1' },
      ],
      revenue: [money('USD', 24_990_000)],
      clickTimes: [at('2026-03-10T12:10:00Z'), at('2026-03-10T12:20:00Z')],
    });
  });

  it('reports an unclicked message, and one known only by its click', async () => {
    expect(await client.getMessageReport({ messageId: 'm2' })).toMatchObject({
      contactId: 'c2', campaignId: 'camp-2', clicked: false, firstClickedAt: undefined, clickCount: '0', conversions: [], revenue: [],
    });
    expect(await client.getMessageReport({ messageId: 'm-ghost' })).toMatchObject({
      contactId: 'c5', phoneMasked: '', sentAt: undefined, clicked: true, firstClickedAt: at('2026-02-01T10:00:00Z'), clickCount: '1',
    });
  });

  it('answers NOT_FOUND for an unknown message and INVALID_ARGUMENT for an empty id', async () => {
    const missing = await client.getMessageReport({ messageId: 'never-sent' }).catch((e) => e);
    expect(missing.code).toBe(status.NOT_FOUND);
    const empty = await client.getMessageReport({ messageId: '' }).catch((e) => e);
    expect(empty.code).toBe(status.INVALID_ARGUMENT);
  });

  it("tells a contact's journey in time order, click before conversion at the same instant", async () => {
    const r = await client.getContactJourney({ contactId: 'c1' });
    const { JOURNEY_EVENT_KIND_MESSAGE_SENT: SENT, JOURNEY_EVENT_KIND_CLICK: CLICK, JOURNEY_EVENT_KIND_CONVERSION: CONV } = JourneyEventKind;
    expect(r.events.map((e) => [e.kind, e.at!.toISOString(), e.messageId, e.clickId, e.conversionId, e.payout?.amountMicros ?? ''])).toEqual([
      [SENT, '2026-03-10T12:00:00.000Z', 'm1', '', '', ''],
      [CLICK, '2026-03-10T12:10:00.000Z', 'm1', 'k1', '', ''],
      [CLICK, '2026-03-10T12:20:00.000Z', 'm1', 'k2', '', ''],
      [CONV, '2026-03-10T13:00:00.000Z', 'm1', 'k1', 'B', '10000000'],
      [CONV, '2026-03-10T14:00:00.000Z', 'm1', 'k1', 'E', '5000000'],
      [CONV, '2026-03-11T02:00:00.000Z', 'm1', 'k1', 'A', '24990000'],
      [SENT, '2026-03-11T20:00:00.000Z', 'm4', '', '', ''],
      [CLICK, '2026-03-11T20:30:00.000Z', 'm4', 'k4', '', ''],
      [CONV, '2026-03-11T20:30:00.000Z', 'm4', 'k4', 'F', '12000000'],
    ]);
    expect(r.events[8]).toMatchObject({ offerId: 'off-2', payout: money('USD', 12_000_000) });
    expect(r).toMatchObject({ contactId: 'c1', messagesReceived: '2', clicks: '3', conversions: '4', totalRevenue: [money('USD', 36_990_000)] });
  });

  it('answers NOT_FOUND for a contact nothing is known about', async () => {
    const err = await client.getContactJourney({ contactId: 'stranger' }).catch((e) => e);
    expect(err.code).toBe(status.NOT_FOUND);
  });

  it('keeps unattributed and rejected conversions for reconciliation, and dead-letters nothing', async () => {
    // These tables have no RPC yet: read this service's own test database directly.
    const pg = new Client({ connectionString: t.db.url });
    await pg.connect();
    try {
      const { rows } = await pg.query(
        `SELECT partner_id, conversion_id, reason, reported_click_id, payout_micros::text AS micros, currency, status
         FROM "reporting".unattributed_conversions ORDER BY conversion_id`,
      );
      expect(rows).toEqual([
        { partner_id: 'p1', conversion_id: 'R', reason: 'REJECTED', reported_click_id: 'k1', micros: '99000000', currency: 'USD', status: 'rejected' },
        { partner_id: 'p1', conversion_id: 'U1', reason: 'UNKNOWN_CLICK_ID', reported_click_id: 'nope', micros: '7000000', currency: 'USD', status: 'approved' },
      ]);
      expect((await pg.query(`SELECT reason FROM "reporting".dead_letters`)).rows).toEqual([]);
    } finally {
      await pg.end();
    }
  });

  it('counts one engagement per message on its first tap, moving it when an older tap arrives late; repeat taps are taps', async () => {
    const d: Dims = { campaignId: 'camp-e', creativeId: 'cr-e', offerId: 'off-e' };
    await publish(Events.MessageSent, sent('me', 'ce', d, '2026-06-01T23:00:00Z'));
    // The tap of 00:10 on June 2 arrives first, then two taps of June 1 (the earliest of which is the engagement).
    await publish(Events.ClickRecorded, { click: click('ke-3', 'me', 'ce', d, '2026-06-02T00:10:00Z', true) });
    await publish(Events.ClickRecorded, { click: click('ke-2', 'me', 'ce', d, '2026-06-01T23:55:00Z', false) });
    await publish(Events.ClickRecorded, { click: click('ke-1', 'me', 'ce', d, '2026-06-01T23:50:00Z', false) });
    await eventually(async () => (await report(ReportGrouping.REPORT_GROUPING_DATE, '2026-06-01', '2026-06-02')).total?.taps === '3', 20_000);
    const byDay = await report(ReportGrouping.REPORT_GROUPING_DATE, '2026-06-01', '2026-06-02');
    expect(byDay.rows.map((r) => [r.key, r.sends, r.clicks, r.taps, r.ctrPpm])).toEqual([
      ['2026-06-01', '1', '1', '2', '1000000'],
      ['2026-06-02', '0', '0', '1', '0'],
    ]);
    // The send-date cohort counts the same engagement (and every tap) on the send's day.
    const cohort = await report(ReportGrouping.REPORT_GROUPING_CREATIVE, '2026-06-01', '2026-06-01', '', { dateBasis: 2 });
    expect(cohort.rows.map((r) => [r.key, r.clicks, r.taps])).toEqual([['cr-e', '1', '3']]);
  });

  it('filters by creative: the rows of those creatives, exactly as unfiltered, and totals of them only', async () => {
    const all = await report(ReportGrouping.REPORT_GROUPING_CREATIVE, '2026-03-10', '2026-03-11');
    const only = await report(ReportGrouping.REPORT_GROUPING_CREATIVE, '2026-03-10', '2026-03-11', '', {
      filter: { campaignIds: [], offerIds: [], creativeIds: ['cr-2'], partnerIds: [] },
    });
    expect(only.rows).toEqual(all.rows.filter((r) => r.key === 'cr-2'));
    expect(only.total!.sends).toBe(only.rows[0].sends);
    const byDate = await report(ReportGrouping.REPORT_GROUPING_DATE, '2026-03-10', '2026-03-11', '', { filter: { campaignIds: [], offerIds: [], creativeIds: ['cr-2'], partnerIds: [] } });
    expect(byDate.total).toEqual({ ...only.total });
  });

  it('lists messages newest first, by campaign and creative, cursor-paged, with taps and clicked', async () => {
    const first = await client.listMessages({ campaignId: 'camp-2', creativeId: '', pageSize: 2, pageToken: '' });
    expect(first.messages.map((m) => m.messageId)).toEqual(['m4', 'm3']);
    expect(first.nextPageToken).not.toBe('');
    const second = await client.listMessages({ campaignId: 'camp-2', creativeId: '', pageSize: 2, pageToken: first.nextPageToken });
    expect(second.messages.map((m) => m.messageId)).toEqual(['m2']);
    expect(second.nextPageToken).toBe('');
    const cr1 = await client.listMessages({ campaignId: 'camp-1', creativeId: 'cr-1', pageSize: 0, pageToken: '' });
    expect(cr1.messages.find((m) => m.messageId === 'm1')).toMatchObject({ clicked: true, taps: '2', campaignId: 'camp-1', creativeId: 'cr-1' });
    // A token is bound to its filters; a forged one is refused.
    await expect(client.listMessages({ campaignId: 'camp-1', creativeId: '', pageSize: 2, pageToken: first.nextPageToken })).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT, details: expect.stringMatching(/page_token/),
    });
    await expect(client.listMessages({ campaignId: '', creativeId: '', pageSize: 500, pageToken: '' })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
  });

  it('lists contacts by id, by campaign and id prefix, cursor-paged, with engagements and revenue without test conversions', async () => {
    // Test conversions: one for a contact that has nothing else (never listed), one for c2 in camp-2 (not counted).
    // Then a real one for cz: once cz is listed, the two before it in the stream are applied.
    const testOnly = { ...credited('p1', 'T1', 'm-t', 'k-t', 'ct', C2_CR2_O1, 'USD', 50_000_000, APPROVED, '2026-03-12T10:00:00Z'), test: true };
    const testC2 = { ...credited('p1', 'T2', 'm2', 'k-t2', 'c2', C2_CR2_O1, 'USD', 50_000_000, APPROVED, '2026-03-12T11:00:00Z'), test: true };
    for (const a of [testOnly, testC2, credited('p1', 'CZ', 'm-z', 'k-z', 'cz', SENTINEL, 'USD', 1_000_000, PENDING, '2026-03-12T12:00:00Z')]) {
      await publish(Events.ConversionAttributed, { attribution: a });
    }
    await eventually(async () => (await client.listContacts({ campaignId: '', contactIdPrefix: 'cz', pageSize: 0, pageToken: '' })).contacts.length === 1, 20_000);

    const first = await client.listContacts({ campaignId: 'camp-2', contactIdPrefix: '', pageSize: 2, pageToken: '' });
    expect(first.contacts.map((c) => c.contactId)).toEqual(['c1', 'c2']);
    // Within camp-2 only: c1's m4, its tap and F.
    expect(first.contacts[0]).toEqual({
      contactId: 'c1', messages: '1', engagements: '1', conversions: '1', revenue: [money('USD', 12_000_000)], lastActivityAt: at('2026-03-11T20:30:00Z'),
    });
    // c2's test conversion is neither a conversion nor revenue nor activity.
    expect(first.contacts[1]).toEqual({ contactId: 'c2', messages: '1', engagements: '0', conversions: '0', revenue: [], lastActivityAt: at('2026-03-10T12:05:00Z') });
    const second = await client.listContacts({ campaignId: 'camp-2', contactIdPrefix: '', pageSize: 2, pageToken: first.nextPageToken });
    expect(second.contacts).toEqual([
      { contactId: 'c3', messages: '1', engagements: '1', conversions: '2', revenue: [money('EUR', 35_000_000)], lastActivityAt: at('2026-03-11T19:00:00Z') },
    ]);
    expect(second.nextPageToken).toBe('');

    // All campaigns: c1 has both messages, both engagements (m1 tapped twice is one), A, B and F (E is reversed).
    const all = await client.listContacts({ campaignId: '', contactIdPrefix: '', pageSize: 200, pageToken: '' });
    expect(all.contacts.find((c) => c.contactId === 'c1')).toEqual({
      contactId: 'c1', messages: '2', engagements: '2', conversions: '3', revenue: [money('USD', 36_990_000)], lastActivityAt: at('2026-03-11T20:30:00Z'),
    });
    expect(all.contacts.map((c) => c.contactId)).not.toContain('ct');
    expect(all.contacts.map((c) => c.contactId)).toEqual([...all.contacts.map((c) => c.contactId)].sort());
    // A contact known only by a tap (its message never arrived) is listed; the prefix is a prefix, not a substring.
    const c5 = await client.listContacts({ campaignId: '', contactIdPrefix: 'c5', pageSize: 0, pageToken: '' });
    expect(c5.contacts).toEqual([{ contactId: 'c5', messages: '0', engagements: '1', conversions: '0', revenue: [], lastActivityAt: at('2026-02-01T10:00:00Z') }]);
    expect((await client.listContacts({ campaignId: '', contactIdPrefix: '5', pageSize: 0, pageToken: '' })).contacts).toEqual([]);
    // Paging one at a time walks the same contacts as one page.
    const walked: string[] = [];
    let token = '';
    do {
      const p = await client.listContacts({ campaignId: '', contactIdPrefix: 'c', pageSize: 1, pageToken: token });
      walked.push(...p.contacts.map((c) => c.contactId));
      token = p.nextPageToken;
    } while (token);
    expect(walked).toEqual(all.contacts.map((c) => c.contactId).filter((id) => id.startsWith('c')));

    // A token is bound to its filters; bad sizes and ids are refused.
    await expect(client.listContacts({ campaignId: 'camp-1', contactIdPrefix: '', pageSize: 2, pageToken: first.nextPageToken })).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT, details: expect.stringMatching(/page_token/),
    });
    await expect(client.listContacts({ campaignId: '', contactIdPrefix: '', pageSize: 201, pageToken: '' })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await expect(client.listContacts({ campaignId: '', contactIdPrefix: "c'%", pageSize: 0, pageToken: '' })).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT, details: expect.stringMatching(/contact_id_prefix/),
    });
  });

  it('applies a late duplicate under a new event id without counting it again', async () => {
    const before = await report(ReportGrouping.REPORT_GROUPING_CREATIVE, '2026-03-10', '2026-03-11');
    await publish(Events.ConversionAttributed, { attribution: C });
    await publish(Events.ClickRecorded, { click: click('k3', 'm3', 'c3', C2_CR1_O2, '2026-03-11T03:30:00Z', true) });
    await publish(Events.MessageSent, sent('m3', 'c3', C2_CR1_O2, '2026-03-11T03:00:00Z'));
    // Fresh sentinels on a new day prove the duplicates before them were handled.
    await publish(Events.MessageSent, sent('m10', 'c9', SENTINEL, '2026-04-02T12:00:00Z'));
    await publish(Events.ConversionAttributed, { attribution: { ...Z, conversionId: 'Z2', occurredAt: at('2026-04-02T12:00:00Z') } });
    await eventually(async () => {
      const r = await report(ReportGrouping.REPORT_GROUPING_DATE, '2026-04-02', '2026-04-02');
      return r.total?.sends === '1' && r.total.conversions === '1';
    }, 20_000);
    expect(await report(ReportGrouping.REPORT_GROUPING_CREATIVE, '2026-03-10', '2026-03-11')).toEqual(before);
    expect((await client.getMessageReport({ messageId: 'm3' })).conversions.map((c) => c.conversionId)).toEqual(['D', 'C']);
  });
});
