import { DeliveryEventType, DeliveryStatus, EndpointKind } from '@trackly/contracts/delivery/v1/delivery';
import { Events } from '@trackly/messaging';
import { eventually } from '@trackly/testing';
import { attributed, DeliveryHarness } from './support';
import { TestReceiver } from './receiver';

const N = 300;

/**
 * Fault: the receiver is down (its port refuses connections) while events arrive, for long enough that every
 * delivery has failed more than once; the delivery app is also restarted meanwhile. Once the receiver is back,
 * every event arrives, none is lost, and no event arrives under two webhook-ids (copies under the same id are
 * allowed: at-least-once, and the id is what a receiver dedupes on).
 */
describe('delivery fault: receiver down for a while, app restarted', () => {
  jest.setTimeout(90_000);
  const h = new DeliveryHarness();
  const receiver = new TestReceiver();

  beforeAll(async () => {
    await receiver.start();
    await h.start({ DELIVERY_DISABLE_AFTER_FAILURES: '0', DELIVERY_BACKOFF_BASE_MS: '100', DELIVERY_BACKOFF_MAX_MS: '800' });
  });
  afterAll(async () => {
    await h.close();
    await receiver.stop();
  });

  it('delivers every event once the receiver is back: none lost, none under two ids', async () => {
    const { secret } = await h.client.upsertEndpoint({
      endpointId: 'wh', name: 'Webhook', kind: EndpointKind.ENDPOINT_KIND_WEBHOOK, url: `${receiver.url}/in`, active: true,
      eventTypes: [DeliveryEventType.DELIVERY_EVENT_TYPE_CONVERSION_ATTRIBUTED], filters: { campaignIds: [], offerIds: [], partnerIds: [] },
      rateLimitPerSecond: 1000, timeoutMs: 1000,
    });
    receiver.secrets = [secret];
    await receiver.stop();

    // Published concurrently, as a burst of decisions reaches the stream.
    await Promise.all(Array.from({ length: N }, (_, i) => h.publish(Events.ConversionAttributed, { attribution: attributed(i) }, `ev-${i}`)));
    // Every delivery exists and has failed at least twice against the closed port.
    await eventually(async () => {
      const [r] = await h.sql<{ n: number; failing: number }>(
        `SELECT count(*)::int AS n, count(*) FILTER (WHERE attempts >= 2 AND status = 'PENDING' AND last_status_code = 0)::int AS failing FROM "delivery".deliveries`,
      );
      if (r.n === N && r.failing === N) return true;
      throw new Error(`want ${N} deliveries each failed twice or more; have ${JSON.stringify(r)}`);
    }, 30_000);
    expect(receiver.received).toEqual([]);

    // A restart in the middle of the outage: pending deliveries and their ids survive in Postgres.
    await h.stopApp();
    await h.start({ DELIVERY_DISABLE_AFTER_FAILURES: '0', DELIVERY_BACKOFF_BASE_MS: '100', DELIVERY_BACKOFF_MAX_MS: '800' });
    // A producer retrying some of the events (same message ids) makes no new delivery and no new id.
    await Promise.all(Array.from({ length: 20 }, (_, i) => h.publish(Events.ConversionAttributed, { attribution: attributed(i) }, `ev-${i}`)));

    await receiver.start();
    const delivered = await eventually(async () => {
      const [r] = await h.sql<{ n: number }>(`SELECT count(*)::int AS n FROM "delivery".deliveries WHERE status = 'DELIVERED'`);
      return r.n === N && r;
    }, 45_000);
    expect(delivered.n).toBe(N);

    const byConversion = new Map<string, Set<string>>();
    for (const b of receiver.bodies('conversion.attributed')) {
      const ids = byConversion.get(String(b.data.conversion_id)) ?? new Set<string>();
      ids.add(b.id);
      byConversion.set(String(b.data.conversion_id), ids);
    }
    expect(receiver.refused).toEqual([]);
    expect(byConversion.size).toBe(N);
    const twoIds = [...byConversion].filter(([, ids]) => ids.size !== 1);
    expect(twoIds).toEqual([]);
    const rows = await h.sql<{ message_id: string; attempts: number }>(`SELECT message_id, attempts FROM "delivery".deliveries`);
    expect(new Set(rows.map((r) => r.message_id))).toEqual(new Set([...byConversion.values()].map((ids) => [...ids][0])));
    expect(Math.min(...rows.map((r) => r.attempts))).toBeGreaterThanOrEqual(3);
    const { deliveries } = await h.client.listDeliveries({ endpointId: 'wh', status: DeliveryStatus.DELIVERY_STATUS_PENDING, limit: 10, pageToken: '' });
    expect(deliveries).toEqual([]);
  });
});
