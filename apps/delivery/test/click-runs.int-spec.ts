/**
 * Clicks published in runs (ClicksRecorded: up to 100 clicks the relay read together per event) reaching delivery on
 * real Postgres, NATS and real HTTP receivers: each click of a run becomes its own click.recorded delivery to every
 * endpoint that asked for clicks, keyed by its click id (the event id a click read alone has), so a click carried
 * again — in a lone ClickRecorded, in another run cut otherwise, in a re-driven copy of the run — is delivered once
 * per endpoint, with the same webhook-id and event_id whichever event brought it.
 */
import { createHash, randomUUID } from 'node:crypto';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import { DeliveryEventType, EndpointKind } from '@trackly/contracts/delivery/v1/delivery';
import { Click, ClickClass } from '@trackly/contracts/tracking/v1/tracking';
import { durableName, EVENT_ID_HEADER, Events, EventType, Streams } from '@trackly/messaging';
import { eventually } from '@trackly/testing';
import { messageIdFor } from '../src/domain/webhook-signing';
import { DeliveryHarness } from './support';
import { TestReceiver } from './receiver';

jest.setTimeout(60_000);

const CLICKS_DURABLE = durableName('delivery', Streams.trackingClicks);
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const tap = (clickId: string, n: number, over: Partial<Click> = {}): Click =>
  Click.fromPartial({
    clickId, messageId: `msg-${clickId}`, contactId: `ct-${clickId}`, offerId: 'off-1', campaignId: 'camp-1', creativeId: 'cr-1',
    clickedAt: new Date(Date.UTC(2026, 11, 1, 10, 0, n)), firstClickOnMessage: true, clickClass: ClickClass.CLICK_CLASS_HUMAN, ...over,
  });

describe('delivery: clicks in runs (Postgres, NATS, real HTTP receivers)', () => {
  const h = new DeliveryHarness();
  const hooks = new TestReceiver();
  const postbacks = new TestReceiver();

  /** Publishes an event as tracking's relay (or, with `eventId`, a re-drive: Trackly-Event-Id is the original id). */
  const publish = async <T>(type: EventType<T>, payload: T, msgID: string, eventId?: string): Promise<void> => {
    const hd = natsHeaders();
    if (eventId) hd.set(EVENT_ID_HEADER, eventId);
    await jetstream(h.nc).publish(`${h.prefix}.${type.subject}`, type.codec.encode(payload).finish(), { msgID, headers: hd });
  };
  const run = (clicks: Click[], msgID: string, eventId?: string) => publish(Events.ClicksRecorded, { clicks }, msgID, eventId);
  /** A click the relay read alone: Nats-Msg-Id = its click id. */
  const lone = (c: Click) => publish(Events.ClickRecorded, { click: c }, c.clickId);
  /** [endpoint, event key, status] of every delivery of these event keys, sorted. */
  const deliveries = async (keys: string[]) =>
    (
      await h.sql<{ endpoint_id: string; event_key: string; status: string; message_id: string }>(
        `SELECT endpoint_id, event_key, status, message_id FROM "delivery".deliveries WHERE event_key = ANY($1::text[]) ORDER BY endpoint_id, event_key`,
        [keys],
      )
    ).map((d) => [d.endpoint_id, d.event_key, d.status, d.message_id]);
  const expected = (keys: string[]) =>
    ['hooks', 'pb'].flatMap((e) => [...keys].sort().map((k) => [e, k, 'DELIVERED', messageIdFor(k, e, sha256)]));
  const processed = async (ids: string[]) =>
    (await h.sql<{ event_id: string }>(`SELECT event_id FROM "delivery".processed_events WHERE consumer = $1 AND event_id = ANY($2::text[]) ORDER BY 1`, [CLICKS_DURABLE, ids])).map(
      (r) => r.event_id,
    );
  /** Waits until a sentinel click (after everything published before it) is delivered to both endpoints. */
  const sentinel = async () => {
    const id = `sentinel-${randomUUID()}`;
    await lone(tap(id, 59));
    await eventually(async () => (await deliveries([id])).filter((d) => d[2] === 'DELIVERED').length === 2, 20_000);
    return id;
  };
  /** Webhooks received (click.recorded) as [webhook-id, click_id], by click id. */
  const webhooks = () => hooks.bodies('click.recorded').map((b) => [b.id, String(b.data.click_id)]).sort((x, y) => x[1].localeCompare(y[1]));

  beforeAll(async () => {
    await Promise.all([hooks.start(), postbacks.start()]);
    await h.start();
    const ep = await h.client.upsertEndpoint({
      endpointId: 'hooks', name: 'Clicks', kind: EndpointKind.ENDPOINT_KIND_WEBHOOK, url: `${hooks.url}/hooks`, active: true,
      eventTypes: [DeliveryEventType.DELIVERY_EVENT_TYPE_CLICK_RECORDED], filters: { campaignIds: [], offerIds: [], partnerIds: [] }, rateLimitPerSecond: 0, timeoutMs: 2000,
    });
    hooks.secrets = [ep.secret];
    await h.client.upsertEndpoint({
      endpointId: 'pb', name: 'Traffic source', kind: EndpointKind.ENDPOINT_KIND_POSTBACK_TEMPLATE, url: `${postbacks.url}/pb?cid={click_id}&ev={event_id}`, active: true,
      eventTypes: [DeliveryEventType.DELIVERY_EVENT_TYPE_CLICK_RECORDED], filters: { campaignIds: ['camp-1'], offerIds: [], partnerIds: [] }, rateLimitPerSecond: 0, timeoutMs: 2000,
    });
  });

  afterAll(async () => {
    await h.close();
    await Promise.all([hooks.stop(), postbacks.stop()]);
  });

  it('delivers each click of a run on its own, keyed by its click id, to every endpoint that asked for clicks', async () => {
    const k = [tap('k1', 1), tap('k2', 2), tap('k3', 3)];
    await run(k, 'click-run-1');
    await eventually(async () => (await deliveries(['k1', 'k2', 'k3'])).filter((d) => d[2] === 'DELIVERED').length === 6, 20_000);
    expect(await deliveries(['k1', 'k2', 'k3'])).toEqual(expected(['k1', 'k2', 'k3']));
    expect(hooks.refused).toEqual([]);
    expect(webhooks()).toEqual(['k1', 'k2', 'k3'].map((c) => [messageIdFor(c, 'hooks', sha256), c]));
    const body = hooks.bodies('click.recorded').find((b) => b.data.click_id === 'k2')!;
    expect(body.data).toMatchObject({ click_id: 'k2', message_id: 'msg-k2', contact_id: 'ct-k2', offer_id: 'off-1', campaign_id: 'camp-1', clicked_at: '2026-12-01T10:00:02.000Z' });
    expect(postbacks.received.map((r) => r.url).sort()).toEqual(['/pb?cid=k1&ev=k1', '/pb?cid=k2&ev=k2', '/pb?cid=k3&ev=k3']);
  });

  it('delivers a click once per endpoint when it comes again alone, in another run and in a re-driven copy of its run', async () => {
    const k = [tap('k1', 1), tap('k2', 2), tap('k3', 3)];
    await lone(k[1]); // the relay read it alone: event id = click id
    await run([k[1], k[2], tap('k4', 4)], 'click-run-2'); // a re-drive cut the clicks another way: another event id
    await run(k, 'redrive:click-run-1', 'click-run-1'); // a re-driven copy of the first run
    await lone(tap('k5', 5)); // a new click read alone
    const s = await sentinel();
    await eventually(async () => (await deliveries(['k1', 'k2', 'k3', 'k4', 'k5'])).filter((d) => d[2] === 'DELIVERED').length >= 10, 20_000);
    // Every event applied (the re-driven copy recognised as click-run-1), each click delivered once per endpoint.
    expect(await processed(['click-run-1', 'k2', 'click-run-2', 'redrive:click-run-1', 'k5'])).toEqual(['click-run-1', 'click-run-2', 'k2', 'k5']);
    expect(await deliveries(['k1', 'k2', 'k3', 'k4', 'k5'])).toEqual(expected(['k1', 'k2', 'k3', 'k4', 'k5']));
    expect((await h.sql(`SELECT count(*)::int AS n FROM "delivery".deliveries WHERE event_key <> $1`, [s]))[0]).toEqual({ n: 10 });
    expect((await h.sql(`SELECT event_key FROM "delivery".events WHERE event_key <> $1 ORDER BY 1`, [s])).map((r) => r.event_key)).toEqual(['k1', 'k2', 'k3', 'k4', 'k5']);
    const got = webhooks().filter(([, c]) => c !== s);
    expect(got).toEqual(['k1', 'k2', 'k3', 'k4', 'k5'].map((c) => [messageIdFor(c, 'hooks', sha256), c]));
    expect(postbacks.received.map((r) => r.url).filter((u) => !u.includes('sentinel')).sort()).toEqual(['k1', 'k2', 'k3', 'k4', 'k5'].map((c) => `/pb?cid=${c}&ev=${c}`));
    expect(await h.sql(`SELECT endpoint_id, event_key FROM "delivery".deliveries WHERE status <> 'DELIVERED'`)).toEqual([]);
  });
});
