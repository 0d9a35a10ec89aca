/**
 * The observability hooks of the consumer and the relay, against real Postgres and JetStream: consumer lag and
 * redeliveries per durable, outbox backlog and age, and the request id that travels outbox row -> NATS header ->
 * consumer context.
 */
import type { DataSource } from 'typeorm';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { deleteNatsPrefix, eventually, testInfra, testNatsPrefix } from '@trackly/testing';
import { createLogger } from '@trackly/logging';
import { DurableConsumer, Events, Messaging, Outbox, OutboxRelay, Streams } from '@trackly/messaging';
import { currentRequestId, renderMetrics, runWithRequestContext } from '@trackly/observability';
import { CampaignUpserted } from '@trackly/contracts/tracking/v1/tracking_events';
import { msgTestSpace, SCHEMA } from './msgtest';

jest.setTimeout(30_000);

const logger = createLogger('observability-test', process.env.TEST_LOG_LEVEL ?? 'warn');

function campaign(id: string): CampaignUpserted {
  return { campaign: { campaignId: id, name: `Campaign ${id}`, updatedAt: new Date('2026-11-02T10:00:00Z') } };
}

/** The value of one series in the exposition text, or undefined when absent. */
function series(text: string, name: string, labels: Record<string, string>): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (m && m[1] === name && want.every((w) => m[2].split(',').includes(w))) return Number(m[3]);
  }
  return undefined;
}

describe('consumer and relay metrics, request ids across NATS', () => {
  const space = msgTestSpace();
  const nats = space.nats;
  let ds: DataSource;

  beforeAll(() => {
    ds = space.ds();
  });


  it('reports lag and redeliveries per durable, and hands the handler the request id from the headers', async () => {
    const m = await nats.connect('obs-consumer');
    const stream = m.streamName(Streams.tracking);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    // Last successful view of each event (an event is handled again when its batch is split after a failure).
    const seen = new Map<string, { id: string; ctx?: string; als?: string }>();
    let failures = 0;
    const c = new DurableConsumer({ messaging: m, dataSource: ds, schema: SCHEMA, durable: 'obs', stream: Streams.tracking, logger });
    c.on(Events.CampaignUpserted, async (event, ctx) => {
      await gate;
      const id = event.campaign!.campaignId;
      // Fails in its group, then in the half holding it, then alone: so its first delivery fails and it comes back.
      if (id === 'retry' && failures < 3) {
        failures++;
        throw new Error('first delivery fails');
      }
      seen.set(id, { id, ctx: ctx.requestId, als: currentRequestId() });
    });
    const h = natsHeaders();
    h.set('Trackly-Request-Id', 'rq-from-producer');
    await m.js.publish(m.subject(Events.CampaignUpserted.subject), CampaignUpserted.encode(campaign('with-id')).finish(), { msgID: 'e-1', headers: h });
    await m.js.publish(m.subject(Events.CampaignUpserted.subject), CampaignUpserted.encode(campaign('retry')).finish(), { msgID: 'e-2' });
    for (let i = 3; i <= 5; i++) {
      await m.js.publish(m.subject(Events.CampaignUpserted.subject), CampaignUpserted.encode(campaign(`c${i}`)).finish(), { msgID: `e-${i}` });
    }
    await c.start();
    try {
      const labels = { stream, durable: 'obs' };
      // Held by the gate: all five are either waiting in the stream or delivered and unacknowledged.
      await eventually(async () => {
        const text = await renderMetrics();
        return (series(text, 'nats_consumer_pending_messages', labels) ?? 0) + (series(text, 'nats_consumer_ack_pending_messages', labels) ?? 0) === 5;
      });
      release();
      await eventually(async () => seen.size === 5 || undefined, 15_000);
      const text = await eventually(async () => {
        const t = await renderMetrics();
        return series(t, 'nats_consumer_pending_messages', labels) === 0 && series(t, 'nats_consumer_ack_pending_messages', labels) === 0 ? t : undefined;
      });
      expect(series(text, 'nats_consumer_redeliveries_total', labels)).toBe(1);
      expect(series(text, 'nats_consumer_messages_total', { ...labels, outcome: 'applied' })).toBe(5);
      expect(series(text, 'nats_consumer_messages_total', { ...labels, outcome: 'retry' })).toBe(1);
      expect(series(text, 'nats_consumer_handling_seconds_count', labels)).toBe(5); // observed when an event commits
      expect(series(text, 'nats_consumer_bisections_total', labels)).toBeGreaterThanOrEqual(1);
      // The producer's id when it sent one, else the event id: either way the same in ctx and on log lines.
      expect(seen.get('with-id')).toEqual({ id: 'with-id', ctx: 'rq-from-producer', als: 'rq-from-producer' });
      expect(seen.get('retry')).toEqual({ id: 'retry', ctx: 'e-2', als: 'e-2' });
    } finally {
      await c.stop();
    }
    // A stopped consumer no longer reports lag.
    expect(series(await renderMetrics(), 'nats_consumer_pending_messages', { stream, durable: 'obs' })).toBeUndefined();
  });

  it('reports the outbox backlog and its age while NATS refuses, and carries the request id to the message', async () => {
    const prefix = testNatsPrefix();
    const m = await Messaging.connect({ url: testInfra().natsUrl, prefix, name: 'obs-relay' });
    const relay = new OutboxRelay(ds, m, SCHEMA, logger, { pollMs: 50 });
    const labels = { schema: SCHEMA };
    try {
      await ds.query(`DELETE FROM "${SCHEMA}".outbox`);
      const outbox = new Outbox(SCHEMA);
      await runWithRequestContext({ requestId: 'rq-outbox' }, () =>
        ds.transaction((manager) => outbox.addMany(manager, Events.CampaignUpserted, [campaign('o1'), campaign('o2')])),
      );
      const stored: { headers: Record<string, string> }[] = await ds.query(`SELECT headers FROM "${SCHEMA}".outbox`);
      expect(stored.map((r) => r.headers['Trackly-Request-Id'])).toEqual(['rq-outbox', 'rq-outbox']);
      // No stream yet: every publish fails and the rows wait.
      relay.start();
      // The age is measured from the rows' creation: wait until the relay has failed once and the rows are 0.2 s old.
      let text = await eventually(async () => {
        const t = await renderMetrics();
        return (series(t, 'outbox_publish_failures_total', labels) ?? 0) >= 1 && (series(t, 'outbox_oldest_unpublished_age_seconds', labels) ?? 0) > 0.2 ? t : undefined;
      }, 10_000, 50);
      expect(series(text, 'outbox_backlog_messages', labels)).toBe(2);
      expect(series(text, 'outbox_oldest_unpublished_age_seconds', labels)).toBeGreaterThan(0.2);
      expect(series(text, 'outbox_publish_failures_total', labels)).toBeGreaterThanOrEqual(1);
      await m.ensureStreams([Streams.tracking]);
      text = await eventually(async () => {
        const t = await renderMetrics();
        return series(t, 'outbox_backlog_messages', labels) === 0 ? t : undefined;
      }, 15_000);
      expect(series(text, 'outbox_oldest_unpublished_age_seconds', labels)).toBe(0);
      expect(series(text, 'outbox_published_total', labels)).toBe(2);
      const consumer = await m.js.consumers.get(m.streamName(Streams.tracking));
      const ids: string[] = [];
      for await (const msg of await consumer.fetch({ max_messages: 2, expires: 2000 })) ids.push(msg.headers?.get('Trackly-Request-Id') ?? '');
      expect(ids).toEqual(['rq-outbox', 'rq-outbox']);
    } finally {
      await relay.stop();
      await m.close();
      await deleteNatsPrefix(prefix);
    }
  });
});
