import type { MigrationInterface, QueryRunner } from 'typeorm';
import { DataSource } from 'typeorm';
import { Pool } from 'pg';
import { dataSourceOptions, runServiceMigrations } from '@trackly/database';
import { createTestDatabase, eventually, TestDatabase } from '@trackly/testing';
import {
  DurableConsumer,
  Events,
  Messaging,
  messagingTablesSql,
  Outbox,
  outboxCreatedIndexSql,
  OutboxRedriveSource,
  OutboxRelay,
  isBrokerUnavailable,
  Redriver,
  redriveStream,
  Streams,
  TableRedriveSource,
  TableRelay,
  tableRelayCursorsSql,
  tableRelayIndexSql,
} from '@trackly/messaging';
import { CampaignUpserted } from '@trackly/contracts/tracking/v1/tracking_events';
import { lastValueFrom } from 'rxjs';
import { NatsPrefixes, readStream } from './msgtest';

jest.setTimeout(60_000);

const SCHEMA = 'redrivetest';

class RedriveTestInitial1765600000001 implements MigrationInterface {
  name = 'RedriveTestInitial1765600000001';

  async up(q: QueryRunner): Promise<void> {
    for (const sql of messagingTablesSql(SCHEMA)) await q.query(sql);
    await q.query(outboxCreatedIndexSql(SCHEMA));
    await q.query(`CREATE SEQUENCE "${SCHEMA}".src_seq`);
    await q.query(`CREATE TABLE "${SCHEMA}".src (
      id text PRIMARY KEY,
      xid xid8,
      seq bigint DEFAULT nextval('"${SCHEMA}".src_seq'),
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(tableRelayIndexSql(`"${SCHEMA}".src`, 'src_relay_idx'));
    for (const sql of tableRelayCursorsSql(SCHEMA)) await q.query(sql);
  }

  async down(): Promise<void> {
    /* throwaway database */
  }
}

const campaign = (id: string) => ({ campaign: { campaignId: id, name: id, updatedAt: undefined } });

/** The broker lost its store: the stream is deleted and made again, empty. */
async function wipe(m: Messaging): Promise<void> {
  await m.jsm.streams.delete(m.streamName(Streams.tracking));
  await m.ensureStreams([Streams.tracking]);
}

describe('re-drive from the outbox and from a relayed table (real Postgres and NATS JetStream)', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let pool: Pool;
  const nats = new NatsPrefixes();
  const outbox = new Outbox(SCHEMA);

  beforeAll(async () => {
    const migrate = (url: string) => runServiceMigrations({ url, schema: SCHEMA, entities: [], migrations: [RedriveTestInitial1765600000001] }).then(() => undefined);
    db = await createTestDatabase('redrive', [RedriveTestInitial1765600000001], migrate);
    ds = await new DataSource(dataSourceOptions({ url: db.url, schema: SCHEMA, entities: [], migrations: [] })).initialize();
    pool = new Pool({ connectionString: db.url, max: 3 });
  });

  beforeEach(async () => {
    await ds.query(`DELETE FROM "${SCHEMA}".outbox`);
    await ds.query(`DELETE FROM "${SCHEMA}".src`);
    await ds.query(`DELETE FROM "${SCHEMA}".table_relay_cursors`);
  });

  afterAll(async () => {
    await pool?.end();
    await ds?.destroy();
    await nats.cleanup();
    await db?.drop();
  });

  it('republishes the published outbox rows of a range under their original ids, in outbox order; a dry run only counts', async () => {
    const m = await nats.connect('redrive-outbox');
    const ids: string[] = [];
    await ds.transaction(async (manager) => {
      for (let i = 0; i < 25; i++) ids.push(await outbox.add(manager, Events.CampaignUpserted, campaign(`c-${i}`)));
    });
    const relay = new OutboxRelay(ds, m, SCHEMA);
    await relay.flush();
    // Outside the range: created two days ago (kept, published) and one not yet published (the relay's to send).
    await ds.query(`UPDATE "${SCHEMA}".outbox SET created_at = now() - interval '2 days' WHERE id = $1`, [ids[0]]);
    await ds.transaction((manager) => outbox.add(manager, Events.CampaignUpserted, campaign('late')));
    expect(await readStream(m)).toHaveLength(25);

    await wipe(m);
    const redriver = new Redriver([new OutboxRedriveSource(ds, m, SCHEMA)]);
    const range = { from: new Date(Date.now() - 3600_000), to: new Date(Date.now() + 60_000), subjects: [] };

    const plan = await redriver.plan(range);
    expect(plan).toEqual([{ subject: Events.CampaignUpserted.subject, matched: 24, published: 0 }]);
    expect(await readStream(m)).toHaveLength(0); // a dry run publishes nothing

    const seen: number[] = [];
    const done = await redriver.run(range, (p) => seen.push(p[0].published));
    expect(done).toEqual([{ subject: Events.CampaignUpserted.subject, matched: 24, published: 24 }]);
    expect(seen[0]).toBe(0);
    expect(await readStream(m)).toEqual(ids.slice(1).map((id, i) => [id, `c-${i + 1}`]));

    // Another subject only: nothing of this source matches.
    expect(await redriver.plan({ ...range, subjects: [Events.MessageSent.subject] })).toEqual([]);
    // Per day: what was published, the day of each row's creation.
    const daily = await redriver.daily(new Date(Date.now() - 5 * 86400_000), new Date(Date.now() + 86400_000));
    expect(daily.reduce((n, d) => n + d.count, 0)).toBe(25);
  });

  it('re-drives after a wiped store before any consumer made the stream again: the re-drive makes it', async () => {
    const m = await nats.connect('redrive-no-stream');
    const ids: string[] = [];
    await ds.transaction(async (manager) => {
      for (let i = 0; i < 5; i++) ids.push(await outbox.add(manager, Events.CampaignUpserted, campaign(`ns-${i}`)));
    });
    const relay = new OutboxRelay(ds, m, SCHEMA);
    await relay.flush();
    await relay.stop();
    await m.jsm.streams.delete(m.streamName(Streams.tracking)); // gone, and nothing has recreated it
    const range = { from: new Date(Date.now() - 60_000), to: new Date(Date.now() + 60_000), subjects: [] };
    const done = await new Redriver([new OutboxRedriveSource(ds, m, SCHEMA)]).run(range);
    expect(done).toEqual([{ subject: Events.CampaignUpserted.subject, matched: expect.any(Number), published: expect.any(Number) }]);
    expect(done[0].published).toBe(done[0].matched);
    const stream = (await readStream(m)).map(([id]) => id);
    for (const id of ids) expect(stream).toContain(id);
  });

  it('prunes published rows past the retention in chunks and never an unpublished one', async () => {
    const m = await nats.connect('redrive-prune');
    await ds.transaction(async (manager) => {
      for (let i = 0; i < 12; i++) await outbox.add(manager, Events.CampaignUpserted, campaign(`p-${i}`));
    });
    const relay = new OutboxRelay(ds, m, SCHEMA, undefined, { retainPublishedMs: 86400_000, pruneChunkRows: 5 });
    await relay.flush();
    await ds.transaction((manager) => outbox.add(manager, Events.CampaignUpserted, campaign('unpublished')));
    await ds.query(`UPDATE "${SCHEMA}".outbox SET created_at = now() - interval '3 days'`);
    // Two of the twelve published rows are still young.
    await ds.query(`UPDATE "${SCHEMA}".outbox SET created_at = now() WHERE seq IN (SELECT seq FROM "${SCHEMA}".outbox WHERE published_at IS NOT NULL ORDER BY seq LIMIT 2)`);

    expect(await relay.prune(1)).toBe(5); // one chunk per call when asked for one
    expect(await relay.prune()).toBe(5);
    const left: { published: boolean; n: number }[] = await ds.query(
      `SELECT published_at IS NOT NULL AS published, count(*)::int AS n FROM "${SCHEMA}".outbox GROUP BY 1 ORDER BY 1`,
    );
    expect(left).toEqual([{ published: false, n: 1 }, { published: true, n: 2 }]);
  });

  it('re-drives a relayed table: only rows its relay has passed, rebuilt with the same ids', async () => {
    const m = await nats.connect('redrive-table');
    const toEvent = (row: { id: string }) => ({
      subject: Events.CampaignUpserted.subject,
      id: `src:${row.id}`,
      payload: CampaignUpserted.encode(campaign(row.id)).finish(),
    });
    const relay = new TableRelay<{ id: string }>({ pool, messaging: m, schema: SCHEMA, name: 'src', table: `"${SCHEMA}".src`, columns: 't.id', toEvents: (rows) => rows.map(toEvent) });
    for (let i = 0; i < 30; i++) await pool.query(`INSERT INTO "${SCHEMA}".src (id, xid) VALUES ($1, pg_current_xact_id())`, [`r-${String(i).padStart(2, '0')}`]);
    await eventually(async () => {
      await relay.flush();
      return (await readStream(m)).length === 30 || undefined;
    }, 20_000, 20);
    await relay.stop();
    // Written after the relay stopped (not published yet) and a legacy row without xid: neither is re-driven.
    await pool.query(`INSERT INTO "${SCHEMA}".src (id, xid) VALUES ('r-late', pg_current_xact_id())`);
    await pool.query(`INSERT INTO "${SCHEMA}".src (id) VALUES ('r-legacy')`);
    const before = await readStream(m);

    await wipe(m);
    const source = new TableRedriveSource<{ id: string }>({
      ds, messaging: m, schema: SCHEMA, relay: 'src', subject: Events.CampaignUpserted.subject, table: `"${SCHEMA}".src`,
      columns: 't.id', timeColumn: 'created_at', toEvents: (rows) => rows.map(toEvent),
    });
    const range = { from: new Date(Date.now() - 3600_000), to: new Date(Date.now() + 60_000), subjects: [Events.CampaignUpserted.subject] };
    const done = await new Redriver([source]).run(range);
    expect(done).toEqual([{ subject: Events.CampaignUpserted.subject, matched: 30, published: 30 }]);
    const after = await readStream(m);
    expect(new Set(after.map(([id]) => id))).toEqual(new Set(before.map(([id]) => id)));
    expect(after).toHaveLength(30);
  });
  it('re-drives more rows than one batch sharing one timestamp (one RegisterMessages call) once each, and ends', async () => {
    const m = await nats.connect('redrive-same-time');
    const toEvent = (row: { id: string }) => ({ subject: Events.CampaignUpserted.subject, id: `same:${row.id}`, payload: CampaignUpserted.encode(campaign(row.id)).finish() });
    // 2,500 rows of one transaction: one created_at, with microseconds a JS Date would drop.
    await pool.query(
      `INSERT INTO "${SCHEMA}".src (id, xid, created_at) SELECT 'same-' || lpad(g::text, 4, '0'), pg_current_xact_id(), '2026-12-01 10:00:00.123456+00' FROM generate_series(1, 2500) g`,
    );
    const relay = new TableRelay<{ id: string }>({ pool, messaging: m, schema: SCHEMA, name: 'same', table: `"${SCHEMA}".src`, columns: 't.id', toEvents: (rows) => rows.map(toEvent) });
    await relay.flush();
    await relay.stop();
    await wipe(m);
    const source = new TableRedriveSource<{ id: string }>({
      ds, messaging: m, schema: SCHEMA, relay: 'same', subject: Events.CampaignUpserted.subject, table: `"${SCHEMA}".src`,
      columns: 't.id', timeColumn: 'created_at', toEvents: (rows) => rows.map(toEvent),
    });
    const range = { from: new Date('2026-12-01T09:00:00Z'), to: new Date('2026-12-01T11:00:00Z'), subjects: [Events.CampaignUpserted.subject] };
    expect(await new Redriver([source]).run(range)).toEqual([{ subject: Events.CampaignUpserted.subject, matched: 2500, published: 2500 }]);
    expect(new Set((await readStream(m)).map(([id]) => id)).size).toBe(2500);
  });

  it('a consumer recreates its wiped stream and durable by itself; a re-drive then applies what was lost, nothing twice', async () => {
    const m = await nats.connect('redrive-consumer');
    const applied: string[] = [];
    const consumer = new DurableConsumer({ messaging: m, dataSource: ds, schema: SCHEMA, durable: 'redrive-c', stream: Streams.tracking });
    consumer.on(Events.CampaignUpserted, async (e) => {
      applied.push(e.campaign!.campaignId);
    });
    await consumer.start();
    try {
      const relay = new OutboxRelay(ds, m, SCHEMA);
      const add = async (tag: string, n: number) =>
        ds.transaction(async (manager) => {
          for (let i = 0; i < n; i++) await outbox.add(manager, Events.CampaignUpserted, campaign(`${tag}-${i}`));
        });
      await add('before', 10);
      await relay.flush();
      await eventually(async () => applied.length === 10 || undefined, 20_000, 20);
      await consumer.stop();
      // Published and acknowledged while the consumer was away, then the store is lost with them.
      await add('lost', 7);
      await relay.flush();
      await m.jsm.streams.delete(m.streamName(Streams.tracking));
      const healing = new DurableConsumer({ messaging: m, dataSource: ds, schema: SCHEMA, durable: 'redrive-c', stream: Streams.tracking });
      healing.on(Events.CampaignUpserted, async (e) => {
        applied.push(e.campaign!.campaignId);
      });
      // Started while the stream exists, then the stream vanishes under its fetch loop.
      await m.ensureStreams([Streams.tracking]);
      await healing.start();
      await m.jsm.streams.delete(m.streamName(Streams.tracking));
      await eventually(async () => (await m.jsm.streams.info(m.streamName(Streams.tracking)).catch(() => undefined)) && (await m.jsm.consumers.info(m.streamName(Streams.tracking), 'redrive-c').catch(() => undefined)), 20_000, 100);
      await add('after', 3);
      await eventually(async () => {
        await relay.flush().catch(() => undefined);
        return applied.filter((x) => x.startsWith('after')).length === 3 || undefined;
      }, 20_000, 50);
      expect(applied.filter((x) => x.startsWith('lost'))).toEqual([]);

      // Everything of the last hour again: the 10 applied before and the 3 after are skipped, the 7 lost applied.
      const done = await new Redriver([new OutboxRedriveSource(ds, m, SCHEMA)]).run({ from: new Date(Date.now() - 3600_000), to: new Date(Date.now() + 60_000), subjects: [] });
      expect(done[0]).toMatchObject({ matched: 20, published: 20 });
      await eventually(async () => applied.filter((x) => x.startsWith('lost')).length === 7 || undefined, 20_000, 50);
      const info = await eventually(async () => {
        const i = await m.jsm.consumers.info(m.streamName(Streams.tracking), 'redrive-c');
        return i.num_pending === 0 && i.num_ack_pending === 0 ? i : undefined;
      }, 20_000, 50);
      expect(info.num_pending).toBe(0);
      expect(applied.sort()).toEqual([...Array.from({ length: 10 }, (_, i) => `before-${i}`), ...Array.from({ length: 7 }, (_, i) => `lost-${i}`), ...Array.from({ length: 3 }, (_, i) => `after-${i}`)].sort());
      await healing.stop();
    } finally {
      await consumer.stop();
    }
  });
  it('a re-drive the broker cannot take now ends with the broker error the exception filter answers UNAVAILABLE (retry)', async () => {
    const m = await nats.connect('redrive-broker-gone');
    await ds.transaction(async (manager) => {
      for (let i = 0; i < 3; i++) await outbox.add(manager, Events.CampaignUpserted, campaign(`g-${i}`));
    });
    await new OutboxRelay(ds, m, SCHEMA).flush();
    const source = new OutboxRedriveSource(ds, m, SCHEMA);
    const request = { fromTime: new Date(Date.now() - 3600_000), toTime: new Date(Date.now() + 60_000), eventTypes: [], dryRun: false };
    await m.nc.close(); // the connection a re-drive publishes on is gone, as while nats-server restarts
    const e = await lastValueFrom(redriveStream(new Redriver([source]), request, [Events.CampaignUpserted.subject])).catch((err: unknown) => err);
    // Not swallowed or wrapped into something else: libs/app-shell's filter maps exactly these (its spec).
    expect(isBrokerUnavailable(e)).toBe(true);
    // The rows stay where a retry finds them.
    expect(await new Redriver([source]).plan({ from: request.fromTime, to: request.toTime, subjects: [] })).toEqual([
      { subject: Events.CampaignUpserted.subject, matched: 3, published: 0 },
    ]);
  });

  it('re-drives into a stream that still has the events (inside its duplicate window): a consumer that lost them gets them once', async () => {
    const m = await nats.connect('redrive-window');
    await ds.transaction(async (manager) => {
      for (let i = 0; i < 5; i++) await outbox.add(manager, Events.CampaignUpserted, campaign(`w-${i}`));
    });
    await new OutboxRelay(ds, m, SCHEMA).flush();
    const applied: string[] = [];
    const consumer = new DurableConsumer({ messaging: m, dataSource: ds, schema: SCHEMA, durable: 'redrive-w', stream: Streams.tracking });
    consumer.on(Events.CampaignUpserted, async (e) => {
      applied.push(e.campaign!.campaignId);
    });
    await consumer.start();
    try {
      await eventually(async () => applied.length === 5 || undefined, 20_000, 20);
      // The read model lost w-3 and w-4 (restored from a backup): their processed_events rows go with them.
      await ds.query(`DELETE FROM "${SCHEMA}".processed_events WHERE consumer = 'redrive-w' AND event_id IN (SELECT id::text FROM "${SCHEMA}".outbox WHERE seq > (SELECT min(seq) + 2 FROM "${SCHEMA}".outbox))`);
      const range = { from: new Date(Date.now() - 3600_000), to: new Date(Date.now() + 60_000), subjects: [] };
      await new Redriver([new OutboxRedriveSource(ds, m, SCHEMA)]).run(range);
      await new Redriver([new OutboxRedriveSource(ds, m, SCHEMA)]).run(range); // twice: still once
      await eventually(async () => (applied.length === 7 ? applied : undefined), 20_000, 20);
      await eventually(async () => {
        const i = await m.jsm.consumers.info(m.streamName(Streams.tracking), 'redrive-w');
        return i.num_pending === 0 && i.num_ack_pending === 0 || undefined;
      }, 20_000, 20);
      expect(applied).toEqual(['w-0', 'w-1', 'w-2', 'w-3', 'w-4', 'w-3', 'w-4']);
      // Every copy carries the original id; the stream holds the 5 originals and the two runs' 10 copies.
      const ids = await readStream(m);
      expect(ids).toHaveLength(15);
      expect(new Set(ids.map(([id]) => id)).size).toBe(5);
    } finally {
      await consumer.stop();
    }
  });
});
