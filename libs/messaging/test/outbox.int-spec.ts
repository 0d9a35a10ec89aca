import * as trackingEvents from '@trackly/contracts/tracking/v1/tracking_events';
import type { DataSource } from 'typeorm';
import type { Msg } from '@nats-io/nats-core';
import { AckPolicy } from '@nats-io/jetstream';
import { createTestDatabase, eventually, freePort, TestDatabase } from '@trackly/testing';
import { DeadLetterStream, Events, Messaging, MessagingUnavailableError, Outbox, OutboxRelay, Streams } from '@trackly/messaging';
import { CampaignUpserted } from '@trackly/contracts/tracking/v1/tracking_events';
import { migrateMsgTest, migrations, NatsPrefixes, openDataSource, SCHEMA } from './msgtest';

jest.setTimeout(30_000);

interface StoredMessage {
  seq: number;
  subject: string;
  msgId: string;
  headers: Record<string, string>;
  campaignId: string;
}

/** Everything in the prefix's tracking stream, in stream order, read with an ordered consumer. */
async function readStream(m: Messaging): Promise<StoredMessage[]> {
  const name = m.streamName(Streams.tracking);
  const total = (await m.jsm.streams.info(name)).state.messages;
  const out: StoredMessage[] = [];
  if (!total) return out;
  const consumer = await m.js.consumers.get(name);
  while (out.length < total) {
    const before = out.length;
    const batch = await consumer.fetch({ max_messages: total - out.length, expires: 2000 });
    for await (const msg of batch) {
      const headers: Record<string, string> = {};
      for (const [k, v] of msg.headers ?? []) headers[k] = v[0];
      out.push({
        seq: msg.seq,
        subject: msg.subject,
        msgId: msg.headers?.get('Nats-Msg-Id') ?? '',
        headers,
        campaignId: CampaignUpserted.decode(msg.data).campaign?.campaignId ?? '',
      });
    }
    if (out.length === before) throw new Error(`stream ${name} holds ${total} messages but only ${out.length} could be read`);
  }
  return out;
}

async function streamCount(m: Messaging): Promise<number> {
  return (await m.jsm.streams.info(m.streamName(Streams.tracking))).state.messages;
}

/**
 * Counts every publish on the prefix's subjects with a plain (core NATS) subscription: it sees duplicates that the
 * stream's duplicate window would silently drop, so a double publish cannot hide behind JetStream dedupe.
 */
async function watchPublishes(m: Messaging): Promise<{ ids: Map<string, number>; stop(): void }> {
  const ids = new Map<string, number>();
  const sub = m.nc.subscribe(m.subject('trackly.tracking.v1.>'), {
    callback: (_err: Error | null, msg: Msg) => {
      const id = msg.headers?.get('Nats-Msg-Id') ?? '';
      ids.set(id, (ids.get(id) ?? 0) + 1);
    },
  });
  await m.nc.flush();
  return { ids, stop: () => sub.unsubscribe() };
}

function campaign(i: number, tag = 'c') {
  return { campaign: { campaignId: `${tag}-${i}`, name: `Campaign ${i}`, updatedAt: new Date(Date.UTC(2026, 10, 2, 10, 0, i % 60)) } };
}

describe('Outbox and OutboxRelay (real Postgres and NATS JetStream)', () => {
  let db: TestDatabase;
  let ds: DataSource;
  const nats = new NatsPrefixes();
  const outbox = new Outbox(SCHEMA);
  const relays: OutboxRelay[] = [];
  const extraDataSources: DataSource[] = [];

  function relay(m: Messaging, opts: ConstructorParameters<typeof OutboxRelay>[4] = {}, source = ds): OutboxRelay {
    const r = new OutboxRelay(source, m, SCHEMA, undefined, opts);
    relays.push(r);
    return r;
  }

  async function unpublished(): Promise<number> {
    const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM "${SCHEMA}".outbox WHERE published_at IS NULL`);
    return n;
  }

  beforeAll(async () => {
    db = await createTestDatabase('messaging', migrations, migrateMsgTest);
    ds = await openDataSource(db.url);
  });

  beforeEach(async () => {
    await ds.query(`DELETE FROM "${SCHEMA}".outbox`);
  });

  afterEach(async () => {
    await Promise.all(relays.splice(0).map((r) => r.stop()));
  });

  afterAll(async () => {
    await Promise.all(relays.map((r) => r.stop()));
    for (const s of extraDataSources) await s.destroy();
    await ds?.destroy();
    await nats.cleanup();
    await db?.drop();
  });

  it('publishes committed events in insertion order, each with Nats-Msg-Id = its outbox id, and marks them published', async () => {
    const m = await nats.connect('outbox-order');
    // A long poll: only kick() can make these publish within the test's time.
    const r = relay(m, { batchSize: 30, pollMs: 60_000 });
    r.start();
    const ids: string[] = [];
    for (let t = 0; t < 4; t++) {
      await ds.transaction(async (manager) => {
        for (let i = t * 50; i < (t + 1) * 50; i++) {
          await manager.query(`INSERT INTO "${SCHEMA}".items (key) VALUES ($1)`, [`order-${i}`]);
          ids.push(await outbox.add(manager, Events.CampaignUpserted, campaign(i), { 'Trackly-Test': `row ${i}` }));
        }
      });
      r.kick();
    }
    expect(new Set(ids).size).toBe(200);

    const stored = await eventually(async () => ((await streamCount(m)) === 200 ? readStream(m) : undefined));
    expect(stored.map((s) => s.msgId)).toEqual(ids);
    expect(stored.map((s) => s.campaignId)).toEqual(ids.map((_, i) => `c-${i}`));
    expect(stored.every((s) => s.subject === `${m.prefix}.${Events.CampaignUpserted.subject}`)).toBe(true);
    expect(stored[7].headers['Trackly-Test']).toBe('row 7');

    await eventually(async () => (await unpublished()) === 0);
    const rows: { id: string; published_at: Date | null }[] = await ds.query(
      `SELECT id, published_at FROM "${SCHEMA}".outbox ORDER BY seq`,
    );
    expect(rows.map((x) => x.id)).toEqual(ids);
    expect(rows.every((x) => x.published_at instanceof Date)).toBe(true);
  });

  it('publishes nothing from a rolled-back transaction', async () => {
    const m = await nats.connect('outbox-rollback');
    const r = relay(m, { pollMs: 20 });
    r.start();
    const failed = await ds
      .transaction(async (manager) => {
        await outbox.add(manager, Events.CampaignUpserted, campaign(1, 'rolled-back'));
        await outbox.addMany(manager, Events.CampaignUpserted, [campaign(2, 'rolled-back'), campaign(3, 'rolled-back')]);
        throw new Error('state change failed');
      })
      .catch((e: Error) => e);
    expect(failed).toBeInstanceOf(Error);
    // A committed event afterwards proves the relay was running and had its chance at the rolled-back ones.
    const kept = await ds.transaction((manager) => outbox.add(manager, Events.CampaignUpserted, campaign(4, 'kept')));
    r.kick();
    await eventually(async () => (await streamCount(m)) >= 1);
    await r.stop();
    const stored = await readStream(m);
    expect(stored.map((s) => [s.msgId, s.campaignId])).toEqual([[kept, 'kept-4']]);
    const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM "${SCHEMA}".outbox`);
    expect(n).toBe(1);
  });

  it('refuses Outbox.add outside a transaction', async () => {
    await expect(outbox.add(ds.manager, Events.CampaignUpserted, campaign(1))).rejects.toThrow(/inside the transaction/);
    const runner = ds.createQueryRunner();
    await runner.connect();
    try {
      // A query runner of its own is not enough: the transaction must be open.
      await expect(outbox.add(runner.manager, Events.CampaignUpserted, campaign(2))).rejects.toThrow(/inside the transaction/);
    } finally {
      await runner.release();
    }
    const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM "${SCHEMA}".outbox`);
    expect(n).toBe(0);
  });

  it('flushes committed rows on stop() even when nothing kicked it', async () => {
    const m = await nats.connect('outbox-stop');
    const r = relay(m, { pollMs: 60_000 });
    r.start();
    await eventually(async () => r.waiting); // the relay has found the outbox empty and sleeps for a minute
    const ids = await ds.transaction((manager) =>
      outbox.addMany(manager, Events.CampaignUpserted, Array.from({ length: 25 }, (_, i) => campaign(i, 'late'))),
    );
    expect(await unpublished()).toBe(25);
    await r.stop();
    expect(await unpublished()).toBe(0);
    expect((await readStream(m)).map((s) => s.msgId)).toEqual(ids);
  });

  it('a row published just before a crash (never marked) is republished and dropped by the stream as a duplicate', async () => {
    const m = await nats.connect('outbox-crash');
    const ids = await ds.transaction((manager) =>
      outbox.addMany(manager, Events.CampaignUpserted, [campaign(1, 'crash'), campaign(2, 'crash')]),
    );
    // What a relay that died between publish and UPDATE left behind: the first row is in the stream, unmarked.
    const [row] = await ds.query(`SELECT subject, payload FROM "${SCHEMA}".outbox WHERE id = $1`, [ids[0]]);
    await m.js.publish(m.subject(row.subject), row.payload, { msgID: ids[0] });
    const r = relay(m);
    await r.flush();
    expect(await unpublished()).toBe(0);
    expect((await readStream(m)).map((s) => s.msgId)).toEqual(ids);
  });

  it('never publishes a row twice when two relays share the outbox', async () => {
    const m1 = await nats.connect('outbox-replica-1');
    // The second relay is another replica: its own pool, its own NATS connection, same prefix and outbox.
    const ds2 = await openDataSource(db.url);
    extraDataSources.push(ds2);
    const m1b = await nats.connectTo(m1.prefix, 'outbox-replica-2');
    const watch = await watchPublishes(m1);

    const rows = 1000;
    const ids: string[] = [];
    const a = relay(m1, { batchSize: 25, pollMs: 5 });
    const b = relay(m1b, { batchSize: 25, pollMs: 5 }, ds2);
    a.start();
    b.start();
    // Rows arrive while both relays poll, and both also flush on their own at the same time.
    for (let t = 0; t < 10; t++) {
      ids.push(
        ...(await ds.transaction((manager) =>
          outbox.addMany(manager, Events.CampaignUpserted, Array.from({ length: rows / 10 }, (_, i) => campaign(t * 100 + i, 'dup'))),
        )),
      );
      if (t % 3 === 0) await Promise.all([a.flush(), b.flush()]);
    }
    await Promise.all([a.flush(), b.flush()]);
    await Promise.all([a.stop(), b.stop()]);
    await m1.nc.flush();
    watch.stop();

    expect(await unpublished()).toBe(0);
    // Every publish that went over the wire, duplicates included.
    expect([...watch.ids.values()].filter((n) => n > 1)).toEqual([]);
    expect([...watch.ids.keys()].sort()).toEqual([...ids].sort());
    expect(await streamCount(m1)).toBe(rows);
    const stored = await readStream(m1);
    expect(new Set(stored.map((s) => s.msgId)).size).toBe(rows);
  });
});

describe('Messaging (real NATS JetStream)', () => {
  const nats = new NatsPrefixes();

  afterAll(() => nats.cleanup());

  it('creates the prefixed streams (and the dead-letter stream) idempotently', async () => {
    const m = await nats.connect('streams');
    await m.ensureStreams([Streams.tracking]); // a second service start: update, not fail
    const tracking = await m.jsm.streams.info(`${m.prefix.toUpperCase()}_TRACKLY_TRACKING_V1`);
    expect(tracking.config.subjects).toEqual(Streams.tracking.subjects.map((x) => `${m.prefix}.${x}`));
    expect(tracking.config.subjects).not.toContain(`${m.prefix}.${Events.ClickRecorded.subject}`);
    expect(tracking.config.duplicate_window).toBe(2 * 60 * 1e9);
    const dl = await m.jsm.streams.info(m.streamName(DeadLetterStream));
    expect(dl.config.subjects).toEqual([`${m.prefix}.trackly.deadletter.>`]);
    expect(m.unprefixed(`${m.prefix}.${Events.ClickRecorded.subject}`)).toBe(Events.ClickRecorded.subject);
  });

  it('moves ClickRecorded from a wildcard tracking stream (as deployed before) to a stream of its own, keeping what is stored', async () => {
    const m = await nats.connect('streams-move');
    const old = m.streamName(Streams.tracking);
    // The tracking stream as earlier versions made it: every tracking subject, clicks included, and no click stream.
    await m.jsm.streams.delete(m.streamName(Streams.trackingClicks));
    await m.jsm.streams.update(old, { ...(await m.jsm.streams.info(old)).config, subjects: [m.subject('trackly.tracking.v1.>')] });
    // A durable made by earlier versions: filtered on the wildcard.
    await m.jsm.consumers.add(old, { durable_name: 'old-durable', ack_policy: AckPolicy.Explicit, filter_subject: m.subject('trackly.tracking.v1.>') });
    await m.js.publish(m.subject(Events.ClickRecorded.subject), new Uint8Array([0x0a, 0x00]), { msgID: 'click-before-move' });
    await m.ensureStreams([Streams.tracking, Streams.trackingClicks]);
    // The old durable still delivers what its stream holds: the click from before the move and a later send.
    await m.js.publish(m.subject(Events.MessageSent.subject), new Uint8Array([0x0a, 0x01, 0x6d]), { msgID: 'send-after-move' });
    const got: string[] = [];
    for await (const msg of await (await m.js.consumers.get(old, 'old-durable')).fetch({ max_messages: 2, expires: 2000 })) {
      got.push(m.unprefixed(msg.subject));
      msg.ack();
    }
    expect(got).toEqual([Events.ClickRecorded.subject, Events.MessageSent.subject]);
    expect((await m.jsm.streams.info(old)).config.subjects).not.toContain(m.subject(Events.ClickRecorded.subject));
    expect((await m.jsm.streams.info(old)).state.messages).toBe(2); // the click stored before the move stays there
    const ack = await m.js.publish(m.subject(Events.ClickRecorded.subject), new Uint8Array([0x0a, 0x00]), { msgID: 'click-after-move' });
    expect(ack.stream).toBe(m.streamName(Streams.trackingClicks));
  });

  it('lists every tracking event in exactly one stream (an unlisted subject would have no stream to publish to)', () => {
    const declared = Object.values(Events).filter((e) => e.subject.startsWith('trackly.tracking.'));
    const generated = Object.keys(trackingEvents).filter((k) => /^[A-Z]/.test(k) && typeof (trackingEvents as Record<string, unknown>)[k] === 'object');
    expect(declared.map((e) => e.subject.split('.').pop()).sort()).toEqual(generated.sort());
    for (const e of declared) {
      const homes = [Streams.tracking, Streams.trackingClicks].filter((s) => s.subjects.includes(e.subject));
      expect(homes).toEqual([e.stream]);
    }
  });

  it('fails fast with MessagingUnavailableError when nothing listens', async () => {
    const port = await freePort();
    const started = Date.now();
    const e = await Messaging.connect({ url: `nats://127.0.0.1:${port}`, prefix: 'x', name: 'nowhere' }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(MessagingUnavailableError);
    expect((e as Error).message).toContain(`NATS does not answer at nats://127.0.0.1:${port}`);
    expect(Date.now() - started).toBeLessThan(6000);
  });
});
