import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Client } from 'pg';
import { createGrpcClient, PromiseClient } from '@trackly/grpc';
import { RunningService } from '@trackly/app-shell';
import { EventType, Streams } from '@trackly/messaging';
import { createTestDatabase, deleteNatsPrefix, freePort, TestDatabase, testInfra, testNatsPrefix } from '@trackly/testing';
import { DeliveryServiceService } from '@trackly/contracts/delivery/v1/delivery_service';
import { Attribution, AttributionOutcome } from '@trackly/contracts/attribution/v1/attribution';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { deliveryMigrations } from '../src/migrations';
import { loadDeliveryConfig } from '../src/delivery.config';
import { migrateDelivery, startDelivery } from '../src/delivery.app';

/** A delivery app on its own database and NATS prefix, with a gRPC client, SQL and a publisher of real events. */
export class DeliveryHarness {
  db!: TestDatabase;
  prefix = testNatsPrefix();
  app?: RunningService;
  client!: PromiseClient<typeof DeliveryServiceService>;
  nc!: NatsConnection;
  private grpcPort = 0;

  async start(env: Record<string, string> = {}): Promise<this> {
    this.db ??= await createTestDatabase('delivery', deliveryMigrations, (url) => migrateDelivery(url).then(() => undefined));
    this.grpcPort ||= await freePort();
    this.app = await startDelivery(
      loadDeliveryConfig({
        DATABASE_URL: this.db.url, NATS_URL: testInfra().natsUrl, NATS_PREFIX: this.prefix, DELIVERY_HOST: '127.0.0.1',
        DELIVERY_GRPC_PORT: String(this.grpcPort), LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn', METRICS_PORT: '0',
        DELIVERY_ALLOW_PRIVATE_DESTINATIONS: 'true', DELIVERY_BACKOFF_BASE_MS: '50', DELIVERY_BACKOFF_MAX_MS: '400', DELIVERY_POLL_MS: '50',
        ...env,
      }),
    );
    this.client ??= createGrpcClient(DeliveryServiceService, `127.0.0.1:${this.grpcPort}`);
    this.nc ??= await connect({ servers: testInfra().natsUrl });
    return this;
  }

  async stopApp(): Promise<void> {
    await this.app?.close();
    this.app = undefined;
  }

  async close(): Promise<void> {
    await this.stopApp();
    this.client?.close();
    await this.nc?.close();
    await deleteNatsPrefix(this.prefix);
    await this.db?.drop();
  }

  async publish<T>(type: EventType<T>, payload: T, msgID: string): Promise<void> {
    await jetstream(this.nc).publish(`${this.prefix}.${type.subject}`, type.codec.encode(payload).finish(), { msgID });
  }

  async sql<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
    const pg = new Client({ connectionString: this.db.url });
    await pg.connect();
    try {
      return (await pg.query(text, params)).rows as T[];
    } finally {
      await pg.end();
    }
  }

  /** Events of the delivery stream with this name, decoded. */
  async deliveryEvents<T>(type: EventType<T>): Promise<T[]> {
    const jsm = await jetstreamManager(this.nc);
    const name = `${this.prefix.toUpperCase()}_${Streams.delivery.name}`;
    const info = await jsm.streams.info(name).catch(() => undefined);
    if (!info || info.state.messages === 0) return [];
    const c = await jetstream(this.nc).consumers.get(name);
    const out: T[] = [];
    for await (const m of await c.fetch({ max_messages: 1000, expires: 1000 })) {
      if (m.subject.endsWith(type.subject)) out.push(type.codec.decode(m.data));
      if (m.info.pending === 0) break;
    }
    return out;
  }
}

export const usd = (micros: string) => ({ currencyCode: 'USD', amountMicros: micros });

/** A credited decision as attribution publishes it. */
export function attributed(n: number, over: Partial<Attribution> = {}): Attribution {
  return Attribution.fromPartial({
    partnerId: 'everflow', conversionId: `conv-${n}`, conversionRef: `ref-${n}`, outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED,
    reportedClickId: `clk-${n}`, creditedClickId: `clk-${n}`, messageId: `msg-${n}`, contactId: `ct-${n}`, offerId: 'off-1', campaignId: 'camp-1',
    creativeId: 'cr-1', payout: usd('24990000'), status: ConversionStatus.CONVERSION_STATUS_APPROVED,
    occurredAt: new Date('2026-12-01T10:00:00Z'), decidedAt: new Date('2026-12-01T10:00:01Z'), explanation: 'first click', ...over,
  });
}
