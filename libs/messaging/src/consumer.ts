import { createHash } from 'node:crypto';
import { AckPolicy, DeliverPolicy, JsMsg, JetStreamApiError } from '@nats-io/jetstream';
import { headers as natsHeaders, nanos } from '@nats-io/nats-core';
import type { DataSource, EntityManager } from 'typeorm';
import { insertAllNew, isDatabaseUnavailable, preparedQuery, textArrayParam } from '@trackly/database';
import type { Logger } from '@trackly/logging';
import {
  addScrapeHook,
  consumerAckPending,
  consumerBatchDuration,
  consumerBatchSize,
  consumerBisections,
  consumerHandling,
  consumerMessages,
  consumerPending,
  consumerPullsCutShort,
  consumerRedeliveries,
  incomingRequestId,
  NATS_REQUEST_ID_HEADER,
  processedEventsPruned,
  REQUEST_ID_HEADER,
  runWithRequestContext,
  SpanKind,
  withSpan,
} from '@trackly/observability';
import { ackAll, DeliveryNumbers, deliveryNumbers, HeaderReader } from './delivered-fast';
import { deadLetterSubject, EVENT_ID_HEADER, EventType, StreamSpec } from './events';
import { Messaging, STREAM_MAX_AGE_MS } from './messaging';

/** One decoded event of a pull, as a batch handler receives it. */
export interface Delivered<T> {
  event: T;
  /** Nats-Msg-Id of the event (its outbox id at the publisher). */
  eventId: string;
  subject: string;
  /** Request id of the work that produced the event (from its headers): give it to the events this one causes. */
  requestId: string;
  /** Stream sequence: the stream's order. */
  seq: number;
  /** 1 on the first delivery. */
  deliveryCount: number;
}

export interface BatchContext {
  /** The transaction holding the batch's processed-event records: apply every effect through it. */
  manager: EntityManager;
  durable: string;
}

/**
 * Applies a run of events of one type, in stream order, inside the consumer's transaction. Each event is new to this
 * consumer (already-applied ones and copies inside the pull are left out). Write each table once for the whole
 * batch (multi-row INSERT … ON CONFLICT, unnest): that is what makes a backlog cheap. Throwing rolls the batch back;
 * the consumer then splits it to find the failing event.
 */
export type BatchHandler<T> = (events: Delivered<T>[], ctx: BatchContext) => Promise<void>;

export interface HandlerContext {
  /** The transaction in which the processed-event record is written: apply the effect through it. */
  manager: EntityManager;
  /** Nats-Msg-Id of the event (its outbox id at the publisher). */
  eventId: string;
  subject: string;
  /** Request id of the work that produced the event (from its headers), also on every log line of the handler. */
  requestId?: string;
}

/** One event at a time, for low-volume events (catalog upserts, adjustments), run inside the batch's transaction. */
export type EventHandler<T> = (event: T, ctx: HandlerContext) => Promise<void>;

/** A delivered message decoded and matched to its handler, waiting to be applied with its group. */
interface Ready {
  m: JsMsg;
  event: unknown;
  handle: BatchHandler<unknown>;
  eventId: string;
  subject: string;
  requestId: string;
  seq: number;
  deliveryCount: number;
}

/** The headers a delivered event is read for, in this order (see applyGroup). */
const READ_HEADERS = [EVENT_ID_HEADER, 'Nats-Msg-Id', NATS_REQUEST_ID_HEADER, REQUEST_ID_HEADER] as const;

export interface ConsumerOptions {
  messaging: Messaging;
  dataSource: DataSource;
  /** Schema holding processed_events and dead_letters. */
  schema: string;
  /** Durable consumer name, unique per (service, stream). */
  durable: string;
  stream: StreamSpec;
  logger?: Logger;
  /** Deliveries before a failing message goes to the dead letters. */
  maxDeliver?: number;
  ackWaitMs?: number;
  /** Messages asked for in one pull while the consumer is caught up. */
  batchSize?: number;
  /** Most events applied in one transaction while the consumer is caught up. */
  groupSize?: number;
  /**
   * Messages asked for in one pull, and most events in one transaction, while a backlog waits on the server (the last
   * pull ended with messages still pending): a blast is drained in fewer, larger transactions, so each one's fixed
   * cost (its commit, its statements' planning, one upsert per rollup key) is shared by more events. Default: twice
   * `batchSize` (1,000).
   */
  backlogBatchSize?: number;
  /** Most messages delivered and not yet acknowledged (JetStream max_ack_pending). */
  maxAckPending?: number;
  /** processed_events rows older than this are deleted (default: the streams' max age plus a day). */
  processedRetentionMs?: number;
  /** How often this consumer prunes its processed_events rows (0 = never). */
  pruneIntervalMs?: number;
  /** Called after a transaction commits (e.g. to kick the outbox relay). */
  onCommitted?: () => void;
}

const PRUNE_CHUNK = 10_000;
/** From this many events, a group's processed-events rows are first tried as a plain INSERT (see recordProcessed). */
const PLAIN_INSERT_MIN_GROUP = 128;
/**
 * Most payload bytes one pull is sized for (from the bytes per message seen so far: nats.js takes a count or a byte
 * limit, not both), and most payload bytes one group applies, whatever the message counts allow: an event that
 * carries a run of records (MessagesSent: up to 100 sends, 11–19 KB) must not make a pull of 1,000 messages 100,000
 * sends. A group of runs then holds ~1,400–2,300 sends, so reporting's transaction takes as many advisory locks (one
 * per send; the server's lock table holds ~6,400 at the default max_locks_per_transaction). Events of one record
 * (~100–250 bytes) stay below both at the usual counts.
 */
export const PULL_MAX_BYTES = 1 << 20;
export const GROUP_MAX_BYTES = 256 << 10;
/** Bytes per message assumed before a pull has shown any: the first pull of a stream of runs is not 1,000 of them. */
const FIRST_BYTES_PER_MESSAGE = 4096;
/** How long a pull waits on the server for its messages (nats.js's minimum). */
const PULL_EXPIRES_MS = 1000;
/** After its expiry, how long a pull may stay open before the consumer closes it (see run()). */
const PULL_GRACE_MS = 300;

/**
 * A durable JetStream pull consumer with explicit acks that applies each event at most once, a batch at a time.
 *
 * Delivered events are applied in groups, one after another, each taking what gathered while the one before was
 * applied (up to `groupSize`; `backlogBatchSize` behind a backlog), each group in ONE transaction: one set-based INSERT of
 * the group's processed-event records tells which events are new (the rest were applied before, or are copies
 * inside the pull), then each run of consecutive same-type events goes to its handler in stream order, then the
 * commit, then the acks. A redelivered event finds its record and is only acknowledged.
 *
 * When a group's transaction fails, the group is split in halves and each half applied on its own (recursively),
 * so one poison event costs log2(group) transactions and every other event commits; the failing event alone is
 * retried with backoff and dead-lettered after `maxDeliver` deliveries. A database that cannot be reached is not
 * poison: the whole group is retried later, unsplit. Undecodable messages are dead-lettered at once (decoding is
 * deterministic), so one poison message never blocks a stream.
 */
export class DurableConsumer {
  private readonly handlers = new Map<string, BatchHandler<unknown>>();
  private readonly types = new Map<string, EventType<unknown>>();
  private running = false;
  private loop?: Promise<void>;
  private removeScrapeHook?: () => void;
  private pruneTimer?: NodeJS.Timeout;
  private pruning?: Promise<void>;
  private streamName = '';
  /** Messages received and not yet applied, in stream order: the next group takes what has gathered (see receive). */
  private readonly waiting: JsMsg[] = [];
  /** Most events the next group takes: the usual group size, the backlog's while a backlog waits (set per pull). */
  private groupCap: number;
  /** Messages received and not yet done (waiting, or in the group being applied); the next pull waits on it. */
  private held = 0;
  /** The loop applying groups one after another while messages wait; undefined when none wait. */
  private applier?: Promise<void>;
  /** Resolved (and replaced) each time a group is done. */
  private groupDone = signal();
  private readonly headerReader = new HeaderReader(READ_HEADERS);
  /** The set-based processed-events insert, as a named prepared statement (one name per text, so per schema). */
  private readonly processedInsert: { name: string; text: string };
  /** The same insert without ON CONFLICT, for a large group whose events are all new (a backlog's). */
  private readonly processedPlainInsert: { name: string; text: string };

  constructor(private readonly opts: ConsumerOptions) {
    this.groupCap = this.groupSize;
    // Postgres keeps statement names to 63 bytes: a long schema name is hashed rather than cut.
    const named = (prefix: string, text: string) => {
      const name = `${prefix}-${opts.schema}`;
      return { name: Buffer.byteLength(name) <= 63 ? name : `${prefix}-${createHash('sha256').update(opts.schema).digest('hex').slice(0, 32)}`, text };
    };
    const insert = `INSERT INTO "${opts.schema}".processed_events (consumer, event_id) SELECT $1, unnest($2::text[])`;
    this.processedInsert = named('processed-events-insert', `${insert} ON CONFLICT DO NOTHING RETURNING event_id`);
    this.processedPlainInsert = named('processed-events-plain', insert);
  }

  /** Applies events of this type one at a time (inside the batch's transaction). */
  on<T>(type: EventType<T>, handle: EventHandler<T>): this {
    return this.onBatch(type, async (events, { manager }) => {
      for (const d of events) {
        await runWithRequestContext({ requestId: d.requestId }, () =>
          handle(d.event, { manager, eventId: d.eventId, subject: d.subject, requestId: d.requestId }),
        );
      }
    });
  }

  /** Applies events of this type a batch at a time: see BatchHandler. */
  onBatch<T>(type: EventType<T>, handle: BatchHandler<T>): this {
    const mine = type.stream.name === this.opts.stream.name || type.formerStream?.name === this.opts.stream.name;
    if (!mine) throw new Error(`${type.subject} is not in stream ${this.opts.stream.name}`);
    this.handlers.set(type.subject, handle as BatchHandler<unknown>);
    this.types.set(type.subject, type as EventType<unknown>);
    return this;
  }

  private get maxDeliver(): number {
    return this.opts.maxDeliver ?? 10;
  }

  private get batchSize(): number {
    return this.opts.batchSize ?? 500;
  }

  private get groupSize(): number {
    return this.opts.groupSize ?? 500;
  }

  private get backlogBatchSize(): number {
    return Math.max(this.batchSize, this.opts.backlogBatchSize ?? 2 * this.batchSize);
  }

  private get labels() {
    return { stream: this.streamName, durable: this.opts.durable };
  }

  /** Creates the durable consumer, or updates the settings this version wants on the one that exists. */
  private async ensureDurable(streamName: string): Promise<void> {
    const { messaging, durable } = this.opts;
    const ackWait = nanos(this.opts.ackWaitMs ?? 30_000);
    const maxAckPending = this.opts.maxAckPending ?? Math.max(10_000, 4 * this.backlogBatchSize);
    try {
      await messaging.jsm.consumers.info(streamName, durable);
      await messaging.jsm.consumers.update(streamName, durable, { ack_wait: ackWait, max_ack_pending: maxAckPending });
    } catch (e) {
      if (!(e instanceof JetStreamApiError) || !/not found/i.test(e.message)) throw e;
      // No filter: the durable takes every subject of its stream (streams list their subjects).
      await messaging.jsm.consumers.add(streamName, {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: ackWait,
        // Redelivery is bounded by our own count (dead letter after maxDeliver); the server must not give up first.
        max_deliver: -1,
        max_ack_pending: maxAckPending,
      });
    }
  }

  /**
   * The broker lost its store (streams deleted, a volume replaced): the stream and this durable are made again, so
   * what is published from now on flows without an app restart; what the lost store held is re-driven by its
   * producers (docs/operations.md, "Re-drive").
   */
  private async restore(streamName: string): Promise<void> {
    this.opts.logger?.error({ stream: streamName, durable: this.opts.durable }, 'stream or durable consumer missing: recreating them; re-drive the producers for the time the broker lost');
    await this.opts.messaging.ensureStreams([this.opts.stream]);
    await this.ensureDurable(streamName);
  }

  async start(): Promise<void> {
    const { messaging, durable, stream } = this.opts;
    const streamName = messaging.streamName(stream);
    await this.ensureDurable(streamName);
    this.running = true;
    this.streamName = streamName;
    // Lag as JetStream counts it, read when Prometheus scrapes (shared by all replicas of the durable consumer).
    const labels = this.labels;
    this.removeScrapeHook = addScrapeHook(async () => {
      const info = await messaging.jsm.consumers.info(streamName, durable);
      consumerPending.set(labels, info.num_pending);
      consumerAckPending.set(labels, info.num_ack_pending);
    });
    const every = this.opts.pruneIntervalMs ?? 600_000;
    if (every > 0) {
      this.pruneTimer = setInterval(() => {
        this.pruning ??= this.prune()
          .then(() => undefined)
          .catch((e: Error) => this.opts.logger?.warn({ err: e.message, durable }, 'pruning processed_events failed; will try again'))
          .finally(() => (this.pruning = undefined));
      }, every);
      this.pruneTimer.unref();
    }
    this.loop = this.run(streamName);
  }

  /**
   * Stops fetching, lets the groups already received finish (the rest of the current pull is handed back, it ends
   * within the fetch's 1 s expiry), then returns.
   */
  async stop(): Promise<void> {
    this.running = false;
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    await this.loop;
    await this.applier;
    // The last group's acks on their way to the server before stop() returns (a closed connection would lose them).
    await this.opts.messaging.nc.flush().catch(() => undefined);
    await this.pruning;
    this.removeScrapeHook?.();
    this.removeScrapeHook = undefined;
    consumerPending.remove(this.labels);
    consumerAckPending.remove(this.labels);
  }

  /**
   * Deletes this consumer's processed_events rows older than the retention, in chunks (short transactions, never
   * a long lock). Safe once the stream itself no longer holds the event: JetStream cannot redeliver it, and a relay
   * that republishes an old outbox row is still absorbed by the handlers' business keys.
   */
  async prune(): Promise<number> {
    const { dataSource, schema, durable } = this.opts;
    const keepMs = this.opts.processedRetentionMs ?? STREAM_MAX_AGE_MS + 24 * 3600 * 1000;
    let total = 0;
    for (;;) {
      const rows: { n: number }[] = await dataSource.query(
        `WITH old AS (
           SELECT ctid FROM "${schema}".processed_events
           WHERE consumer = $1 AND processed_at < now() - ($2 || ' milliseconds')::interval LIMIT ${PRUNE_CHUNK}),
         gone AS (DELETE FROM "${schema}".processed_events p USING old WHERE p.ctid = old.ctid RETURNING 1)
         SELECT count(*)::int AS n FROM gone`,
        [durable, String(keepMs)],
      );
      const n = rows[0]?.n ?? 0;
      total += n;
      if (n) processedEventsPruned.inc({ schema, durable }, n);
      if (n < PRUNE_CHUNK) return total;
    }
  }

  private async run(streamName: string): Promise<void> {
    const { messaging, durable, logger } = this.opts;
    let missed = 0;
    let bytesPerMessage = FIRST_BYTES_PER_MESSAGE;
    while (this.running) {
      try {
        const consumer = await messaging.js.consumers.get(streamName, durable);
        // Larger pulls and groups while a backlog waits on the server; the usual sizes once caught up.
        let backlog = false;
        while (this.running) {
          const pullSize = Math.max(1, Math.min(backlog ? this.backlogBatchSize : this.batchSize, Math.floor(PULL_MAX_BYTES / bytesPerMessage)));
          const groupSize = backlog ? this.backlogBatchSize : this.groupSize;
          const batch = await consumer.fetch({ max_messages: pullSize, expires: PULL_EXPIRES_MS });
          // Under load the pull's end (the server's 408 once it expires) sometimes never reaches the loop: traced in
          // the lag bench, a pull that had 300–600 of its messages then sat silent until nats.js gave it up for two
          // missed heartbeats, 1.2–1.6 s past its expiry, while the stream's new events waited on the server. Past
          // its expiry and a margin the server holds nothing more for this pull, so it is closed and the next one
          // goes out at once.
          const watchdog = setTimeout(() => {
            consumerPullsCutShort.inc({ stream: streamName, durable });
            logger?.debug({ durable }, 'consumer pull still open past its expiry; closing it and pulling again');
            batch.stop();
          }, PULL_EXPIRES_MS + PULL_GRACE_MS);
          // The pull is read to its end while groups are applied behind it: a loop that awaited the database between
          // reads would stop seeing the pull's heartbeats, and the client would abandon it ("heartbeats missed").
          this.groupCap = groupSize;
          let last: JsMsg | undefined;
          let pulled = 0;
          let pulledBytes = 0;
          try {
            for await (const m of batch) {
              if (!this.running) {
                // Delivered to us but not handled: without a nak the server would hold it back for the whole ack
                // wait before another replica could have it.
                m.nak();
                continue;
              }
              last = m;
              pulled++;
              pulledBytes += m.data.length;
              this.receive(m);
            }
          } finally {
            clearTimeout(watchdog);
          }
          // What waits on the server after the pull is the count its last message carries: one ack subject read per
          // pull, not one per message.
          backlog = last ? deliveryNumbers(last, { deliveryCount: 0, streamSeq: 0, pending: 0 }).pending > 0 : false;
          if (pulled) bytesPerMessage = Math.max(1, pulledBytes / pulled);
          missed = 0;
          // The next pull overlaps with applying this one, but never runs more than one pull ahead.
          await this.inflightAtMost(pullSize);
        }
      } catch (e) {
        if (!this.running) break;
        // The pull saw neither a message nor a heartbeat for two heartbeat intervals (this process or the server
        // busy for a moment): the durable is fine, so the first time in a row it is pulled from again at once. The
        // second's pause below made each of these a two-second stall of the stream under load. Messages it had
        // delivered are already waiting for the next group.
        if ((e as Error).message === 'heartbeats missed' && missed++ === 0) {
          logger?.debug({ durable }, 'consumer pull missed its heartbeats; pulling again');
          continue;
        }
        logger?.warn({ err: (e as Error).message, durable }, 'consumer fetch failed; retrying');
        await new Promise((r) => setTimeout(r, 1000));
        if (this.running && e instanceof JetStreamApiError && /not found/i.test(e.message)) {
          await this.restore(streamName).catch((err: Error) => logger?.warn({ err: err.message, durable }, 'recreating the stream failed; retrying'));
        }
      }
    }
  }

  /**
   * A delivered message waits for the next group. Groups are applied one after another, each taking everything that
   * gathered while the one before was applied (up to the group cap): a message arriving when nothing is being applied
   * goes at once, alone, and messages streaming in behind a transaction share the next one. Cutting groups as
   * messages arrive instead made a group, and a transaction, of every message of a stream being published while a
   * pull was open (nothing pending on the server at each delivery): hundreds of one-send transactions at a blast's start.
   */
  private receive(m: JsMsg): void {
    this.waiting.push(m);
    this.held++;
    if (!this.applier) this.applier = this.applyWaiting();
  }

  private async applyWaiting(): Promise<void> {
    // Wait for the rest of the read that delivered this message (its messages come through the pull's iterator in
    // microtasks), so a burst delivered at once is one group.
    await new Promise((r) => setImmediate(r));
    while (this.waiting.length) {
      const group = this.waiting.splice(0, this.groupLength());
      try {
        await this.applyGroup(group);
      } catch (e) {
        // Unacknowledged messages of a failed group come back after the ack wait.
        this.opts.logger?.error({ err: (e as Error).message, durable: this.opts.durable }, 'applying a group of events failed');
      }
      this.held -= group.length;
      const done = this.groupDone;
      this.groupDone = signal();
      done.resolve();
    }
    // No await since the loop's last check: a message received from here on starts a new loop.
    this.applier = undefined;
  }

  /** How many of the waiting messages the next group takes: up to the group cap and GROUP_MAX_BYTES (at least one). */
  private groupLength(): number {
    const n = Math.min(this.waiting.length, this.groupCap);
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      bytes += this.waiting[i].data.length;
      if (bytes > GROUP_MAX_BYTES && i > 0) return i;
    }
    return n;
  }

  private async inflightAtMost(limit: number): Promise<void> {
    while (this.held > limit) await this.groupDone.promise;
  }

  /**
   * Decodes a group; unhandled messages are acknowledged and undecodable ones dead-lettered on the way. Only the
   * headers and ack-subject numbers the consumer uses are read, from the raw message (see delivered-fast.ts).
   */
  private async applyGroup(group: JsMsg[]): Promise<void> {
    const labels = this.labels;
    const ready: Ready[] = [];
    const ignored: JsMsg[] = [];
    const numbers: DeliveryNumbers = { deliveryCount: 0, streamSeq: 0, pending: 0 };
    for (const m of group) {
      const { deliveryCount, streamSeq: seq } = deliveryNumbers(m, numbers);
      if (deliveryCount > 1) consumerRedeliveries.inc(labels);
      const subject = this.opts.messaging.unprefixed(m.subject);
      let eventIdHeader: string, msgIdHeader: string, requestIdHeader: string, xRequestIdHeader: string;
      try {
        const h = this.headerReader.read(m);
        eventIdHeader = h[0];
        msgIdHeader = h[1];
        requestIdHeader = h[2];
        xRequestIdHeader = h[3];
      } catch (e) {
        // A header block the library cannot parse fails the same way on every delivery: poison, like a bad payload.
        await this.deadLetter(m, subject, `${m.info.stream}:${seq}`, `undecodable headers: ${(e as Error).message}`);
        consumerMessages.inc({ ...labels, outcome: 'dead_letter' });
        continue;
      }
      // A re-driven event carries its original id in Trackly-Event-Id (its Nats-Msg-Id is the re-drive's own, so the
      // stream's duplicate window cannot drop it): applied at most once either way.
      const eventId = eventIdHeader || msgIdHeader || `${m.info.stream}:${seq}`;
      const handle = this.handlers.get(subject);
      if (!handle) {
        ignored.push(m); // an event this service does not need
        consumerMessages.inc({ ...labels, outcome: 'ignored' });
        continue;
      }
      let event: unknown;
      try {
        event = this.types.get(subject)!.codec.decode(m.data);
      } catch (e) {
        await this.deadLetter(m, subject, eventId, `undecodable payload: ${(e as Error).message}`);
        consumerMessages.inc({ ...labels, outcome: 'dead_letter' });
        continue;
      }
      const requestId = incomingRequestId(
        (name) => (name === NATS_REQUEST_ID_HEADER ? requestIdHeader : name === REQUEST_ID_HEADER ? xRequestIdHeader : m.headers?.get(name)) || undefined,
        eventId,
      );
      ready.push({ m, event, handle, eventId, subject, requestId, seq, deliveryCount });
    }
    ackAll(ignored);
    await this.applyTogether(ready);
  }

  /**
   * One transaction for the events; on failure, each half on its own (the database being unreachable aside), down
   * to the one failing event, which is retried or dead-lettered alone.
   */
  private async applyTogether(ready: Ready[]): Promise<void> {
    if (!ready.length) return;
    const { dataSource, durable, logger } = this.opts;
    const labels = this.labels;
    const endBatch = consumerBatchDuration.startTimer(labels);
    // Every event of the group starts and ends with its transaction: one clock for all of them.
    const started = process.hrtime.bigint();
    let fresh = new Set<string>();
    try {
      await withSpan(`${durable} process`, {
        kind: SpanKind.CONSUMER,
        attributes: { 'messaging.system': 'nats', 'messaging.destination.name': this.streamName, 'messaging.batch.message_count': ready.length },
      }, () =>
        dataSource.transaction(async (manager) => {
          fresh = await this.recordProcessed(manager, ready.map((r) => r.eventId));
          // Applied before, or the same event twice in one pull (a republish): applied once.
          const todo: Ready[] = [];
          const taken = new Set<string>();
          for (const r of ready) {
            if (!fresh.has(r.eventId) || taken.has(r.eventId)) continue;
            taken.add(r.eventId);
            todo.push(r);
          }
          // Consecutive events of one type go to their handler together, so order across types is kept.
          for (let i = 0; i < todo.length; ) {
            let j = i + 1;
            while (j < todo.length && todo[j].subject === todo[i].subject) j++;
            const run = todo.slice(i, j);
            await run[0].handle(
              run.map((r) => ({ event: r.event, eventId: r.eventId, subject: r.subject, requestId: r.requestId, seq: r.seq, deliveryCount: r.deliveryCount })),
              { manager, durable },
            );
            i = j;
          }
        }),
      );
    } catch (e) {
      endBatch();
      if (isDatabaseUnavailable(e)) {
        logger?.warn({ err: (e as Error).message, durable, events: ready.length }, 'database unavailable; the group will be retried');
        for (const r of ready) consumerMessages.inc({ ...labels, outcome: await this.failed(r.m, r.subject, r.eventId, e) });
        return;
      }
      if (ready.length > 1) {
        consumerBisections.inc(labels);
        const mid = ready.length >> 1;
        await this.applyTogether(ready.slice(0, mid));
        await this.applyTogether(ready.slice(mid));
        return;
      }
      const [r] = ready;
      consumerMessages.inc({ ...labels, outcome: await this.failed(r.m, r.subject, r.eventId, e) });
      return;
    }
    endBatch();
    consumerBatchSize.observe(labels, ready.length);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    // Explicit acks, one per event, written to the connection together, after the commit.
    ackAll(ready.map((r) => r.m));
    const applied = new Set<string>();
    // The labelled child once per group: observe(labels, …) hashes the labels on every call, once per event.
    const handling = consumerHandling.labels(labels);
    for (const r of ready) {
      handling.observe(seconds);
      if (fresh.has(r.eventId)) applied.add(r.eventId);
    }
    // Counted per group, not per event (the first copy of each fresh event is the applied one).
    if (applied.size) consumerMessages.inc({ ...labels, outcome: 'applied' }, applied.size);
    if (ready.length > applied.size) consumerMessages.inc({ ...labels, outcome: 'duplicate' }, ready.length - applied.size);
    if (applied.size) this.opts.onCommitted?.();
  }

  /**
   * Records the group's events as processed and answers which of them are new. Prepared (parsed and planned once per
   * connection): it runs once per transaction of every consumer. A large group of distinct ids (a backlog, almost
   * always all new) is tried as a plain INSERT first (insertAllNew: ON CONFLICT's probes were ~40% of this statement),
   * and written with ON CONFLICT only when one was applied already (a redelivery). Small groups skip the try: its two
   * extra round trips would cost more than the probes.
   */
  private async recordProcessed(manager: EntityManager, ids: string[]): Promise<Set<string>> {
    const { durable } = this.opts;
    const param = textArrayParam(ids);
    if (
      ids.length >= PLAIN_INSERT_MIN_GROUP &&
      new Set(ids).size === ids.length &&
      (await insertAllNew(manager, 'processed_events', () => preparedQuery(manager, this.processedPlainInsert.name, this.processedPlainInsert.text, [durable, param])))
    ) {
      return new Set(ids);
    }
    const rows = await preparedQuery<{ event_id: string }>(manager, this.processedInsert.name, this.processedInsert.text, [durable, param]);
    return new Set(rows.map((r) => r.event_id));
  }

  /** A delivery whose handler failed (its effect rolled back): retried with backoff, or dead-lettered at the limit. */
  private async failed(m: JsMsg, subject: string, eventId: string, e: unknown): Promise<'retry' | 'dead_letter'> {
    const attempt = m.info.deliveryCount;
    if (attempt >= this.maxDeliver) {
      await this.deadLetter(m, subject, eventId, `failed ${attempt} times: ${(e as Error).message}`);
      return 'dead_letter';
    }
    this.opts.logger?.warn({ err: (e as Error).message, subject, eventId, attempt, durable: this.opts.durable }, 'event handling failed; will retry');
    m.nak(Math.min(30_000, 250 * 2 ** attempt));
    return 'retry';
  }

  private async deadLetter(m: JsMsg, subject: string, eventId: string, reason: string): Promise<void> {
    const { messaging, dataSource, schema, durable, logger } = this.opts;
    logger?.error({ subject, eventId, reason, durable }, 'event dead-lettered');
    try {
      await dataSource.query(
        `INSERT INTO "${schema}".dead_letters (consumer, stream, stream_seq, subject, event_id, reason, payload)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [durable, m.info.stream, m.seq, subject, eventId, reason, Buffer.from(m.data)],
      );
      const h = natsHeaders();
      h.set('Trackly-Dead-Letter-Reason', reason.slice(0, 1000));
      h.set('Trackly-Original-Subject', subject);
      h.set('Trackly-Original-Stream-Seq', String(m.seq));
      await messaging.js.publish(messaging.subject(deadLetterSubject(durable)), m.data, { headers: h, msgID: `${durable}:${m.info.stream}:${m.seq}` });
      // No reason on the wire: servers before 2.10.4 ignore "+TERM <reason>" and would redeliver the message after
      // every ack wait for ever. The reason is in dead_letters and in the dead-letter message's header.
      m.term();
    } catch (e) {
      // Could not record it: leave it to redelivery rather than lose it.
      logger?.error({ err: (e as Error).message }, 'dead-lettering failed; message will be redelivered');
      m.nak(5000);
    }
  }
}

function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
