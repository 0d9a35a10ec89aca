import { randomUUID } from 'node:crypto';
import { headers as natsHeaders } from '@nats-io/nats-core';
import type { DataSource, EntityManager } from 'typeorm';
import type { Logger } from '@trackly/logging';
import { addScrapeHook, outboxBacklog, outboxOldestAge, outboxPublished, outboxPublishFailures, outgoingContextHeaders } from '@trackly/observability';
import { EventType } from './events';
import { Messaging } from './messaging';

/**
 * DDL every service's first migration runs: the outbox (events waiting to be published), the processed-event
 * record (what consumers already applied) and dead letters. Schema-qualified because TypeORM's `schema` option
 * does not reach raw SQL.
 */
export function messagingTablesSql(schema: string): string[] {
  const s = `"${schema}"`;
  return [
    `CREATE TABLE ${s}.outbox (
      seq bigserial PRIMARY KEY,
      id uuid NOT NULL UNIQUE,
      subject text NOT NULL,
      payload bytea NOT NULL,
      headers jsonb NOT NULL DEFAULT '{}'::jsonb,
      created_at timestamptz NOT NULL DEFAULT now(),
      published_at timestamptz
    )`,
    `CREATE INDEX outbox_unpublished_idx ON ${s}.outbox (seq) WHERE published_at IS NULL`,
    `CREATE TABLE ${s}.processed_events (
      consumer text NOT NULL,
      event_id text NOT NULL,
      processed_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (consumer, event_id)
    )`,
    `CREATE TABLE ${s}.dead_letters (
      id bigserial PRIMARY KEY,
      consumer text NOT NULL,
      stream text NOT NULL,
      stream_seq bigint NOT NULL,
      subject text NOT NULL,
      event_id text,
      reason text NOT NULL,
      payload bytea NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`,
  ];
}

export function dropMessagingTablesSql(schema: string): string[] {
  return ['dead_letters', 'processed_events', 'outbox'].map((t) => `DROP TABLE "${schema}".${t}`);
}

/** Writes events into the outbox inside the caller's transaction: they leave only if the state change commits. */
export class Outbox {
  constructor(private readonly schema: string) {}

  async add<T>(manager: EntityManager, type: EventType<T>, payload: T, headers: Record<string, string> = {}): Promise<string> {
    const [id] = await this.addMany(manager, type, [payload], headers);
    return id;
  }

  async addMany<T>(manager: EntityManager, type: EventType<T>, payloads: T[], headers: Record<string, string> = {}): Promise<string[]> {
    if (!manager.queryRunner?.isTransactionActive) {
      throw new Error('Outbox.add must run inside the transaction that makes the state change');
    }
    const ids = payloads.map(() => randomUUID());
    if (!payloads.length) return ids;
    const bodies = payloads.map((p) => Buffer.from(type.codec.encode(p).finish()));
    // The request id (and trace context) of the work that writes the event travels with it to its consumers.
    const all = { ...outgoingContextHeaders(true), ...headers };
    await manager.query(
      `INSERT INTO "${this.schema}".outbox (id, subject, payload, headers)
       SELECT unnest($1::uuid[]), $2, unnest($3::bytea[]), $4::jsonb`,
      [ids, type.subject, bodies, JSON.stringify(all)],
    );
    return ids;
  }

  /**
   * Outbox rows encoded for a writer that inserts them in its own statement, so the state change and its events
   * cost one round trip (a single statement is its own transaction). Each row carries its own context headers:
   * in a shared write (group commit) every event keeps the request id of the request that caused it.
   */
  encodeRows<T>(type: EventType<T>, payloads: T[], headers: Record<string, string>[]): OutboxRows {
    if (headers.length !== payloads.length) throw new Error('encodeRows: one headers object per payload');
    return {
      table: `"${this.schema}".outbox`,
      subject: type.subject,
      ids: payloads.map(() => randomUUID()),
      bodies: payloads.map((p) => Buffer.from(type.codec.encode(p).finish())),
      headers: headers.map((h) => JSON.stringify(h)),
    };
  }
}

/** See Outbox.encodeRows: insert as `INSERT INTO <table> (id, subject, payload, headers)`. */
export interface OutboxRows {
  table: string;
  subject: string;
  ids: string[];
  bodies: Buffer[];
  /** JSON text of each row's headers (jsonb). */
  headers: string[];
}

export interface RelayOptions {
  batchSize?: number;
  /** Poll interval when nothing wakes the relay (another replica's writes, a missed kick). */
  pollMs?: number;
  /** Published rows are kept this long for inspection, then deleted. */
  retainPublishedMs?: number;
}

/**
 * Publishes outbox rows to JetStream in order, each with Nats-Msg-Id = its outbox id (so a republish after a crash
 * between publish and mark is dropped by the stream's duplicate window), then marks them published. Rows are
 * claimed with FOR UPDATE SKIP LOCKED, so several replicas can relay without publishing a row twice concurrently.
 */
export class OutboxRelay {
  private running = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private pending = false;
  private lastCleanup = 0;
  private removeScrapeHook?: () => void;

  constructor(
    private readonly ds: DataSource,
    private readonly messaging: Messaging,
    private readonly schema: string,
    private readonly logger?: Logger,
    private readonly opts: RelayOptions = {},
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    // Backlog and age of the oldest unpublished row, read when Prometheus scrapes (all replicas report the same).
    const labels = { schema: this.schema };
    this.removeScrapeHook = addScrapeHook(async () => {
      const [row]: { n: string; age: number | null }[] = await this.ds.query(
        `SELECT count(*) AS n, EXTRACT(EPOCH FROM now() - min(created_at))::float8 AS age
         FROM "${this.schema}".outbox WHERE published_at IS NULL`,
      );
      outboxBacklog.set(labels, Number(row.n));
      outboxOldestAge.set(labels, row.age ?? 0);
    });
    this.loop = this.run();
  }

  /** Called after a commit that wrote outbox rows: publish now instead of at the next poll. */
  kick(): void {
    this.pending = true;
    this.wake?.();
  }

  /** Stops polling after a final flush of what is committed. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.wake?.();
    await this.loop;
    await this.flush().catch((e) => this.logger?.warn({ err: e }, 'outbox final flush failed'));
    this.removeScrapeHook?.();
    this.removeScrapeHook = undefined;
    outboxBacklog.remove({ schema: this.schema });
    outboxOldestAge.remove({ schema: this.schema });
  }

  /** Publishes everything committed so far; resolves when the outbox is empty. */
  async flush(): Promise<void> {
    while ((await this.publishBatch()) > 0) {
      /* keep going */
    }
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      try {
        this.pending = false;
        const n = await this.publishBatch();
        failures = 0;
        if (n > 0) continue;
        await this.maybeCleanup();
      } catch (e) {
        failures++;
        outboxPublishFailures.inc({ schema: this.schema });
        this.logger?.warn({ err: (e as Error).message, failures }, 'outbox relay: publish failed, will retry');
      }
      if (!this.running) break;
      const wait = failures ? Math.min(5000, 100 * 2 ** failures) : this.opts.pollMs ?? 200;
      if (this.pending && !failures) continue;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, wait);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  private async publishBatch(): Promise<number> {
    const runner = this.ds.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      const rows: { seq: string; id: string; subject: string; payload: Buffer; headers: Record<string, string> }[] =
        await runner.query(
          `SELECT seq, id, subject, payload, headers FROM "${this.schema}".outbox
           WHERE published_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED`,
          [this.opts.batchSize ?? 500],
        );
      if (!rows.length) {
        await runner.commitTransaction();
        return 0;
      }
      // Pipelined: all publishes are in flight at once and acknowledged together.
      await Promise.all(
        rows.map((r) => {
          const h = natsHeaders();
          for (const [k, v] of Object.entries(r.headers ?? {})) h.set(k, v);
          return this.messaging.js.publish(this.messaging.subject(r.subject), r.payload, { msgID: r.id, headers: h });
        }),
      );
      // Fault-suite hook (tools/faults): die between publish and mark, the window Nats-Msg-Id dedupe exists for.
      if (process.env.TRACKLY_FAULT_RELAY_CRASH_AFTER_PUBLISH === '1') process.exit(137);
      await runner.query(`UPDATE "${this.schema}".outbox SET published_at = now() WHERE seq = ANY($1::bigint[])`, [
        rows.map((r) => r.seq),
      ]);
      await runner.commitTransaction();
      outboxPublished.inc({ schema: this.schema }, rows.length);
      return rows.length;
    } catch (e) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw e;
    } finally {
      await runner.release();
    }
  }

  private async maybeCleanup(): Promise<void> {
    const now = Date.now();
    if (now - this.lastCleanup < 60_000) return;
    this.lastCleanup = now;
    const keep = this.opts.retainPublishedMs ?? 3_600_000;
    await this.ds.query(
      `DELETE FROM "${this.schema}".outbox WHERE published_at IS NOT NULL AND published_at < now() - ($1 || ' milliseconds')::interval`,
      [String(keep)],
    );
  }
}
