/** Shared set-up of the messaging integration specs: a throwaway "msgtest" schema and NATS prefixes per test. */
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { DataSource } from 'typeorm';
import { dataSourceOptions, runServiceMigrations } from '@trackly/database';
import { createTestDatabase, deleteNatsPrefix, eventually, TestDatabase, testInfra, testNatsPrefix } from '@trackly/testing';
import type { Logger } from '@trackly/logging';
import { ConsumerOptions, DurableConsumer, EVENT_ID_HEADER, Messaging, messagingTablesSql, processedEventsAgeIndexSql, Streams } from '@trackly/messaging';
import { CampaignUpserted } from '@trackly/contracts/tracking/v1/tracking_events';

export const SCHEMA = 'msgtest';

export class MessagingTestInitial1764300000001 implements MigrationInterface {
  name = 'MessagingTestInitial1764300000001';

  async up(q: QueryRunner): Promise<void> {
    for (const sql of messagingTablesSql('msgtest')) await q.query(sql);
    await q.query(processedEventsAgeIndexSql('msgtest'));
    // Effects of the test handlers; deliberately no unique key, so an effect applied twice shows as two rows.
    await q.query(`CREATE TABLE "msgtest".items (
      id bigserial PRIMARY KEY,
      key text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "msgtest".items`);
  }
}

export const migrations = [MessagingTestInitial1764300000001];

export function migrateMsgTest(url: string): Promise<void> {
  return runServiceMigrations({ url, schema: SCHEMA, entities: [], migrations }).then(() => undefined);
}

export function openDataSource(url: string): Promise<DataSource> {
  return new DataSource(dataSourceOptions({ url, schema: SCHEMA, entities: [], migrations: [] })).initialize();
}

/**
 * One NATS prefix (so streams, consumers and counts) per test: a test never sees another test's messages.
 * Everything connected through it is closed and deleted by `cleanup()`.
 */
export class NatsPrefixes {
  private readonly prefixes: string[] = [];
  private readonly connections: Messaging[] = [];

  async connect(name: string): Promise<Messaging> {
    const prefix = testNatsPrefix();
    this.prefixes.push(prefix);
    const m = await Messaging.connect({ url: testInfra().natsUrl, prefix, name });
    this.connections.push(m);
    await m.ensureStreams([Streams.tracking, Streams.trackingClicks]);
    return m;
  }

  /** A second connection on an existing prefix (as a second replica of a service would have). */
  async connectTo(prefix: string, name: string): Promise<Messaging> {
    const m = await Messaging.connect({ url: testInfra().natsUrl, prefix, name });
    this.connections.push(m);
    return m;
  }

  async cleanup(): Promise<void> {
    for (const m of this.connections) await m.close();
    for (const p of this.prefixes) await deleteNatsPrefix(p);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * The spec file's throwaway database (the msgtest schema, migrated), a DataSource on it and its NATS prefixes: made
 * before its first test, closed and deleted after its last. Call inside the describe block.
 */
export function msgTestSpace(): { ds(): DataSource; nats: NatsPrefixes } {
  let db: TestDatabase | undefined;
  let ds: DataSource | undefined;
  const nats = new NatsPrefixes();
  beforeAll(async () => {
    db = await createTestDatabase('messaging', migrations, migrateMsgTest);
    ds = await openDataSource(db.url);
  });
  afterAll(async () => {
    await ds?.destroy();
    await nats.cleanup();
    await db?.drop();
  });
  return { ds: () => ds!, nats };
}

/** Makes DurableConsumers of the tracking stream on the spec's database; each is stopped after the test that made it. */
export function trackingConsumers(space: { ds(): DataSource }, logger: Logger) {
  const made: DurableConsumer[] = [];
  afterEach(async () => {
    await Promise.all(made.splice(0).map((c) => c.stop()));
  });
  return (m: Messaging, durable: string, opts: Partial<ConsumerOptions> = {}): DurableConsumer => {
    const c = new DurableConsumer({ messaging: m, dataSource: space.ds(), schema: SCHEMA, durable, stream: Streams.tracking, logger, ...opts });
    made.push(c);
    return c;
  };
}

/** The effects recorded in msgtest.items whose key starts with `prefix`, in insertion order. */
export async function items(ds: DataSource, prefix: string): Promise<string[]> {
  const rows: { key: string }[] = await ds.query(`SELECT key FROM "${SCHEMA}".items WHERE key LIKE $1 ORDER BY id`, [`${prefix}%`]);
  return rows.map((r) => r.key);
}

/** Waits until the server holds nothing for the consumer: every delivered message was acked or terminated. */
export async function drained(m: Messaging, durable: string, delivered: number, timeoutMs?: number): Promise<void> {
  await eventually(async () => {
    const info = await m.jsm.consumers.info(m.streamName(Streams.tracking), durable);
    return info.num_pending === 0 && info.num_ack_pending === 0 && info.delivered.stream_seq >= delivered;
  }, timeoutMs);
}

/**
 * [event id, campaign id] of every CampaignUpserted in the prefix's tracking stream, in stream order. The event id is
 * Trackly-Event-Id on a re-driven copy, else the Nats-Msg-Id it was published under.
 */
export async function readStream(m: Messaging): Promise<[string, string][]> {
  const name = m.streamName(Streams.tracking);
  const total = (await m.jsm.streams.info(name)).state.messages;
  const out: [string, string][] = [];
  if (!total) return out;
  const consumer = await m.js.consumers.get(name);
  while (out.length < total) {
    const batch = await consumer.fetch({ max_messages: total - out.length, expires: 2000 });
    for await (const msg of batch) {
      out.push([msg.headers?.get(EVENT_ID_HEADER) || (msg.headers?.get('Nats-Msg-Id') ?? ''), CampaignUpserted.decode(msg.data).campaign?.campaignId ?? '']);
    }
  }
  return out;
}
