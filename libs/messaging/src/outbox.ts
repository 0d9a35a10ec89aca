import { randomUUID } from 'node:crypto';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import type { Logger } from '@trackly/logging';
import { addScrapeHook, outboxBacklog, outboxOldestAge, outboxPublished, outboxPublishFailures, outgoingContextHeaders } from '@trackly/observability';
import { EventType } from './events';
import { Messaging } from './messaging';
import { PollLoop } from './poll-loop';
import { publishAcked } from './publish-acked';

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

/**
 * DDL of the index that lets each durable consumer prune its old processed_events rows (DurableConsumer.prune)
 * without scanning the table: each service's migration after 1765000000000 runs it.
 */
export function processedEventsAgeIndexSql(schema: string): string {
  return `CREATE INDEX IF NOT EXISTS processed_events_age_idx ON "${schema}".processed_events (consumer, processed_at)`;
}

export function dropProcessedEventsAgeIndexSql(schema: string): string {
  return `DROP INDEX IF EXISTS "${schema}".processed_events_age_idx`;
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
  /**
   * Published rows are kept this long (by creation time), then pruned: they are the source a re-drive publishes
   * again after the broker lost events (see redrive.ts). Default DEFAULT_OUTBOX_RETENTION_MS.
   */
  retainPublishedMs?: number;
  /** Rows per pruning statement (default 5000) and statements per idle pass of the relay (default 10). */
  pruneChunkRows?: number;
  pruneChunks?: number;
  /** Batches claimed and published while earlier ones wait for their acks (default 3). */
  inFlight?: number;
  /** How long a claimed batch may wait for JetStream's acks before the pass fails and is retried (default 10 s). */
  ackTimeoutMs?: number;
}

/**
 * 35 days: longer than the streams keep events (14 days) plus processed_events (15 days), so any event a consumer
 * could still be missing after a broker loss is re-drivable for a month, the window in which a drift check or a
 * monthly close would notice; an hourly retention (the old value) made a lost event lost for good.
 */
export const DEFAULT_OUTBOX_RETENTION_MS = 35 * 24 * 3600 * 1000;

/** A batch of outbox rows claimed (its transaction open, rows locked) and published, not yet marked. */
interface Claimed {
  runner: QueryRunner;
  seqs: string[];
  acks: Promise<unknown>;
  /** The claim came back full: more rows may be waiting behind it. */
  full: boolean;
}

/**
 * Publishes outbox rows to JetStream in order, each with Nats-Msg-Id = its outbox id (so a republish after a crash
 * between publish and mark is dropped by the stream's duplicate window), then marks them published. Rows are
 * claimed with FOR UPDATE SKIP LOCKED, so several replicas can relay without publishing a row twice concurrently.
 */
export class OutboxRelay {
  /**
   * Test seam, empty in production: the fault suite preloads a module (`node --require`) that sets `afterPublish`
   * to kill the process between publish and mark, the window Nats-Msg-Id dedupe exists for.
   */
  static readonly seams: { afterPublish?: () => void } = {};

  private readonly loop: PollLoop;
  private lastCleanup = 0;
  private removeScrapeHook?: () => void;

  constructor(
    private readonly ds: DataSource,
    private readonly messaging: Messaging,
    private readonly schema: string,
    private readonly logger?: Logger,
    private readonly opts: RelayOptions = {},
  ) {
    this.loop = new PollLoop({
      // Straight on only while claims come back full: rows committed during a pass kick the loop anyway, so an empty
      // claim after each pass (two per kick, with the pass the loop ran again) was pure overhead.
      pass: async () => (await this.publishPipelined(false)).more,
      idle: () => this.maybeCleanup(),
      onFailure: (e, failures) => {
        outboxPublishFailures.inc({ schema: this.schema });
        this.logger?.warn({ err: (e as Error).message, failures }, 'outbox relay: publish failed, will retry');
      },
      pollMs: opts.pollMs ?? 200,
    });
  }

  start(): void {
    if (!this.loop.start()) return;
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
  }

  /** Called after a commit that wrote outbox rows: publish now instead of at the next poll. */
  kick(): void {
    this.loop.kick();
  }

  /** Stops polling after a final flush of what is committed. */
  async stop(): Promise<void> {
    if (!(await this.loop.stop())) return;
    await this.flush().catch((e) => this.logger?.warn({ err: e }, 'outbox final flush failed'));
    this.removeScrapeHook?.();
    this.removeScrapeHook = undefined;
    outboxBacklog.remove({ schema: this.schema });
    outboxOldestAge.remove({ schema: this.schema });
  }

  /** Publishes everything committed so far; resolves when the outbox is empty. */
  async flush(): Promise<void> {
    while ((await this.publishPipelined(true)).published > 0) {
      /* keep going */
    }
  }

  /** Between polls: everything committed before the last poll is published (specs wait on this, not on a sleep). */
  get waiting(): boolean {
    return this.loop.waiting;
  }

  /**
   * Publishes until a claim comes back short (`untilEmpty`: until one comes back empty) or a batch fails, with up
   * to `inFlight` batches between claim and mark: the next batch is claimed and its publishes are on the wire while
   * the previous one waits for its acks, so a backlog (a blast's MessageSent events) costs the broker's and the
   * database's time, not their sum. Batches are claimed one after another and published on one connection, so the
   * stream receives them in outbox order. Returns how many rows were published and whether the last claim was full.
   */
  private async publishPipelined(untilEmpty: boolean): Promise<{ published: number; more: boolean }> {
    const inFlight = Math.max(1, this.opts.inFlight ?? 3);
    const window: Claimed[] = [];
    let total = 0;
    let more = false;
    let failure: unknown;
    const settle = async (c: Claimed) => {
      try {
        total += await this.finish(c);
      } catch (e) {
        failure ??= e;
      }
    };
    try {
      for (;;) {
        if (failure) break;
        const c = await this.claim();
        more = !!c?.full;
        if (!c) break;
        window.push(c);
        if (window.length >= inFlight) await settle(window.shift()!);
        if (!c.full && !untilEmpty) break;
      }
    } catch (e) {
      failure ??= e;
    }
    while (window.length) await settle(window.shift()!);
    if (failure) throw failure;
    return { published: total, more };
  }

  /** Claims the next unpublished rows (FOR UPDATE SKIP LOCKED, in a transaction kept open) and publishes them. */
  private async claim(): Promise<Claimed | undefined> {
    const runner = this.ds.createQueryRunner();
    await runner.connect();
    try {
      const limit = this.opts.batchSize ?? 1000;
      await runner.startTransaction();
      const rows: { seq: string; id: string; subject: string; payload: Buffer; headers: Record<string, string> | null }[] =
        await runner.query(
          // The bound changes no answer (no unpublished row lies below the least one); it changes the plan. Alone,
          // the filter was a bitmap scan of the partial index visiting every entry of a row published since the last
          // vacuum, heap page and all, on every claim (30,000 entries for 10 rows a minute into 500 events/s); the
          // min() is a plain index scan, which marks those entries dead so later claims skip them.
          `SELECT seq, id, subject, payload, headers FROM "${this.schema}".outbox
           WHERE published_at IS NULL AND seq >= (SELECT min(seq) FROM "${this.schema}".outbox WHERE published_at IS NULL)
           ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED`,
          [limit],
        );
      if (!rows.length) {
        await runner.commitTransaction();
        await runner.release();
        return undefined;
      }
      // All publishes of the batch in flight at once, acknowledged together (Nats-Msg-Id = the outbox id).
      const acks = publishAcked(
        this.messaging,
        rows.map((r) => ({ subject: r.subject, id: r.id, payload: r.payload, headers: r.headers ?? undefined })),
        this.opts.ackTimeoutMs ?? 10_000,
      );
      acks.catch(() => undefined); // awaited in finish(); never an unhandled rejection meanwhile
      return { runner, seqs: rows.map((r) => r.seq), acks, full: rows.length >= limit };
    } catch (e) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      await runner.release();
      throw e;
    }
  }

  /** Waits for a claimed batch's acks, marks its rows published and commits. */
  private async finish(c: Claimed): Promise<number> {
    try {
      await c.acks;
      OutboxRelay.seams.afterPublish?.();
      await c.runner.query(`UPDATE "${this.schema}".outbox SET published_at = now() WHERE seq = ANY($1::bigint[])`, [c.seqs]);
      await c.runner.commitTransaction();
      outboxPublished.inc({ schema: this.schema }, c.seqs.length);
      return c.seqs.length;
    } catch (e) {
      if (c.runner.isTransactionActive) await c.runner.rollbackTransaction().catch(() => undefined);
      throw e;
    } finally {
      await c.runner.release();
    }
  }

  /**
   * Deletes published rows older than the retention, a chunk per short statement (through the created_at index),
   * at most a few chunks per idle moment of the relay: pruning never holds locks the relay or the writers wait on for
   * long, and a large backlog of old rows is worked off over several idle moments instead of in one long delete.
   */
  private async maybeCleanup(): Promise<void> {
    const now = Date.now();
    if (now - this.lastCleanup < 60_000) return;
    this.lastCleanup = now;
    await this.prune(this.opts.pruneChunks ?? 10);
  }

  /** Deletes up to `chunks` × `pruneChunkRows` published rows past the retention; returns how many went. */
  async prune(chunks = 10): Promise<number> {
    const keep = this.opts.retainPublishedMs ?? DEFAULT_OUTBOX_RETENTION_MS;
    const size = this.opts.pruneChunkRows ?? 5000;
    let total = 0;
    for (let i = 0; i < chunks; i++) {
      const rows: { n: number }[] = await this.ds.query(
        `WITH old AS (
           SELECT seq FROM "${this.schema}".outbox
           WHERE created_at < now() - ($1 || ' milliseconds')::interval AND published_at IS NOT NULL
           ORDER BY created_at LIMIT ${size}),
         gone AS (DELETE FROM "${this.schema}".outbox o USING old WHERE o.seq = old.seq RETURNING 1)
         SELECT count(*)::int AS n FROM gone`,
        [String(keep)],
      );
      const n = rows[0]?.n ?? 0;
      total += n;
      if (n < size) break;
    }
    return total;
  }
}
