import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '@trackly/database';
import { createGrpcClient, PromiseClient } from '@trackly/grpc';
import { RunningService } from '@trackly/app-shell';
import type { Clock } from '@trackly/kernel';
import { createTestDatabase, deleteNatsPrefix, freePort, TestDatabase, testInfra, testNatsPrefix } from '@trackly/testing';
import { TrackingServiceService } from '@trackly/contracts/tracking/v1/tracking_service';
import { trackingMigrations } from '../src/migrations';
import { loadTrackingConfig } from '../src/tracking.config';
import { migrateTracking, startTracking } from '../src/tracking.app';

/** The tracking app as a spec drives it: its own database and NATS prefix, a gRPC client, a pg client, the click edge. */
export interface TrackingTestApp {
  db: TestDatabase;
  app: RunningService;
  client: PromiseClient<typeof TrackingServiceService>;
  pg: Client;
  /** The NATS subject/stream prefix of its own. */
  prefix: string;
  /** http://127.0.0.1:<port> of the click edge (also TRACKING_PUBLIC_URL). */
  base: string;
  httpPort: number;
  close(): Promise<void>;
}

/** A database of its own for a spec, with tracking's schema migrated (a copy of the migrated template). */
export function createTrackingTestDatabase(): Promise<TestDatabase> {
  return createTestDatabase('tracking', trackingMigrations, (url) => migrateTracking(url).then(() => undefined));
}

/** A spec's database and a TypeORM DataSource on its tracking schema (raw queries; no entities), closed together. */
export async function trackingSchemaForTest(): Promise<{ db: TestDatabase; ds: DataSource; close(): Promise<void> }> {
  const db = await createTrackingTestDatabase();
  const ds = await new DataSource(dataSourceOptions({ url: db.url, schema: 'tracking', entities: [], migrations: [] })).initialize();
  return {
    db, ds,
    close: async () => {
      await ds.destroy();
      await db.drop();
    },
  };
}

/**
 * Starts tracking on free ports with `env` on top of the test defaults (LOG_LEVEL from TEST_LOG_LEVEL, else warn).
 * `appDatabaseUrl` maps the database URL the app is given (e.g. through a proxy the spec can cut); the spec's own pg
 * client always connects directly.
 */
export async function startTrackingForTest(
  env: Record<string, string>,
  clock: Clock,
  appDatabaseUrl: (url: string) => string = (url) => url,
): Promise<TrackingTestApp> {
  const db = await createTrackingTestDatabase();
  const prefix = testNatsPrefix();
  const { app, grpc, base, httpPort } = await startTrackingOn(appDatabaseUrl(db.url), prefix, env, clock);
  const client = createGrpcClient(TrackingServiceService, grpc);
  const pg = new Client({ connectionString: db.url });
  await pg.connect();
  return {
    db, app, client, pg, prefix, base, httpPort,
    close: async () => {
      await pg.end();
      client.close();
      await app.close(); // drains HTTP, gRPC and the outbox
      await db.drop();
      await deleteNatsPrefix(prefix);
    },
  };
}

/**
 * Starts one tracking app on free ports against a database and NATS prefix that already exist (a second replica of
 * a running one, say), with `env` on top of the test defaults. The caller closes it.
 */
export async function startTrackingOn(
  databaseUrl: string,
  prefix: string,
  env: Record<string, string>,
  clock: Clock,
): Promise<{ app: RunningService; grpc: string; base: string; httpPort: number }> {
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const base = `http://127.0.0.1:${httpPort}`;
  const app = await startTracking(
    loadTrackingConfig({
      DATABASE_URL: databaseUrl,
      NATS_URL: testInfra().natsUrl,
      NATS_PREFIX: prefix,
      TRACKING_HOST: '127.0.0.1',
      TRACKING_GRPC_PORT: String(grpcPort),
      TRACKING_HTTP_PORT: String(httpPort),
      TRACKING_PUBLIC_URL: base,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
      ...env,
    }),
    { clock },
  );
  return { app, grpc: `127.0.0.1:${grpcPort}`, base, httpPort };
}
