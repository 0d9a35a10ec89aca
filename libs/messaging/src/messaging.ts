import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { nanos } from '@nats-io/nats-core';
import {
  JetStreamApiError,
  JetStreamClient,
  JetStreamManager,
  StorageType,
  DiscardPolicy,
  RetentionPolicy,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import type { Logger } from '@trackly/logging';
import { DeadLetterStream, StreamSpec } from './events';

export interface MessagingOptions {
  url: string;
  /** Prepended to every subject ("<prefix>.") and stream name ("<PREFIX>_"): empty in production, unique per test. */
  prefix: string;
  /** Connection name shown by the server. */
  name: string;
  /** Stream replicas: 1 on one server, 3 on a production cluster. */
  replicas?: number;
  logger?: Logger;
}

export class MessagingUnavailableError extends Error {}

/**
 * How long a stream keeps an event (14 days): a consumer that was down, or a new read model, can replay that far.
 * processed_events rows must outlive it (see DurableConsumer's pruning).
 */
export const STREAM_MAX_AGE_MS = 14 * 24 * 3600 * 1000;

/** One NATS connection with JetStream handles and the prefix rules every publisher and consumer applies. */
export class Messaging {
  /** Every stream this connection has ensured (its service's), for ensureKnownStreams. */
  private readonly ensured = new Map<string, StreamSpec>();

  private constructor(
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    private readonly opts: MessagingOptions,
  ) {}

  static async connect(opts: MessagingOptions): Promise<Messaging> {
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: opts.url,
        name: opts.name,
        // Keep trying for ever after a first successful connection: a NATS restart must not need an app restart.
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
        timeout: 5000,
        // Without this every request (each JetStream publish waits for its ack through one) builds two Error objects
        // with stack traces up front, for nicer traces on a timeout: 6% of the click edge's CPU in its profile.
        noAsyncTraces: true,
      });
    } catch (e) {
      throw new MessagingUnavailableError(
        `NATS does not answer at ${opts.url} (${(e as Error).message}). Start nats-server with JetStream (-js), ` +
          'or point NATS_URL at one (see README "Postgres and NATS").',
      );
    }
    const jsm = await jetstreamManager(nc).catch(async (e: Error) => {
      await nc.close();
      throw new MessagingUnavailableError(`NATS at ${opts.url} has no JetStream (${e.message}): start it with -js.`);
    });
    const m = new Messaging(nc, jetstream(nc), jsm, opts);
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect' || s.type === 'reconnect') opts.logger?.warn({ nats: s.type }, `NATS ${s.type}`);
      }
    })();
    return m;
  }

  get prefix(): string {
    return this.opts.prefix;
  }

  subject(subject: string): string {
    return this.opts.prefix ? `${this.opts.prefix}.${subject}` : subject;
  }

  /** Subject as published, without this environment's prefix. */
  unprefixed(subject: string): string {
    return this.opts.prefix && subject.startsWith(`${this.opts.prefix}.`) ? subject.slice(this.opts.prefix.length + 1) : subject;
  }

  streamName(stream: StreamSpec): string {
    return this.opts.prefix ? `${this.opts.prefix.toUpperCase()}_${stream.name}` : stream.name;
  }

  /**
   * Creates or updates the streams; file storage, a 2-minute duplicate window (Nats-Msg-Id), 14 days kept. Existing
   * streams are updated before new ones are created: when a subject moves to a stream of its own (ClickRecorded did),
   * the old stream must give it up first, since two streams may not share a subject.
   */
  async ensureStreams(streams: StreamSpec[]): Promise<void> {
    const all = [...streams, DeadLetterStream].filter((s, i, list) => list.findIndex((x) => x.name === s.name) === i);
    for (const s of all) this.ensured.set(s.name, s);
    const missing: StreamSpec[] = [];
    for (const s of all) {
      const config = this.streamConfig(s);
      try {
        await this.jsm.streams.info(config.name);
      } catch (e) {
        if (!(e instanceof JetStreamApiError) || !/not found/i.test(e.message)) throw e;
        missing.push(s);
        continue;
      }
      await this.jsm.streams.update(config.name, config);
    }
    for (const s of missing) {
      await this.jsm.streams.add(this.streamConfig(s)).catch((err: Error) => {
        if (!/already in use|already exists/i.test(err.message)) throw err;
      });
    }
  }

  /**
   * The streams ensured before, created again where missing. A producer's relays simply retry while a stream is gone
   * (a consumer recreates it), but a re-drive after a wiped store is the operator's step and must not fail because
   * no consumer has come back yet.
   */
  async ensureKnownStreams(): Promise<void> {
    await this.ensureStreams([...this.ensured.values()]);
  }

  private streamConfig(s: StreamSpec) {
    return {
      name: this.streamName(s),
      subjects: s.subjects.map((x) => this.subject(x)),
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      max_age: nanos(STREAM_MAX_AGE_MS),
      duplicate_window: nanos(2 * 60 * 1000),
      num_replicas: this.opts.replicas ?? 1,
    };
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    await this.nc.drain().catch(() => this.nc.close());
  }
}
