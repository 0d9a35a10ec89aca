import type { DataSource } from 'typeorm';
import { eventually } from '@trackly/testing';
import { createLogger } from '@trackly/logging';
import { BatchHandler, Delivered, Events, Messaging, Streams } from '@trackly/messaging';
import { CampaignUpserted, OfferUpserted } from '@trackly/contracts/tracking/v1/tracking_events';
import { drained, items, msgTestSpace, SCHEMA, trackingConsumers } from './msgtest';

jest.setTimeout(30_000);

const logger = createLogger('batch-consumer-test', process.env.TEST_LOG_LEVEL ?? 'silent');

const campaign = (id: string): CampaignUpserted => ({ campaign: { campaignId: id, name: id, updatedAt: new Date('2026-11-02T10:00:00Z') } });
const offer = (id: string): OfferUpserted => ({
  offer: { offerId: id, name: id, destinationUrlTemplate: 'https://shop.example/?c={click_id}', defaultPayout: undefined, updatedAt: new Date('2026-11-02T10:00:00Z') },
});

async function publishCampaign(m: Messaging, msgID: string, id: string): Promise<void> {
  await m.js.publish(m.subject(Events.CampaignUpserted.subject), CampaignUpserted.encode(campaign(id)).finish(), { msgID });
}

async function publishOffer(m: Messaging, msgID: string, id: string): Promise<void> {
  await m.js.publish(m.subject(Events.OfferUpserted.subject), OfferUpserted.encode(offer(id)).finish(), { msgID });
}

describe('DurableConsumer batch handlers (real Postgres and NATS JetStream)', () => {
  const space = msgTestSpace();
  const nats = space.nats;
  let ds: DataSource;

  /** Writes the whole batch in one multi-row statement, as a set-based handler does. */
  const recordAll: BatchHandler<CampaignUpserted> = async (events, { manager }) => {
    await manager.query(`INSERT INTO "${SCHEMA}".items (key) SELECT unnest($1::text[])`, [events.map((d) => `${d.event.campaign!.campaignId}|${d.eventId}`)]);
  };

  const consumer = trackingConsumers(space, logger);

  beforeAll(() => {
    ds = space.ds();
  });

  it('hands a backlog to the handler in few calls, in stream order, with one processed-event row per event', async () => {
    const m = await nats.connect('batch-order');
    const n = 1200;
    await Promise.all(Array.from({ length: n }, (_, i) => publishCampaign(m, `evt-order-${i}`, `order-${String(i).padStart(4, '0')}`)));
    const sizes: number[] = [];
    const seqs: number[] = [];
    const c = consumer(m, 'order', { batchSize: 500, groupSize: 500 }).onBatch(Events.CampaignUpserted, async (events, ctx) => {
      sizes.push(events.length);
      seqs.push(...events.map((d) => d.seq));
      await recordAll(events, ctx);
    });
    await c.start();
    await drained(m, 'order', n, 15_000);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(n);
    expect(sizes.length).toBeLessThanOrEqual(6); // 500 per transaction, not one per event
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect((await items(ds, 'order-')).length).toBe(n);
    const [{ count }] = await ds.query(`SELECT count(*)::int AS count FROM "${SCHEMA}".processed_events WHERE consumer = 'order'`);
    expect(count).toBe(n);
  });

  it('applies the events that arrive one by one while a group is applied in one transaction after it, in order', async () => {
    const m = await nats.connect('batch-steady');
    const n = 40;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const sizes: number[] = [];
    const seqs: number[] = [];
    const c = consumer(m, 'steady').onBatch(Events.CampaignUpserted, async (events, ctx) => {
      sizes.push(events.length);
      seqs.push(...events.map((d) => d.seq));
      if (sizes.length === 1) await held; // the first group is still being applied while the others arrive
      await recordAll(events, ctx);
    });
    await c.start();
    // A steady flow: each event published after the previous one is stored, so each arrives with nothing pending
    // behind it (the pull cuts it as a group of its own).
    for (let i = 0; i < n; i++) {
      await publishCampaign(m, `evt-steady-${i}`, `steady-${String(i).padStart(2, '0')}`);
      if (i === 0) await eventually(async () => sizes.length === 1);
    }
    // All delivered (none acknowledged yet: the first group holds the line), then the first group commits.
    await eventually(async () => (await m.jsm.consumers.info(m.streamName(Streams.tracking), 'steady')).num_ack_pending === n);
    release();
    await drained(m, 'steady', n, 15_000);
    expect(sizes).toEqual([1, n - 1]);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect((await items(ds, 'steady-')).length).toBe(n);
  });

  it('leaves out events applied before and copies of one event inside the pull', async () => {
    const m = await nats.connect('batch-dupes');
    // The same event id twice in the stream: published again after the stream's duplicate window (shortened here).
    const name = m.streamName(Streams.tracking);
    await m.jsm.streams.update(name, { ...(await m.jsm.streams.info(name)).config, duplicate_window: 200_000_000 });
    await publishCampaign(m, 'evt-dupe-twice', 'dupe-twice');
    // Again once the stream stops calling it a duplicate (its window has passed).
    await eventually(async () => !(await m.js.publish(m.subject(Events.CampaignUpserted.subject), CampaignUpserted.encode(campaign('dupe-twice')).finish(), { msgID: 'evt-dupe-twice' })).duplicate, 5000, 50);
    for (let i = 0; i < 5; i++) await publishCampaign(m, `evt-dupe-${i}`, `dupe-${i}`);
    await ds.query(`INSERT INTO "${SCHEMA}".processed_events (consumer, event_id) VALUES ('dupes', 'evt-dupe-3')`);
    const seen: Delivered<CampaignUpserted>[] = [];
    let committed = 0;
    const c = consumer(m, 'dupes', { onCommitted: () => committed++ }).onBatch(Events.CampaignUpserted, async (events, ctx) => {
      seen.push(...events);
      await recordAll(events, ctx);
    });
    await c.start();
    await drained(m, 'dupes', 7, 15_000);
    expect(seen.map((d) => d.eventId).sort()).toEqual(['evt-dupe-0', 'evt-dupe-1', 'evt-dupe-2', 'evt-dupe-4', 'evt-dupe-twice']);
    expect(await items(ds, 'dupe-twice')).toEqual(['dupe-twice|evt-dupe-twice']);
    expect(await items(ds, 'dupe-3')).toEqual([]);
    expect(committed).toBeGreaterThanOrEqual(1);
  });

  it('leaves out events applied before from a large group too (a plain insert first, then the conflict-aware one)', async () => {
    const m = await nats.connect('batch-big-dupes');
    const n = 600;
    await Promise.all(Array.from({ length: n }, (_, i) => publishCampaign(m, `evt-big-${i}`, `big-${String(i).padStart(3, '0')}`)));
    // Applied before (a redelivery after a crash between commit and ack): every hundredth event.
    const before = Array.from({ length: n / 100 }, (_, k) => `evt-big-${k * 100 + 7}`);
    await ds.query(`INSERT INTO "${SCHEMA}".processed_events (consumer, event_id) SELECT 'big', unnest($1::text[])`, [before]);
    const sizes: number[] = [];
    const c = consumer(m, 'big', { batchSize: 600, groupSize: 600 }).onBatch(Events.CampaignUpserted, async (events, ctx) => {
      sizes.push(events.length);
      await recordAll(events, ctx);
    });
    await c.start();
    await drained(m, 'big', n, 15_000);
    const stored = await items(ds, 'big-');
    expect(stored.length).toBe(n - before.length);
    for (const id of before) expect(stored.some((k) => k.endsWith(`|${id}`))).toBe(false);
    expect(Math.max(...sizes)).toBeGreaterThanOrEqual(128); // the plain insert was tried (and rolled back)
    const [{ count }] = await ds.query(`SELECT count(*)::int AS count FROM "${SCHEMA}".processed_events WHERE consumer = 'big'`);
    expect(count).toBe(n);
  });

  it('isolates a poison event in the middle of a batch by splitting it: the rest commits once, the poison is dead-lettered', async () => {
    const m = await nats.connect('batch-poison');
    for (let i = 0; i < 40; i++) await publishCampaign(m, `evt-poison-${i}`, i === 17 ? 'poison-bad' : `poison-${String(i).padStart(2, '0')}`);
    let calls = 0;
    const c = consumer(m, 'bisect', { maxDeliver: 2 }).onBatch(Events.CampaignUpserted, async (events, ctx) => {
      calls++;
      await recordAll(events, ctx); // rolled back with the batch when it fails
      if (events.some((d) => d.event.campaign!.campaignId === 'poison-bad')) throw new Error('cannot apply poison-bad');
    });
    await c.start();
    const letters = await eventually(async () => {
      const rows = await ds.query(`SELECT event_id, reason FROM "${SCHEMA}".dead_letters WHERE consumer = 'bisect'`);
      return rows.length ? rows : undefined;
    }, 15_000);
    await drained(m, 'bisect', 40, 15_000);
    expect(letters).toEqual([{ event_id: 'evt-poison-17', reason: 'failed 2 times: cannot apply poison-bad' }]);
    const keys = await items(ds, 'poison-');
    expect(keys).toHaveLength(39);
    expect(new Set(keys).size).toBe(39);
    expect(keys).toEqual([...keys].sort()); // the others still in stream order
    expect(calls).toBeLessThan(40); // split in halves, not retried one event at a time
  });

  it('gives consecutive events of one type to their handler together, keeping the order across types', async () => {
    const m = await nats.connect('batch-runs');
    await publishCampaign(m, 'evt-run-1', 'run-c1');
    await publishCampaign(m, 'evt-run-2', 'run-c2');
    await publishOffer(m, 'evt-run-3', 'run-o3');
    await publishCampaign(m, 'evt-run-4', 'run-c4');
    const calls: string[][] = [];
    const c = consumer(m, 'runs')
      .onBatch(Events.CampaignUpserted, async (events) => void calls.push(events.map((d) => d.event.campaign!.campaignId)))
      .on(Events.OfferUpserted, async (e) => void calls.push([e.offer!.offerId]));
    await c.start();
    await drained(m, 'runs', 4, 15_000);
    expect(calls).toEqual([['run-c1', 'run-c2'], ['run-o3'], ['run-c4']]);
  });

  it('prunes its own processed_events rows older than the retention, and nothing else', async () => {
    const m = await nats.connect('batch-prune');
    await ds.query(
      `INSERT INTO "${SCHEMA}".processed_events (consumer, event_id, processed_at)
       SELECT c, 'old-' || i, now() - interval '20 days' FROM generate_series(1, 25000) i, unnest(ARRAY['prune', 'prune-other']) c
       UNION ALL SELECT 'prune', 'new-' || i, now() - interval '1 day' FROM generate_series(1, 10) i`,
    );
    const c = consumer(m, 'prune', { pruneIntervalMs: 0 });
    const deleted = await c.prune();
    expect(deleted).toBe(25_000);
    const rows: { consumer: string; n: number }[] = await ds.query(
      `SELECT consumer, count(*)::int AS n FROM "${SCHEMA}".processed_events WHERE consumer LIKE 'prune%' GROUP BY consumer ORDER BY consumer`,
    );
    expect(rows).toEqual([{ consumer: 'prune', n: 10 }, { consumer: 'prune-other', n: 25_000 }]);
  });
});
