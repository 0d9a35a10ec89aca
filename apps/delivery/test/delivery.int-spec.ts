import { AttributionOutcome, UnattributedReason } from '@trackly/contracts/attribution/v1/attribution';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { DeliveryEventType, DeliveryStatus, EndpointKind } from '@trackly/contracts/delivery/v1/delivery';
import { Click, ClickClass } from '@trackly/contracts/tracking/v1/tracking';
import { Events } from '@trackly/messaging';
import { eventually } from '@trackly/testing';
import { HttpSender } from '../src/dispatch/http-sender';
import { attributed, DeliveryHarness, usd } from './support';
import { TestReceiver } from './receiver';

const T = DeliveryEventType;

/**
 * Delivery against real Postgres, NATS and a real HTTP receiver that verifies every signature: events published as
 * attribution, ingest and tracking publish them become signed webhooks and filled-in postbacks, retried with the
 * same webhook-id, logged, redelivered on demand, and an endpoint that keeps failing is disabled with an event.
 */
describe('delivery service (Postgres, NATS, gRPC, a real HTTP receiver)', () => {
  jest.setTimeout(60_000);
  const h = new DeliveryHarness();
  const hooks = new TestReceiver();
  const postbacks = new TestReceiver();
  const broken = new TestReceiver();

  beforeAll(async () => {
    await Promise.all([hooks.start(), postbacks.start(), broken.start()]);
    broken.status = 500;
    await h.start({ DELIVERY_DISABLE_AFTER_FAILURES: '4' });
  });

  afterAll(async () => {
    await h.close();
    await Promise.all([hooks.stop(), postbacks.stop(), broken.stop()]);
  });

  it('delivers decisions as signed webhooks and reversals as postbacks, each to the endpoints whose filters match', async () => {
    const created = await h.client.upsertEndpoint({
      endpointId: 'crm', name: 'CRM', kind: EndpointKind.ENDPOINT_KIND_WEBHOOK, url: `${hooks.url}/hooks`, active: true,
      eventTypes: [T.DELIVERY_EVENT_TYPE_CONVERSION_ATTRIBUTED, T.DELIVERY_EVENT_TYPE_CONVERSION_UNATTRIBUTED],
      filters: { campaignIds: ['camp-1'], offerIds: [], partnerIds: [] }, rateLimitPerSecond: 0, timeoutMs: 2000,
    });
    expect(created.created).toBe(true);
    expect(created.secret).toMatch(/^whsec_/);
    hooks.secrets = [created.secret];
    // The secret is shown once: an update answers without it.
    const again = await h.client.upsertEndpoint({
      endpointId: 'crm', name: 'CRM', kind: EndpointKind.ENDPOINT_KIND_WEBHOOK, url: `${hooks.url}/hooks`, active: true,
      eventTypes: [T.DELIVERY_EVENT_TYPE_CONVERSION_ATTRIBUTED, T.DELIVERY_EVENT_TYPE_CONVERSION_UNATTRIBUTED],
      filters: { campaignIds: ['camp-1'], offerIds: [], partnerIds: [] }, rateLimitPerSecond: 0, timeoutMs: 2000,
    });
    expect(again).toMatchObject({ created: false, secret: '' });

    await h.client.upsertEndpoint({
      endpointId: 'traffic-src', name: 'Traffic source', kind: EndpointKind.ENDPOINT_KIND_POSTBACK_TEMPLATE, active: true,
      url: `${postbacks.url}/pb?cid={click_id}&sum={payout}&cur={currency}&st={status}&msg={message_id}&o={offer_id}`,
      eventTypes: [T.DELIVERY_EVENT_TYPE_CONVERSION_ATTRIBUTED, T.DELIVERY_EVENT_TYPE_CONVERSION_REVERSED],
      filters: { campaignIds: [], offerIds: ['off-1'], partnerIds: [] }, rateLimitPerSecond: 0, timeoutMs: 2000,
    });

    await h.publish(Events.ConversionAttributed, { attribution: attributed(1, { creditedClickId: 'clk 1&x' }) }, 'a-1');
    await h.publish(Events.ConversionAttributed, { attribution: attributed(2, { campaignId: 'camp-2', offerId: 'off-2' }) }, 'a-2');
    await h.publish(Events.ConversionUnattributed, {
      attribution: attributed(3, { outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_UNATTRIBUTED, reason: UnattributedReason.UNATTRIBUTED_REASON_OUTSIDE_WINDOW }),
    }, 'u-3');
    // Attribution's copy of the same event (a redelivery) is applied once.
    await h.publish(Events.ConversionAttributed, { attribution: attributed(1, { creditedClickId: 'clk 1&x' }) }, 'a-1');
    // The partner reverses conversion 1: attribution corrects its decision (cause "adjustment").
    await h.publish(Events.AttributionCorrected, {
      previous: attributed(1, { creditedClickId: 'clk 1&x' }),
      current: attributed(1, { creditedClickId: 'clk 1&x', status: ConversionStatus.CONVERSION_STATUS_REVERSED, payout: usd('0') }),
      cause: 'adjustment', correctionId: 'corr-1',
    }, 'corr-1');
    // A re-attribution correction is not an event endpoints can ask for.
    await h.publish(Events.AttributionCorrected, { previous: attributed(1), current: attributed(1, { campaignId: 'camp-1' }), cause: 'reattribution', correctionId: 'corr-2' }, 'corr-2');
    // Clicks are opt-in: no endpoint asked, nothing is sent.
    await h.publish(Events.ClickRecorded, { click: Click.fromPartial({ clickId: 'clk-9', offerId: 'off-1', campaignId: 'camp-1', clickClass: ClickClass.CLICK_CLASS_HUMAN }) }, 'c-9');

    const webhooks = await eventually(async () => hooks.bodies().length >= 2 && hooks.bodies(), 15_000);
    expect(webhooks.map((b) => [b.type, b.data.conversion_id]).sort()).toEqual([
      ['conversion.attributed', 'conv-1'],
      ['conversion.unattributed', 'conv-3'],
    ]);
    expect(hooks.refused).toEqual([]);
    expect(webhooks[0].data).toMatchObject({ payout: { amount: '24.99', amount_micros: '24990000', currency: 'USD' } });
    const got = await eventually(async () => postbacks.received.length >= 2 && postbacks.received, 15_000);
    expect(got.map((r) => r.url).sort()).toEqual([
      '/pb?cid=clk%201%26x&sum=0&cur=USD&st=reversed&msg=msg-1&o=off-1',
      '/pb?cid=clk%201%26x&sum=24.99&cur=USD&st=approved&msg=msg-1&o=off-1',
    ]);

    // The log: each delivery once, delivered on its first attempt, with its status code and latency (results are
    // recorded a moment after the receiver answers).
    const deliveries = await eventually(async () => {
      const page = await h.client.listDeliveries({ endpointId: 'crm', status: DeliveryStatus.DELIVERY_STATUS_DELIVERED, limit: 10, pageToken: '' });
      return page.deliveries.length === 2 && page.deliveries;
    }, 10_000);
    for (const d of deliveries) expect(d).toMatchObject({ status: DeliveryStatus.DELIVERY_STATUS_DELIVERED, attempts: 1, lastStatusCode: 204, lastError: '' });
    expect(new Set(deliveries.map((d) => d.messageId))).toEqual(new Set(webhooks.map((w) => w.id)));
    const { attempts } = await h.client.listDeliveryAttempts({ deliveryId: deliveries[0].deliveryId });
    expect(attempts).toEqual([expect.objectContaining({ attempt: 1, statusCode: 204, error: '' })]);
    // Nothing else waits to be sent (the click and the other campaign made no delivery).
    expect(await h.sql(`SELECT endpoint_id, event_type FROM "delivery".deliveries WHERE status <> 'DELIVERED'`)).toEqual([]);
    expect((await h.sql(`SELECT count(*)::int AS n FROM "delivery".deliveries`))[0]).toEqual({ n: 4 });
  });

  it('redelivers one delivery or a range with the same webhook-id, and signs with both secrets during a rotation', async () => {
    const { deliveries } = await h.client.listDeliveries({ endpointId: 'crm', status: 0, limit: 10, pageToken: '' });
    const before = hooks.received.length;
    expect(await h.client.redeliver({ deliveryId: deliveries[0].deliveryId, endpointId: '', from: undefined, to: undefined })).toEqual({ queued: 1 });
    await eventually(async () => hooks.received.length === before + 1, 10_000);
    expect(hooks.received[before].id).toBe(deliveries[0].messageId);

    const rotated = await h.client.rotateEndpointSecret({ endpointId: 'crm', overlapSeconds: 3600 });
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.endpoint!.previousSecretExpiresAt).toBeDefined();
    // A receiver that still holds only the old secret verifies during the overlap; so does one with the new.
    hooks.secrets = [hooks.secrets[0]];
    const { queued } = await h.client.redeliver({ deliveryId: '', endpointId: 'crm', from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 60_000) });
    expect(queued).toBe(2);
    await eventually(async () => hooks.received.length === before + 3, 10_000);
    const last = hooks.received.slice(before + 1);
    expect(new Set(last.map((r) => r.id))).toEqual(new Set(deliveries.map((d) => d.messageId)));
    for (const r of last) expect(r.signature.split(' ')).toHaveLength(2);
    hooks.secrets = [rotated.secret];
    expect(await h.client.redeliver({ deliveryId: deliveries[1].deliveryId, endpointId: '', from: undefined, to: undefined })).toEqual({ queued: 1 });
    await eventually(async () => hooks.received.length === before + 4, 10_000);
    expect(hooks.refused).toEqual([]);
    await eventually(async () => (await h.client.listDeliveryAttempts({ deliveryId: deliveries[1].deliveryId })).attempts.length === 3, 10_000);
    expect((await h.client.listDeliveryAttempts({ deliveryId: deliveries[1].deliveryId })).attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
  });

  it('retries a failing endpoint with backoff, then disables it after N failures in a row and says so', async () => {
    const { secret } = await h.client.upsertEndpoint({
      endpointId: 'broken', name: 'Broken', kind: EndpointKind.ENDPOINT_KIND_WEBHOOK, url: `${broken.url}/x`, active: true,
      eventTypes: [T.DELIVERY_EVENT_TYPE_CONVERSION_ATTRIBUTED], filters: { campaignIds: [], offerIds: [], partnerIds: [] }, rateLimitPerSecond: 0, timeoutMs: 1000,
    });
    broken.secrets = [secret];
    await h.publish(Events.ConversionAttributed, { attribution: attributed(10) }, 'a-10');
    const disabled = await eventually(async () => (await h.deliveryEvents(Events.EndpointDisabled))[0], 15_000);
    expect(broken.refused).toEqual([]);
    // Every endpoint change went out as EndpointUpserted (the protobuf message has no field for a secret).
    const upserts = await h.deliveryEvents(Events.EndpointUpserted);
    expect(upserts.map((e) => e.endpoint!.endpointId)).toEqual(['crm', 'crm', 'traffic-src', 'crm', 'broken']);
    expect(disabled).toMatchObject({ endpointId: 'broken', consecutiveFailures: 4 });
    const { endpoint } = await h.client.getEndpoint({ endpointId: 'broken' });
    expect(endpoint).toMatchObject({ active: false, consecutiveFailures: 4, disabledReason: 'disabled after 4 failed attempts in a row' });
    const { deliveries } = await h.client.listDeliveries({ endpointId: 'broken', status: 0, limit: 10, pageToken: '' });
    // Still pending (it waits for the endpoint to be enabled again), four attempts logged, each an HTTP 500.
    expect(deliveries).toEqual([expect.objectContaining({ status: DeliveryStatus.DELIVERY_STATUS_PENDING, attempts: 4 })]);
    const { attempts } = await h.client.listDeliveryAttempts({ deliveryId: deliveries[0].deliveryId });
    expect(attempts.map((a) => [a.attempt, a.statusCode, a.error])).toEqual([1, 2, 3, 4].map((n) => [n, 500, 'HTTP 500']));
    // Backoff: each wait at least half the (doubling) step — 25, 50, 100 ms.
    const gaps = attempts.slice(1).map((a, i) => a.attemptedAt!.getTime() - attempts[i].attemptedAt!.getTime());
    expect(gaps[0]).toBeGreaterThanOrEqual(25);
    expect(gaps[1]).toBeGreaterThanOrEqual(50);
    expect(gaps[2]).toBeGreaterThanOrEqual(100);
  });

  it('refuses bad endpoints with every problem named', async () => {
    await expect(h.client.upsertEndpoint({
      endpointId: 'bad id', name: '', kind: EndpointKind.ENDPOINT_KIND_POSTBACK_TEMPLATE, url: 'https://ts.example/?c={clickid}', active: true,
      eventTypes: [], filters: undefined, rateLimitPerSecond: 0, timeoutMs: 0,
    })).rejects.toThrow(/endpoint_id .*url .*unknown macros.*event_types/s);
    await expect(h.client.getEndpoint({ endpointId: 'nope' })).rejects.toThrow(/NOT_FOUND|not found/);
  });
});

describe('SSRF guard (real sockets)', () => {
  const receiver = new TestReceiver();
  beforeAll(() => receiver.start());
  afterAll(() => receiver.stop());

  it('refuses loopback by address and by name unless private destinations are allowed', async () => {
    const guarded = new HttpSender(false);
    const open = new HttpSender(true);
    try {
      for (const url of [`${receiver.url}/a`, `http://localhost:${receiver.port}/a`, `http://[::1]:${receiver.port}/a`]) {
        const r = await guarded.send({ method: 'GET', url, headers: {}, timeoutMs: 1000 });
        expect(r).toMatchObject({ statusCode: 0, error: expect.stringMatching(/loopback.*refused/) });
      }
      expect(receiver.received).toEqual([]);
      expect(await open.send({ method: 'GET', url: `${receiver.url}/a`, headers: {}, timeoutMs: 1000 })).toMatchObject({ statusCode: 204, error: '' });
      expect(receiver.received).toHaveLength(1);
    } finally {
      guarded.close();
      open.close();
    }
  });
});
