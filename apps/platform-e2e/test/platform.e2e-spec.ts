import { createGrpcClient, OpsClient } from '@trackly/grpc';
import { eventually } from '@trackly/testing';
import { TrackingServiceService } from '@trackly/contracts/tracking/v1/tracking_service';
import { IngestServiceService } from '@trackly/contracts/ingest/v1/ingest_service';
import { AttributionState, PartnerKind } from '@trackly/contracts/ingest/v1/ingest';
import { runDemo } from '../../../tools/demo/src/demo';
import { driftLine, READ_MODELS, readModelDrift } from '../../../tools/ops/src/rebuild';
import { Platform, ShiftedClock, startPlatform } from './platform';

/**
 * The whole flow through public interfaces only: catalog and messages over gRPC, taps on the click edge, partner
 * postbacks on the ingest edge, and reports read from the gateway — all five apps, real Postgres, NATS and gRPC.
 */
// Report JSON is asserted field by field below; a loose type keeps those assertions readable.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

describe('Trackly end to end', () => {
  const clock = new ShiftedClock();
  let p: Platform;
  let tracking: ReturnType<typeof createGrpcClient<typeof TrackingServiceService>>;
  let ingest: ReturnType<typeof createGrpcClient<typeof IngestServiceService>>;
  const clickIds: Record<string, string> = {};
  /** The network's postback token, issued when it is registered with ingest. */
  let partnerToken = '';

  const api = async (path: string): Promise<Json> => {
    const res = await fetch(`${p.gatewayHttp}${path}`, { headers: { authorization: `Bearer ${p.apiKey}` } });
    const body = await res.json();
    if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
    return body;
  };
  const postback = async (params: Record<string, string>) => {
    const url = new URL(`${p.ingestHttp}/postbacks/everflow`);
    for (const [k, v] of Object.entries({ ...params, token: partnerToken })) url.searchParams.set(k, v);
    const res = await fetch(url);
    return { status: res.status, body: (await res.json()) as Json };
  };
  const tap = async (trackedUrl: string) => {
    const res = await fetch(trackedUrl, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0 (iPhone)' } });
    expect(res.status).toBe(302);
    return new URL(res.headers.get('location')!).searchParams.get('cid')!;
  };
  const report = (groupBy: string) => api(`/api/reports/performance?group_by=${groupBy}&from=2026-11-01&to=2026-11-30&tz=UTC`);
  const row = (r: Json, key: string): Json => r.rows?.find((x: Json) => x.key === key);

  beforeAll(async () => {
    p = await startPlatform(clock);
    tracking = createGrpcClient(TrackingServiceService, p.trackingGrpc);
    ingest = createGrpcClient(IngestServiceService, p.ingestGrpc);
    // The edge only takes postbacks from registered partners, with their token.
    const registered = await ingest.upsertPartner({
      partnerId: 'everflow', name: 'Everflow network', kind: PartnerKind.PARTNER_KIND_GENERIC, clickIdParam: '', defaultCurrency: 'USD', allowedSources: [],
    });
    partnerToken = registered.token;
  }, 60_000);

  afterAll(async () => {
    tracking?.close();
    ingest?.close();
    await p?.stop();
  });

  it('credits Friday\'s conversion to Monday\'s first click, once, and reports exact revenue', async () => {
    // Catalog and sends, as the sending platform would register them.
    clock.set('2026-11-02T09:00:00Z'); // Monday
    await tracking.upsertCampaign({ campaignId: 'camp-bf', name: 'Black Friday' });
    await tracking.upsertCreative({ creativeId: 'cr-a', name: 'Summer Sale 20%' });
    await tracking.upsertCreative({ creativeId: 'cr-b', name: 'Free shipping' });
    const tpl = 'https://shop.example/land?cid={click_id}';
    await tracking.upsertOffer({ offerId: 'summer', name: 'Summer Clearance', destinationUrlTemplate: tpl, defaultPayout: { currencyCode: 'USD', amountMicros: '24990000' } });
    await tracking.upsertOffer({ offerId: 'weekly', name: 'Weekly Deal', destinationUrlTemplate: tpl, defaultPayout: { currencyCode: 'USD', amountMicros: '5000000' }, clickWindowDays: 7 });
    const send = async (messageId: string, contactId: string, creativeId: string, offerId: string) =>
      (await tracking.registerMessages({ messages: [{ messageId, contactId, phoneE164: '+15551234567', campaignId: 'camp-bf', creativeId, offerId, sentAt: clock.now() }] })).messages[0];
    const a = await send('msg-A', 'alice', 'cr-a', 'summer');
    const c = await send('msg-C', 'bob', 'cr-a', 'weekly');

    clock.set('2026-11-02T10:00:00Z');
    clickIds.A = await tap(a.trackedUrl);
    clickIds.C = await tap(c.trackedUrl);

    clock.set('2026-11-04T09:00:00Z'); // Wednesday
    const b = await send('msg-B', 'alice', 'cr-b', 'summer');
    await send('msg-D', 'carol', 'cr-b', 'summer'); // never clicked
    clock.set('2026-11-04T10:00:00Z');
    clickIds.B = await tap(b.trackedUrl);

    // Days pass between the taps and the sale, so attribution has every tap before it: here, seconds do. Without
    // this wait the clock's jump to the 12th below puts the parked sale past its horizon before Monday's tap event
    // has arrived, and the horizon's best effort credits the only click it knows, Wednesday's.
    const ops = Object.fromEntries((['tracking', 'ingest', 'attribution', 'reporting'] as const).map((s) => [s, new OpsClient(p[`${s}Grpc`])]));
    await eventually(async () => {
      const d = await readModelDrift('attribution', READ_MODELS.attribution!, ops as Parameters<typeof readModelDrift>[2]);
      if (d.compared === 0 || d.drifts.length) throw new Error(`attribution not settled: ${d.compared} compared, ${d.drifts.map(driftLine).join('; ')}`);
      return true;
    }, 15_000, 200);

    // Friday: the network posts alice's purchase with Wednesday's click id, then retries it.
    clock.set('2026-11-06T12:00:00Z');
    const first = await postback({ click_id: clickIds.B, conversion_id: 'ord-1', payout: '24.99', currency: 'USD' });
    expect(first).toMatchObject({ status: 200, body: { status: 'stored' } });
    const retry = await postback({ click_id: clickIds.B, conversion_id: 'ord-1', payout: '24.99', currency: 'USD' });
    expect(retry).toMatchObject({ status: 200, body: { status: 'duplicate' } });
    // A click id we never issued, and bob converting after the weekly offer's 7-day window.
    expect((await postback({ click_id: 'NotOurClickId000', conversion_id: 'ord-2', payout: '10.00', currency: 'USD' })).status).toBe(200);
    clock.set('2026-11-12T12:00:00Z');
    expect((await postback({ click_id: clickIds.C, conversion_id: 'ord-3', payout: '5.00', currency: 'USD' })).status).toBe(200);

    // The troubleshooting view answers the product guide's three questions for each.
    // Decided once the clicks' events have reached attribution (until then it is parked: PENDING).
    const ord1 = await eventually(async () => {
      const j = await api('/api/conversions/everflow/ord-1');
      return j.attribution && j.attribution.outcome !== 'ATTRIBUTION_OUTCOME_PENDING' ? j : undefined;
    }, 15_000);
    expect(ord1.attribution).toMatchObject({ outcome: 'ATTRIBUTION_OUTCOME_ATTRIBUTED', creditedClickId: clickIds.A, reportedClickId: clickIds.B, messageId: 'msg-A' });
    expect(ord1.diagnosis).toMatchObject({ clickIdMatched: true, clickInWindow: true });
    // An unknown click id is parked (outcome PENDING) until the park horizon, then settled.
    const ord2 = await eventually(async () => {
      const j = await api('/api/conversions/everflow/ord-2');
      return j.attribution && j.attribution.outcome !== 'ATTRIBUTION_OUTCOME_PENDING' ? j : undefined;
    }, 15_000);
    expect(ord2.attribution).toMatchObject({ outcome: 'ATTRIBUTION_OUTCOME_UNATTRIBUTED', reason: 'UNATTRIBUTED_REASON_UNKNOWN_CLICK_ID' });
    expect(ord2.diagnosis).toMatchObject({ clickIdMatched: false });
    const ord3 = await eventually(async () => ((await api('/api/conversions/everflow/ord-3')).attribution ? api('/api/conversions/everflow/ord-3') : undefined), 15_000);
    expect(ord3.attribution).toMatchObject({ outcome: 'ATTRIBUTION_OUTCOME_UNATTRIBUTED', reason: 'UNATTRIBUTED_REASON_OUTSIDE_WINDOW', windowDays: 7 });
    expect(ord3.diagnosis).toMatchObject({ clickIdMatched: true, clickInWindow: false });

    // Ingest heard the verdicts back.
    const stored = await eventually(async () => {
      const r = await ingest.getConversion({ partnerId: 'everflow', conversionId: 'ord-1' });
      return r.conversion?.attributionState === AttributionState.ATTRIBUTION_STATE_ATTRIBUTED ? r.conversion : undefined;
    });
    expect(stored.creditedMessageId).toBe('msg-A');

    // Reports: exact to the micro.
    const byOffer = await eventually(async () => {
      const r = await report('offer');
      return row(r, 'summer')?.conversions === '1' && row(r, 'weekly')?.clicks === '1' ? r : undefined;
    }, 15_000);
    expect(row(byOffer, 'summer')).toMatchObject({
      name: 'Summer Clearance', sends: '3', clicks: '2', uniqueClicks: '2', conversions: '1',
      revenue: [{ revenue: { currencyCode: 'USD', amountMicros: '24990000', amount: '24.99' }, epc: { amountMicros: '12495000', amount: '12.495' } }],
    });
    expect(row(byOffer, 'weekly')).toMatchObject({ sends: '1', clicks: '1' });
    expect(row(byOffer, 'weekly').conversions ?? '0').toBe('0');

    const byCreative = await report('creative');
    expect(row(byCreative, 'cr-a')).toMatchObject({
      name: 'Summer Sale 20%', sends: '2', clicks: '2', conversions: '1',
      revenue: [{ revenue: { amountMicros: '24990000' }, revenuePerSend: { amountMicros: '12495000' } }],
    });
    expect(row(byCreative, 'cr-b')).toMatchObject({ sends: '2', clicks: '1' });
    expect(row(byCreative, 'cr-b').conversions ?? '0').toBe('0');

    const byCampaign = await report('campaign');
    expect(row(byCampaign, 'camp-bf')).toMatchObject({ sends: '4', clicks: '3', conversions: '1', revenue: [{ revenue: { amountMicros: '24990000' } }] });

    const byDate = await report('date');
    expect(row(byDate, '2026-11-02')).toMatchObject({ sends: '2', clicks: '2' });
    expect(row(byDate, '2026-11-04')).toMatchObject({ sends: '2', clicks: '1' });
    expect(row(byDate, '2026-11-06')).toMatchObject({ conversions: '1', revenue: [{ revenue: { amountMicros: '24990000' } }] });

    const msgA = await api('/api/reports/messages/msg-A');
    expect(msgA).toMatchObject({ clicked: true, clickCount: '1', revenue: [{ currencyCode: 'USD', amountMicros: '24990000' }] });
    expect(msgA.conversions).toEqual([expect.objectContaining({ conversionId: 'ord-1', clickId: clickIds.A })]);
    const msgB = await api('/api/reports/messages/msg-B');
    expect(msgB).toMatchObject({ clicked: true });
    expect(msgB.conversions ?? []).toEqual([]);

    const alice = await api('/api/reports/contacts/alice/journey');
    expect(alice).toMatchObject({ messagesReceived: '2', clicks: '2', conversions: '1', totalRevenue: [{ amountMicros: '24990000' }] });
    expect(alice.events.map((e: { kind: string }) => e.kind)).toEqual([
      'JOURNEY_EVENT_KIND_MESSAGE_SENT', 'JOURNEY_EVENT_KIND_CLICK', 'JOURNEY_EVENT_KIND_MESSAGE_SENT', 'JOURNEY_EVENT_KIND_CLICK', 'JOURNEY_EVENT_KIND_CONVERSION',
    ]);

    // Posting again much later changes nothing (proven below: anything it published would reach the report before
    // the reversal that follows it through the same streams, and the reversal leaves zero conversions).
    expect((await postback({ click_id: clickIds.A, conversion_id: 'ord-1', payout: '24.99', currency: 'USD' })).body.status).toBe('duplicate');

    // The advertiser refunds it: the reversal travels ingest -> attribution -> reporting and takes the revenue back.
    const reversal = await fetch(`${p.ingestHttp}/postbacks/everflow/reversal?token=${encodeURIComponent(partnerToken)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ conversion_id: 'ord-1' }),
    });
    expect(reversal.status).toBe(200);
    expect(await reversal.json()).toMatchObject({ status: 'reversed' });
    const reversed = await eventually(async () => {
      const r = row(await report('offer'), 'summer');
      return r?.reversedConversions === '1' ? r : undefined;
    }, 15_000);
    expect(reversed.conversions ?? '0').toBe('0'); // one credit, reversed: the duplicate added none
    expect(reversed.revenue[0]).toMatchObject({ reversed: { amountMicros: '24990000' } });
    expect(reversed.revenue[0].revenue?.amountMicros ?? '0').toBe('0');
    const afterReversal = await api('/api/conversions/everflow/ord-1');
    expect(afterReversal.attribution).toMatchObject({ status: 'CONVERSION_STATUS_REVERSED', messageId: 'msg-A' });
  }, 60_000);

  it('runs the demo against the platform', async () => {
    clock.reset();
    const lines: string[] = [];
    const result = await runDemo(
      { trackingGrpc: p.trackingGrpc, ingestGrpc: p.ingestGrpc, ingestHttp: p.ingestHttp, gatewayHttp: p.gatewayHttp, apiKey: p.apiKey, settleWaitMs: 15_000 },
      (l) => lines.push(l),
    );
    const summer = result.byOffer.rows!.find((r) => r.key.startsWith('summer-'))!;
    expect(summer).toMatchObject({ conversions: '2', revenue: [{ revenue: { amountMicros: '24990000' }, pendingRevenue: { amountMicros: '24990000' } }] });
    expect(result.postbackAnswers.filter((a) => a.includes('duplicate'))).toHaveLength(1);
    expect(result.unknownConversion).toMatchObject({ attribution: { reason: 'UNATTRIBUTED_REASON_UNKNOWN_CLICK_ID' } });
    expect(lines.join('\n')).toMatch(/Performance by offer/);
  }, 60_000);
});
