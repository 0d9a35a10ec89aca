/**
 * The reporting app as its integration specs run it: its own throwaway database (migrated, optionally seeded before
 * the app starts), its own NATS prefix, a gRPC client, and a JetStream publisher for the events it consumes.
 */
import { randomUUID } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, JetStreamClient } from '@nats-io/jetstream';
import { createGrpcClient, PromiseClient } from '@trackly/grpc';
import { RunningService } from '@trackly/app-shell';
import type { Clock } from '@trackly/kernel';
import type { EventType } from '@trackly/messaging';
import { createTestDatabase, deleteNatsPrefix, freePort, TestDatabase, testInfra, testNatsPrefix } from '@trackly/testing';
import { ReportingServiceService } from '@trackly/contracts/reporting/v1/reporting_service';
import { reportingMigrations } from '../src/migrations';
import { loadReportingConfig } from '../src/reporting.config';
import { migrateReporting, startReporting } from '../src/reporting.app';

export class ReportingTestApp {
  private constructor(
    readonly db: TestDatabase,
    readonly prefix: string,
    private readonly app: RunningService,
    readonly client: PromiseClient<typeof ReportingServiceService>,
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
  ) {}

  /** `seed` runs on the migrated database before the app starts (e.g. facts written directly). */
  static async start(opts: { clock?: Clock; seed?: (databaseUrl: string) => Promise<void> } = {}): Promise<ReportingTestApp> {
    const db = await createTestDatabase('reporting', reportingMigrations, (url) => migrateReporting(url).then(() => undefined));
    const prefix = testNatsPrefix();
    let app: RunningService | undefined;
    try {
      await opts.seed?.(db.url);
      const grpcPort = await freePort();
      app = await startReporting(
        loadReportingConfig({
          DATABASE_URL: db.url, NATS_URL: testInfra().natsUrl, NATS_PREFIX: prefix, REPORTING_HOST: '127.0.0.1',
          REPORTING_GRPC_PORT: String(grpcPort), LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
        }),
        { clock: opts.clock },
      );
      const nc = await connect({ servers: testInfra().natsUrl });
      return new ReportingTestApp(db, prefix, app, createGrpcClient(ReportingServiceService, `127.0.0.1:${grpcPort}`), nc, jetstream(nc));
    } catch (e) {
      await app?.close();
      await db.drop();
      await deleteNatsPrefix(prefix);
      throw e;
    }
  }

  /** Publishes an event to the stream reporting consumes, as its producer would (a fresh Nats-Msg-Id unless given). */
  async publish<T>(type: EventType<T>, payload: T, msgID: string = randomUUID()): Promise<void> {
    await this.js.publish(`${this.prefix}.${type.subject}`, type.codec.encode(payload).finish(), { msgID });
  }

  async close(): Promise<void> {
    this.client.close();
    await this.nc.close();
    await this.app.close();
    await this.db.drop();
    await deleteNatsPrefix(this.prefix);
  }
}
