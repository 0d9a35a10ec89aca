import type { DataSource } from 'typeorm';
import { eventually } from '@trackly/testing';
import { createLogger } from '@trackly/logging';
import { ConsumerOptions, DeadLetterStream, EventHandler, Events, GROUP_MAX_BYTES, Messaging, Streams } from '@trackly/messaging';
import { headers } from '@nats-io/nats-core';
import { CampaignUpserted, MessageSent } from '@trackly/contracts/tracking/v1/tracking_events';
import { drained, items, msgTestSpace, SCHEMA, sleep, trackingConsumers } from './msgtest';

// The dead-letter cases wait out real redelivery backoffs.
jest.setTimeout(30_000);

const logger = createLogger('consumer-test', process.env.TEST_LOG_LEVEL ?? 'warn');

type Campaign = CampaignUpserted;

function campaign(id: string): Campaign {
  return { campaign: { campaignId: id, name: `Campaign ${id}`, updatedAt: new Date('2026-11-02T10:00:00Z') } };
}

/** Publishes a real CampaignUpserted (or raw bytes) the way a relay does: on the prefixed subject, with a msgID. */
async function publish(m: Messaging, msgID: string, body: Campaign | Uint8Array): Promise<number> {
  const data = body instanceof Uint8Array ? body : CampaignUpserted.encode(body).finish();
  const ack = await m.js.publish(m.subject(Events.CampaignUpserted.subject), data, { msgID });
  return ack.seq;
}

describe('DurableConsumer (real Postgres and NATS JetStream)', () => {
  const space = msgTestSpace();
  const nats = space.nats;
  let ds: DataSource;

  /** The handler every test uses unless it needs its own: records the effect through the transaction's manager. */
  const record: EventHandler<Campaign> = async (event, { manager, eventId }) => {
    await manager.query(`INSERT INTO "${SCHEMA}".items (key) VALUES ($1)`, [`${event.campaign!.campaignId}|${eventId}`]);
  };

  const newConsumer = trackingConsumers(space, logger);
  const consumer = (m: Messaging, durable: string, handle: EventHandler<Campaign>, opts: Partial<ConsumerOptions> = {}) =>
    newConsumer(m, durable, opts).on(Events.CampaignUpserted, handle);

  beforeAll(() => {
    ds = space.ds();
  });

  it('applies an event once when the handler fails the first time (nak, redelivery, rolled-back effect)', async () => {
    const m = await nats.connect('consumer-retry');
    const attempts: string[] = [];
    let committed = 0;
    const c = consumer(
      m,
      'retry',
      async (event, ctx) => {
        attempts.push(ctx.eventId);
        await record(event, ctx); // written, then rolled back with the failure
        if (attempts.length === 1) throw new Error('transient failure');
      },
      { onCommitted: () => committed++ },
    );
    await c.start();
    await publish(m, 'evt-retry-1', campaign('retry-a'));
    await eventually(async () => (await items(ds, 'retry-a')).length === 1);
    await drained(m, 'retry', 1);
    expect(attempts).toEqual(['evt-retry-1', 'evt-retry-1']);
    expect(await items(ds, 'retry-a')).toEqual(['retry-a|evt-retry-1']);
    expect(committed).toBe(1);
    const processed = await ds.query(`SELECT event_id FROM "${SCHEMA}".processed_events WHERE consumer = 'retry'`);
    expect(processed).toEqual([{ event_id: 'evt-retry-1' }]);
  });

  it('applies a backlog in shared transactions (group commit); a failing event is rolled back alone and retried', async () => {
    const m = await nats.connect('consumer-group');
    for (let i = 0; i < 40; i++) await publish(m, `evt-group-${i}`, campaign(`group-${String(i).padStart(2, '0')}`));
    await publish(m, 'evt-group-0', campaign('group-00')); // a republish inside the dedupe window: dropped by the stream
    const txids: string[] = [];
    let failed = false;
    const c = consumer(m, 'group', async (event, ctx) => {
      await record(event, ctx); // the failing one's write must be rolled back with its transaction
      if (event.campaign!.campaignId === 'group-07' && !failed) {
        failed = true;
        throw new Error('transient failure');
      }
      const [{ txid }] = await ctx.manager.query(`SELECT txid_current()::text AS txid`);
      txids.push(txid);
    }, { groupSize: 50 });
    await c.start();
    await eventually(async () => (await items(ds, 'group-')).length === 40);
    await drained(m, 'group', 40);
    const keys = await items(ds, 'group-');
    expect(new Set(keys).size).toBe(40); // each applied once, the failed one after its retry
    expect(keys.filter((k) => k.startsWith('group-07|'))).toEqual(['group-07|evt-group-7']);
    expect(new Set(txids).size).toBeLessThan(20); // shared commits, not one per event
    const processed = await ds.query(`SELECT count(*)::int AS n FROM "${SCHEMA}".processed_events WHERE consumer = 'group'`);
    expect(processed[0].n).toBe(40);
  });

  it('keys deduplication on the event id: identical payloads with different ids are two events', async () => {
    const m = await nats.connect('consumer-key');
    const seen: { eventId: string; subject: string }[] = [];
    const c = consumer(m, 'key', async (event, ctx) => {
      seen.push({ eventId: ctx.eventId, subject: ctx.subject });
      await record(event, ctx);
    });
    await c.start();
    const same = campaign('key-a');
    await publish(m, 'evt-key-1', same);
    await publish(m, 'evt-key-2', same);
    await eventually(async () => (await items(ds, 'key-a')).length === 2);
    await drained(m, 'key', 2);
    expect(seen).toEqual([
      { eventId: 'evt-key-1', subject: Events.CampaignUpserted.subject },
      { eventId: 'evt-key-2', subject: Events.CampaignUpserted.subject },
    ]);
    expect(await items(ds, 'key-a')).toEqual(['key-a|evt-key-1', 'key-a|evt-key-2']);
  });

  it('only acknowledges an event whose id is already in processed_events, and events it has no handler for', async () => {
    const m = await nats.connect('consumer-seen');
    await ds.query(`INSERT INTO "${SCHEMA}".processed_events (consumer, event_id) VALUES ('seen', 'evt-seen-1')`);
    const calls: string[] = [];
    let committed = 0;
    const c = consumer(
      m,
      'seen',
      async (event, ctx) => {
        calls.push(ctx.eventId);
        await record(event, ctx);
      },
      { onCommitted: () => committed++ },
    );
    await c.start();
    await publish(m, 'evt-seen-1', campaign('seen-a'));
    await m.js.publish(
      m.subject(Events.MessageSent.subject),
      MessageSent.encode({ messageId: 'm1', contactId: 'c1', phoneMasked: '+1***1234', campaignId: 'x', creativeId: 'y', offerId: 'z', sentAt: new Date() }).finish(),
      { msgID: 'evt-seen-unhandled' },
    );
    await publish(m, 'evt-seen-2', campaign('seen-b'));
    await drained(m, 'seen', 3);
    expect(calls).toEqual(['evt-seen-2']);
    expect(await items(ds, 'seen-')).toEqual(['seen-b|evt-seen-2']);
    expect(committed).toBe(1);
    // The durable consumer's record is per consumer: another consumer still applies the same event.
    const other = consumer(m, 'seen-other', record);
    await other.start();
    await eventually(async () => (await items(ds, 'seen-a')).length === 1);
  });

  it('dead-letters an undecodable payload and keeps the stream flowing', async () => {
    const m = await nats.connect('consumer-poison');
    const poison = new Uint8Array([0x0f, 0xff, 0xff]); // field 1 with wire type 7: no protobuf decoder accepts it
    expect(() => CampaignUpserted.decode(poison)).toThrow();
    const c = consumer(m, 'poison', record);
    await c.start();
    const poisonSeq = await publish(m, 'evt-poison', poison);
    await publish(m, 'evt-after-poison', campaign('poison-good'));
    await eventually(async () => (await items(ds, 'poison-good')).length === 1);
    await drained(m, 'poison', 2);

    const letters = await ds.query(
      `SELECT consumer, stream, stream_seq, subject, event_id, reason, payload FROM "${SCHEMA}".dead_letters WHERE consumer = 'poison'`,
    );
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      consumer: 'poison',
      stream: m.streamName(Streams.tracking),
      stream_seq: String(poisonSeq),
      subject: Events.CampaignUpserted.subject,
      event_id: 'evt-poison',
    });
    expect(letters[0].reason).toMatch(/^undecodable payload/);
    expect(Buffer.from(letters[0].payload)).toEqual(Buffer.from(poison));

    const dl = await deadLetterMessages(m);
    expect(dl).toEqual([
      {
        subject: `${m.prefix}.trackly.deadletter.poison`,
        data: Buffer.from(poison),
        reason: expect.stringMatching(/^undecodable payload/),
        originalSubject: Events.CampaignUpserted.subject,
        originalSeq: String(poisonSeq),
      },
    ]);
  });

  it('dead-letters a message whose header block nats.js cannot parse (it would fail the same way every time)', async () => {
    const m = await nats.connect('consumer-bad-headers');
    // A key with a space: nats.js's header decoder throws on it. Sent byte for byte (its encoder would refuse it).
    const block = new TextEncoder().encode('NATS/1.0\r\nNats-Msg-Id: evt-bad-headers\r\nBad Key: x\r\n\r\n');
    const h = headers();
    const raw = Object.assign(Object.create(Object.getPrototypeOf(h)), h, { encode: () => block });
    const c = consumer(m, 'bad-headers', record);
    await c.start();
    const ack = await m.js.publish(m.subject(Events.CampaignUpserted.subject), CampaignUpserted.encode(campaign('bad-headers')).finish(), { headers: raw });
    await publish(m, 'evt-after-bad-headers', campaign('bad-headers-good'));
    await eventually(async () => (await items(ds, 'bad-headers-good')).length === 1);
    await drained(m, 'bad-headers', 2);
    expect(await items(ds, 'bad-headers|')).toEqual([]);
    const letters = await ds.query(`SELECT stream_seq, event_id, reason FROM "${SCHEMA}".dead_letters WHERE consumer = 'bad-headers'`);
    expect(letters).toEqual([
      { stream_seq: String(ack.seq), event_id: `${m.streamName(Streams.tracking)}:${ack.seq}`, reason: expect.stringMatching(/^undecodable headers/) },
    ]);
  });

  it('dead-letters an event whose handler fails maxDeliver times, then never retries it', async () => {
    const m = await nats.connect('consumer-failing');
    const calls: number[] = [];
    const started = Date.now();
    const c = consumer(
      m,
      'failing',
      async (event, ctx) => {
        if (event.campaign!.campaignId === 'failing-bad') {
          calls.push(Date.now() - started);
          await record(event, ctx);
          throw new Error('handler always fails');
        }
        await record(event, ctx);
      },
      { maxDeliver: 3 },
    );
    await c.start();
    await publish(m, 'evt-failing-bad', campaign('failing-bad'));
    await publish(m, 'evt-failing-good', campaign('failing-good'));
    // The failing event backs off; the one behind it is not held up.
    await eventually(async () => (await items(ds, 'failing-good')).length === 1, 2000);
    const letters = await eventually(async () => {
      const rows = await ds.query(`SELECT event_id, reason FROM "${SCHEMA}".dead_letters WHERE consumer = 'failing'`);
      return rows.length ? rows : undefined;
    }, 10_000);
    expect(letters).toEqual([{ event_id: 'evt-failing-bad', reason: 'failed 3 times: handler always fails' }]);
    await drained(m, 'failing', 2);
    const callsWhenDeadLettered = calls.length;
    // Three deliveries; the first may have run it twice (with the good event, then alone after the split).
    expect(callsWhenDeadLettered).toBeGreaterThanOrEqual(3);
    expect(callsWhenDeadLettered).toBeLessThanOrEqual(4);
    // Terminated, not merely nak'ed: the consumer holds nothing pending or unacknowledged, so nothing can come back.
    const info = await m.jsm.consumers.info(m.streamName(Streams.tracking), 'failing');
    expect([info.num_pending, info.num_ack_pending, info.num_redelivered]).toEqual([0, 0, 0]);
    expect(calls).toHaveLength(callsWhenDeadLettered);
    expect(await items(ds, 'failing-bad')).toEqual([]); // every attempt's effect was rolled back
    expect(await deadLetterMessages(m)).toEqual([expect.objectContaining({ reason: 'failed 3 times: handler always fails' })]);
  });

  it('applies large events in several transactions of at most GROUP_MAX_BYTES of payload (an oversized one alone), each once', async () => {
    const m = await nats.connect('consumer-bytes');
    // Twelve events of ~100 KB and, in the middle, one of ~600 KB (more than a group's bytes on its own): ~1.7 MB,
    // all waiting on the server before the consumer starts, far fewer messages than any count cap.
    const payloadBytes = new Map<string, number>();
    for (let i = 0; i < 12; i++) {
      const body = CampaignUpserted.encode({
        campaign: { campaignId: `bytes-${String(i).padStart(2, '0')}`, name: 'x'.repeat(i === 6 ? 600_000 : 100_000), updatedAt: new Date('2026-11-02T10:00:00Z') },
      }).finish();
      payloadBytes.set(`evt-bytes-${i}`, body.length);
      await publish(m, `evt-bytes-${i}`, body);
    }
    expect(payloadBytes.get('evt-bytes-6')!).toBeGreaterThan(GROUP_MAX_BYTES);
    expect(payloadBytes.get('evt-bytes-0')! * 6).toBeGreaterThan(GROUP_MAX_BYTES); // six of them are more than a group
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const groups: { txid: string; ids: string[] }[] = [];
    const c = newConsumer(m, 'bytes').onBatch(Events.CampaignUpserted, async (events, { manager }) => {
      const [{ txid }] = await manager.query(`SELECT txid_current()::text AS txid`);
      groups.push({ txid, ids: events.map((d) => d.eventId) });
      if (groups.length === 1) await held; // the rest gathers behind the first group
      await manager.query(`INSERT INTO "${SCHEMA}".items (key) SELECT unnest($1::text[])`, [events.map((d) => `${d.event.campaign!.campaignId}|${d.eventId}`)]);
    });
    await c.start();
    // Everything delivered to the consumer (none acknowledged: the first group holds the line), then let go.
    await eventually(async () => {
      const info = await m.jsm.consumers.info(m.streamName(Streams.tracking), 'bytes');
      return groups.length === 1 && info.num_pending === 0 && info.num_ack_pending === 12;
    });
    release();
    await drained(m, 'bytes', 12);
    // One handler call per transaction (nothing failed, so nothing was split), in stream order.
    expect(new Set(groups.map((g) => g.txid)).size).toBe(groups.length);
    expect(groups.flatMap((g) => g.ids)).toEqual(Array.from({ length: 12 }, (_, i) => `evt-bytes-${i}`));
    // No group over the byte cap but the oversized event, alone.
    const bytes = groups.map((g) => [g.ids.length, g.ids.reduce((n, id) => n + payloadBytes.get(id)!, 0)]);
    expect(bytes.filter(([n, b]) => n > 1 && b > GROUP_MAX_BYTES)).toEqual([]);
    expect(groups.find((g) => g.ids.includes('evt-bytes-6'))!.ids).toEqual(['evt-bytes-6']);
    // Behind the held one, the eleven waiting events were cut by bytes (1.1 MB), not taken in one group.
    expect(groups.length).toBeGreaterThanOrEqual(4);
    expect(Math.max(...groups.slice(1).map((g) => g.ids.length))).toBeGreaterThan(1);
    // Each applied exactly once.
    const keys = await items(ds, 'bytes-');
    expect(keys).toEqual(Array.from({ length: 12 }, (_, i) => `bytes-${String(i).padStart(2, '0')}|evt-bytes-${i}`));
    const processed = await ds.query(`SELECT count(*)::int AS n FROM "${SCHEMA}".processed_events WHERE consumer = 'bytes'`);
    expect(processed[0].n).toBe(12);
  });

  it('finishes the message in flight on stop() and resumes after it on start(), without waiting for redelivery', async () => {
    const m = await nats.connect('consumer-restart');
    const slow: EventHandler<Campaign> = async (event, ctx) => {
      await sleep(30);
      await record(event, ctx);
    };
    // The default ack wait (30 s) is far longer than this test may take: anything left un-acked by stop() fails it.
    // Pulls of 10 even behind a backlog: what is in flight at stop() (two pulls at most, applied a group at a time)
    // is a fraction of the 60.
    const sizes = { batchSize: 10, backlogBatchSize: 10 };
    const first = consumer(m, 'restart', slow, sizes);
    await first.start();
    for (let i = 0; i < 60; i++) await publish(m, `evt-restart-${i}`, campaign(`restart-${String(i).padStart(2, '0')}`));
    await eventually(async () => (await items(ds, 'restart-')).length >= 5);
    await first.stop();
    const applied = (await items(ds, 'restart-')).length;
    expect(applied).toBeLessThan(60);
    // Stopped means stopped: nothing applied after stop() returned, and nothing held back for the ack wait. A pull
    // whose messages arrived after stop() began hands them back with a nak, and the server counts a nak'd message
    // as ack-pending until it is delivered again (nats-server 2.9, checked): at most that one pull. Were they left
    // un-acknowledged instead, the second consumer below would wait the 30 s ack wait for them and fail its 10 s.
    expect((await m.jsm.consumers.info(m.streamName(Streams.tracking), 'restart')).num_ack_pending).toBeLessThanOrEqual(sizes.batchSize);
    expect((await items(ds, 'restart-')).length).toBe(applied);

    for (let i = 60; i < 70; i++) await publish(m, `evt-restart-${i}`, campaign(`restart-${String(i).padStart(2, '0')}`));
    const second = consumer(m, 'restart', slow, sizes);
    const resumed = Date.now();
    await second.start();
    await eventually(async () => (await items(ds, 'restart-')).length === 70, 10_000);
    expect(Date.now() - resumed).toBeLessThan(10_000);
    await drained(m, 'restart', 70);
    const keys = await items(ds, 'restart-');
    expect(new Set(keys).size).toBe(70);
    expect(keys).toEqual([...keys].sort()); // in stream order across the restart
  });
});

/** Everything in the prefix's dead-letter stream. */
async function deadLetterMessages(m: Messaging) {
  const name = m.streamName(DeadLetterStream);
  const total = (await m.jsm.streams.info(name)).state.messages;
  const out: { subject: string; data: Buffer; reason?: string; originalSubject?: string; originalSeq?: string }[] = [];
  if (!total) return out;
  const c = await m.js.consumers.get(name);
  const batch = await c.fetch({ max_messages: total, expires: 2000 });
  for await (const msg of batch) {
    out.push({
      subject: msg.subject,
      data: Buffer.from(msg.data),
      reason: msg.headers?.get('Trackly-Dead-Letter-Reason'),
      originalSubject: msg.headers?.get('Trackly-Original-Subject'),
      originalSeq: msg.headers?.get('Trackly-Original-Stream-Seq'),
    });
  }
  return out;
}
