/**
 * What attribution's live-flow specs share: a throwaway database (migrated), a NATS prefix, a publisher for the
 * events attribution consumes, a pg client to read its tables, the app started on them, and the fixtures of a
 * person's click and a pending conversion as tracking and ingest publish them.
 */
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import { Client } from 'pg';
import { RunningService } from '@trackly/app-shell';
import type { Clock } from '@trackly/kernel';
import type { EventType } from '@trackly/messaging';
import { createTestDatabase, deleteNatsPrefix, freePort, TestDatabase, testInfra, testNatsPrefix } from '@trackly/testing';
import { AttributionState, Conversion } from '@trackly/contracts/ingest/v1/ingest';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { Click, ClickClass } from '@trackly/contracts/tracking/v1/tracking';
import { attributionMigrations } from '../src/migrations';
import { loadAttributionConfig } from '../src/attribution.config';
import { migrateAttribution, startAttribution } from '../src/attribution.app';

export class AttributionTestEnv {
  private constructor(
    readonly db: TestDatabase,
    readonly prefix: string,
    readonly pg: Client,
    private readonly nc: NatsConnection,
  ) {}

  static async open(): Promise<AttributionTestEnv> {
    const prefix = testNatsPrefix();
    const db = await createTestDatabase('attribution', attributionMigrations, (u) => migrateAttribution(u).then(() => undefined));
    const nc = await connect({ servers: testInfra().natsUrl });
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    return new AttributionTestEnv(db, prefix, pg, nc);
  }

  /** Publishes an event on this prefix as its producer would, under the given Nats-Msg-Id. */
  async publish<T>(type: EventType<T>, payload: T, msgID: string): Promise<void> {
    await jetstream(this.nc).publish(`${this.prefix}.${type.subject}`, type.codec.encode(payload).finish(), { msgID });
  }

  /** Starts attribution on this database and prefix (gRPC on a free port, tracking nowhere); `env` adds settings. */
  async start(env: Record<string, string>, clock: Clock): Promise<{ app: RunningService; grpcUrl: string }> {
    const port = await freePort();
    const app = await startAttribution(
      loadAttributionConfig({
        DATABASE_URL: this.db.url, NATS_URL: testInfra().natsUrl, NATS_PREFIX: this.prefix, ATTRIBUTION_HOST: '127.0.0.1',
        ATTRIBUTION_GRPC_PORT: String(port), TRACKING_GRPC_URL: `127.0.0.1:${await freePort()}`, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
        ...env,
      }),
      { clock },
    );
    return { app, grpcUrl: `127.0.0.1:${port}` };
  }

  async close(): Promise<void> {
    await this.pg.end();
    await this.nc.close();
    await this.db.drop();
    await deleteNatsPrefix(this.prefix);
  }
}

/** A person's first tap on a message of campaign "camp", creative "cr". */
export function humanClick(clickId: string, clickedAt: Date, opts: { offerId: string; contactId: string }): Click {
  return Click.fromPartial({
    clickId, messageId: `m-${clickId}`, contactId: opts.contactId, offerId: opts.offerId, campaignId: 'camp', creativeId: 'cr', clickedAt,
    clickClass: ClickClass.CLICK_CLASS_HUMAN, firstClickOnMessage: true,
  });
}

/** A conversion of partner "tune" as ingest publishes it (not yet decided), received when it occurred. */
export function pendingConversion(conversionId: string, clickId: string, occurredAt: Date, opts: { micros?: string; status?: ConversionStatus } = {}): Conversion {
  return Conversion.fromPartial({
    id: `ref-${conversionId}`, partnerId: 'tune', conversionId, clickId, payout: { currencyCode: 'USD', amountMicros: opts.micros ?? '5000000' },
    status: opts.status ?? ConversionStatus.CONVERSION_STATUS_APPROVED, occurredAt, receivedAt: occurredAt, attributionState: AttributionState.ATTRIBUTION_STATE_PENDING,
  });
}
