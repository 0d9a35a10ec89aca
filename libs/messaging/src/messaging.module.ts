import {
  BeforeApplicationShutdown,
  DynamicModule,
  Inject,
  Injectable,
  Module,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Logger } from '@trackly/logging';
import { ConsumerOptions, DurableConsumer } from './consumer';
import { StreamSpec } from './events';
import { Messaging } from './messaging';
import { Outbox, OutboxRelay } from './outbox';

export interface MessagingModuleOptions {
  url: string;
  prefix: string;
  replicas: number;
  /** Service name: connection name and durable consumer prefix. */
  service: string;
  /** Schema holding this service's outbox and processed events. */
  schema: string;
  /** Streams this service publishes to (created or updated at start-up). */
  publishes: StreamSpec[];
  /** Streams this service consumes (must exist: created here too so start-up order does not matter). */
  consumes: StreamSpec[];
  logger: Logger;
  /** How long published outbox rows are kept for re-drives (default DEFAULT_OUTBOX_RETENTION_MS). */
  outboxRetentionDays?: number;
}

export const MESSAGING_OPTIONS = Symbol('MESSAGING_OPTIONS');

/** The durable consumer name of a service on a stream (its processed_events rows carry it). */
export function durableName(service: string, stream: StreamSpec): string {
  return `${service}-${stream.name.toLowerCase().replace(/_/g, '-')}`;
}

/**
 * Owns the start and the orderly stop of everything event-related in a service: consumers stop first (in-flight
 * messages finish), then the relay flushes what is committed, then the connection drains. All of it runs before
 * Nest closes the database.
 */
@Injectable()
export class MessagingLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly consumers: DurableConsumer[] = [];
  private started = false;

  constructor(
    @Inject(MESSAGING_OPTIONS) private readonly opts: MessagingModuleOptions,
    private readonly messaging: Messaging,
    private readonly relay: OutboxRelay,
    private readonly dataSource: DataSource,
  ) {}

  /** Builds a durable consumer for one stream; it starts with the application. */
  consumer(stream: StreamSpec, name = this.opts.service): DurableConsumer {
    const options: ConsumerOptions = {
      messaging: this.messaging,
      dataSource: this.dataSource,
      schema: this.opts.schema,
      durable: durableName(name, stream),
      stream,
      logger: this.opts.logger,
      onCommitted: () => this.relay.kick(),
    };
    const c = new DurableConsumer(options);
    this.consumers.push(c);
    if (this.started) void c.start();
    return c;
  }

  async onApplicationBootstrap(): Promise<void> {
    this.relay.start();
    await Promise.all(this.consumers.map((c) => c.start()));
    this.started = true;
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.stop()));
    await this.relay.stop();
    await this.messaging.close();
  }
}

@Module({})
export class MessagingModule {
  static forService(opts: MessagingModuleOptions): DynamicModule {
    return {
      module: MessagingModule,
      global: true,
      providers: [
        { provide: MESSAGING_OPTIONS, useValue: opts },
        {
          provide: Messaging,
          useFactory: async () => {
            const m = await Messaging.connect({
              url: opts.url,
              prefix: opts.prefix,
              name: opts.service,
              replicas: opts.replicas,
              logger: opts.logger,
            });
            await m.ensureStreams([...opts.publishes, ...opts.consumes]);
            return m;
          },
        },
        { provide: Outbox, useValue: new Outbox(opts.schema) },
        {
          provide: OutboxRelay,
          inject: [DataSource, Messaging],
          useFactory: (ds: DataSource, m: Messaging) => new OutboxRelay(ds, m, opts.schema, opts.logger, {
            retainPublishedMs: opts.outboxRetentionDays ? opts.outboxRetentionDays * 24 * 3600 * 1000 : undefined,
          }),
        },
        MessagingLifecycle,
      ],
      exports: [Messaging, Outbox, OutboxRelay, MessagingLifecycle],
    };
  }
}
