import { AckPolicy, DeliverPolicy, JsMsg, JetStreamApiError } from '@nats-io/jetstream';
import { headers as natsHeaders, nanos } from '@nats-io/nats-core';
import type { DataSource, EntityManager } from 'typeorm';
import type { Logger } from '@trackly/logging';
import {
  addScrapeHook,
  consumerAckPending,
  consumerHandling,
  consumerMessages,
  consumerPending,
  consumerRedeliveries,
  incomingRequestId,
  runWithRequestContext,
  SpanKind,
  withSpan,
} from '@trackly/observability';
import { DeadLetterStream, EventType, StreamSpec } from './events';
import { Messaging } from './messaging';

export interface HandlerContext {
  /** The transaction in which the processed-event record is written: apply the effect through it. */
  manager: EntityManager;
  /** Nats-Msg-Id of the event (its outbox id at the publisher). */
  eventId: string;
  subject: string;
  /** Request id of the work that produced the event (from its headers), also on every log line of the handler. */
  requestId?: string;
}

export type EventHandler<T> = (event: T, ctx: HandlerContext) => Promise<void>;

/** A delivered message decoded and matched to its handler, waiting to be applied with its group. */
interface ReadyEvent {
  m: JsMsg;
  event: unknown;
  entry: { handle: EventHandler<unknown> };
  eventId: string;
  subject: string;
  requestId: string;
}

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
  batchSize?: number;
  /** Most events applied in one transaction (1 = a transaction per event). */
  groupSize?: number;
  /** Called after a transaction commits (e.g. to kick the outbox relay). */
  onCommitted?: () => void;
}

/**
 * A durable JetStream pull consumer with explicit acks that applies each event at most once: the handler's effect
 * and the processed-event record commit in one transaction, and a redelivered event finds its record and is only
 * acknowledged. Undecodable messages and those failing maxDeliver times are recorded as dead letters and
 * terminated, so one poison message never blocks a stream.
 */
export class DurableConsumer {
  private readonly handlers = new Map<string, { type: EventType<unknown>; handle: EventHandler<unknown> }>();
  private running = false;
  private loop?: Promise<void>;
  private removeScrapeHook?: () => void;
  private streamName = '';

  constructor(private readonly opts: ConsumerOptions) {}

  on<T>(type: EventType<T>, handle: EventHandler<T>): this {
    if (type.stream.name !== this.opts.stream.name) throw new Error(`${type.subject} is not in stream ${this.opts.stream.name}`);
    this.handlers.set(type.subject, { type: type as EventType<unknown>, handle: handle as EventHandler<unknown> });
    return this;
  }

  private get maxDeliver(): number {
    return this.opts.maxDeliver ?? 10;
  }

  async start(): Promise<void> {
    const { messaging, durable, stream } = this.opts;
    const streamName = messaging.streamName(stream);
    const config = {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: messaging.subject(stream.subjects),
      ack_wait: nanos(this.opts.ackWaitMs ?? 30_000),
      // Redelivery is bounded by our own count (dead letter after maxDeliver); the server must not give up first.
      max_deliver: -1,
      max_ack_pending: 1000,
    };
    try {
      await messaging.jsm.consumers.info(streamName, durable);
      await messaging.jsm.consumers.update(streamName, durable, { ack_wait: config.ack_wait, max_ack_pending: config.max_ack_pending });
    } catch (e) {
      if (!(e instanceof JetStreamApiError) || !/not found/i.test(e.message)) throw e;
      await messaging.jsm.consumers.add(streamName, config);
    }
    this.running = true;
    this.streamName = streamName;
    // Lag as JetStream counts it, read when Prometheus scrapes (shared by all replicas of the durable consumer).
    const labels = { stream: streamName, durable };
    this.removeScrapeHook = addScrapeHook(async () => {
      const info = await messaging.jsm.consumers.info(streamName, durable);
      consumerPending.set(labels, info.num_pending);
      consumerAckPending.set(labels, info.num_ack_pending);
    });
    this.loop = this.run(streamName);
  }

  /**
   * Stops fetching, lets the message being handled finish, hands back the rest of the current pull (it ends within
   * the fetch's 1 s expiry), then returns.
   */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.removeScrapeHook?.();
    this.removeScrapeHook = undefined;
    consumerPending.remove({ stream: this.streamName, durable: this.opts.durable });
    consumerAckPending.remove({ stream: this.streamName, durable: this.opts.durable });
  }

  private async run(streamName: string): Promise<void> {
    const { messaging, durable, logger } = this.opts;
    while (this.running) {
      try {
        const consumer = await messaging.js.consumers.get(streamName, durable);
        while (this.running) {
          const batch = await consumer.fetch({ max_messages: this.opts.batchSize ?? 100, expires: 1000 });
          // The pull is read to its end while the groups are applied one after another in the background: a loop
          // that awaited the database between reads would stop seeing the pull's heartbeats, and the client would
          // abandon it ("heartbeats missed") with its messages unacknowledged until the ack wait.
          let work = Promise.resolve();
          const apply = (group: JsMsg[]) => {
            work = work.then(() => this.handleGroup(group)).catch((e: Error) => {
              // Unacknowledged messages of a failed group come back after the ack wait.
              logger?.error({ err: e.message, durable }, 'applying a group of events failed');
            });
          };
          let group: JsMsg[] = [];
          for await (const m of batch) {
            if (!this.running) {
              // Delivered to us but not handled: without a nak the server would hold it back for the whole ack wait
              // (30 s by default) before another consumer could have it. The pull is not cut short either, since
              // messages already on the wire would be lost the same way.
              m.nak();
              continue;
            }
            group.push(m);
            // Apply what has arrived as one group when nothing more is waiting, or the group is full.
            if (m.info.pending === 0 || group.length >= this.groupSize) {
              apply(group);
              group = [];
            }
          }
          if (group.length) apply(group);
          await work;
        }
      } catch (e) {
        if (!this.running) break;
        logger?.warn({ err: (e as Error).message, durable }, 'consumer fetch failed; retrying');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private get groupSize(): number {
    return this.opts.groupSize ?? 50;
  }

  /**
   * Group commit of a consumer: the group's events are applied in order inside ONE transaction (each with its
   * processed-event record, each handler in its own request context and savepoint), committed once, then
   * acknowledged. A burst then costs one commit per group instead of one per event. An event whose handler fails is
   * rolled back to its savepoint (its processed-event record too) and retried or dead-lettered like any failed
   * delivery; the others commit. Undecodable, unhandled and redelivered messages take the ordinary path.
   */
  private async handleGroup(group: JsMsg[]): Promise<void> {
    if (group.length === 1 || this.groupSize <= 1) {
      for (const m of group) await this.handle(m);
      return;
    }
    let ready: ReadyEvent[] = [];
    for (const m of group) {
      const subject = this.opts.messaging.unprefixed(m.subject);
      const entry = this.handlers.get(subject);
      let event: unknown;
      try {
        event = entry ? entry.type.codec.decode(m.data) : undefined;
      } catch {
        event = undefined;
      }
      // Unhandled, undecodable and redelivered messages (the last count towards the dead-letter limit one by one)
      // take the ordinary path, in their place in the order.
      if (!entry || event === undefined || m.info.deliveryCount > 1) {
        await this.applyTogether(ready);
        ready = [];
        await this.handle(m);
        continue;
      }
      const eventId = m.headers?.get('Nats-Msg-Id') || `${m.info.stream}:${m.seq}`;
      const requestId = incomingRequestId((name) => m.headers?.get(name) || undefined, eventId);
      ready.push({ m, event, entry, eventId, subject, requestId });
    }
    await this.applyTogether(ready);
  }

  private async applyTogether(ready: ReadyEvent[]): Promise<void> {
    if (ready.length <= 1) {
      for (const r of ready) await this.handle(r.m);
      return;
    }
    const { dataSource, schema, durable } = this.opts;
    const labels = { stream: this.streamName || ready[0].m.info.stream, durable };
    // One handling observation per event (its time includes waiting for the group's commit).
    const timers = ready.map(() => consumerHandling.startTimer(labels));
    // Outcome per event; a failed one was rolled back to its savepoint (its processed-event record with it).
    let outcomes: ({ kind: 'applied' | 'duplicate' } | { kind: 'failed'; error: unknown })[] = [];
    try {
      await dataSource.transaction(async (manager) => {
        outcomes = [];
        const fresh: { event_id: string }[] = await manager.query(
          `INSERT INTO "${schema}".processed_events (consumer, event_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING RETURNING event_id`,
          [durable, ready.map((r) => r.eventId)],
        );
        const isFresh = new Set(fresh.map((f) => f.event_id));
        const seen = new Set<string>();
        for (const r of ready) {
          // Applied before, or the same event twice in one group (a republish): applied once.
          if (!isFresh.has(r.eventId) || seen.has(r.eventId)) {
            outcomes.push({ kind: 'duplicate' });
            continue;
          }
          seen.add(r.eventId);
          await manager.query('SAVEPOINT consumer_event');
          try {
            await runWithRequestContext({ requestId: r.requestId }, () =>
              r.entry.handle(r.event, { manager, eventId: r.eventId, subject: r.subject, requestId: r.requestId }),
            );
            await manager.query('RELEASE SAVEPOINT consumer_event');
            outcomes.push({ kind: 'applied' });
          } catch (error) {
            await manager.query('ROLLBACK TO SAVEPOINT consumer_event');
            await manager.query(`DELETE FROM "${schema}".processed_events WHERE consumer = $1 AND event_id = $2`, [durable, r.eventId]);
            outcomes.push({ kind: 'failed', error });
          }
        }
      });
    } catch (e) {
      // The transaction itself failed (connection lost, commit refused): nothing was applied; one by one instead.
      this.opts.logger?.warn({ err: (e as Error).message, durable, events: ready.length }, 'group transaction failed; applying its events one by one');
      for (const r of ready) await this.handle(r.m);
      return;
    }
    for (const end of timers) end();
    for (const [i, r] of ready.entries()) {
      const o = outcomes[i];
      if (o.kind === 'failed') {
        const outcome = await this.failed(r.m, r.subject, r.eventId, o.error);
        consumerMessages.inc({ ...labels, outcome });
        continue;
      }
      r.m.ack();
      consumerMessages.inc({ ...labels, outcome: o.kind });
    }
    if (outcomes.some((o) => o.kind === 'applied')) this.opts.onCommitted?.();
  }

  /**
   * One message in the context of the work that produced it: its request id (NATS header, else the event id) on
   * every log line, a consumer span continuing the producer's trace, and the consumer metrics.
   */
  private async handle(m: JsMsg): Promise<void> {
    const labels = { stream: this.streamName || m.info.stream, durable: this.opts.durable };
    if (m.info.deliveryCount > 1) consumerRedeliveries.inc(labels);
    const eventId = m.headers?.get('Nats-Msg-Id') || `${m.info.stream}:${m.seq}`;
    const carrier: Record<string, string> = {};
    for (const k of m.headers?.keys() ?? []) carrier[k.toLowerCase()] = m.headers!.get(k);
    const requestId = incomingRequestId((name) => m.headers?.get(name) || undefined, eventId);
    const end = consumerHandling.startTimer(labels);
    const outcome = await runWithRequestContext({ requestId }, () =>
      withSpan(`${this.opts.durable} process`, { kind: SpanKind.CONSUMER, carrier, attributes: { 'messaging.system': 'nats', 'messaging.destination.name': m.subject } }, () =>
        this.handleInContext(m, eventId, requestId),
      ),
    );
    end();
    consumerMessages.inc({ ...labels, outcome });
  }

  private async handleInContext(m: JsMsg, eventId: string, requestId: string): Promise<'applied' | 'duplicate' | 'ignored' | 'retry' | 'dead_letter'> {
    const { messaging, dataSource, schema, durable } = this.opts;
    const subject = messaging.unprefixed(m.subject);
    const entry = this.handlers.get(subject);
    if (!entry) {
      m.ack(); // an event this service does not need
      return 'ignored';
    }
    let event: unknown;
    try {
      event = entry.type.codec.decode(m.data);
    } catch (e) {
      await this.deadLetter(m, subject, eventId, `undecodable payload: ${(e as Error).message}`);
      return 'dead_letter';
    }
    try {
      let applied = false;
      await dataSource.transaction(async (manager) => {
        const fresh = await manager.query(
          `INSERT INTO "${schema}".processed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1`,
          [durable, eventId],
        );
        if (!fresh.length) return; // applied before: acknowledge only
        await entry.handle(event, { manager, eventId, subject, requestId });
        applied = true;
      });
      m.ack();
      if (applied) this.opts.onCommitted?.();
      return applied ? 'applied' : 'duplicate';
    } catch (e) {
      return this.failed(m, subject, eventId, e);
    }
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
      await messaging.js.publish(
        messaging.subject(`${DeadLetterStream.subjects.slice(0, -1)}${durable}`),
        m.data,
        { headers: h, msgID: `${durable}:${m.info.stream}:${m.seq}` },
      );
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
