import type { Server } from 'node:http';
import { Clock, systemClock } from '@trackly/kernel';
import { createHealth, serviceNameOf } from '@trackly/grpc';
import { RunningService, startServiceApp } from '@trackly/app-shell';
import { createLogger } from '@trackly/logging';
import { IngestServiceService } from '@trackly/contracts/ingest/v1/ingest_service';
import { runServiceMigrations } from '@trackly/database';
import { IngestConfig } from './ingest.config';
import { INGEST_SCHEMA, IngestModule, ingestEntities } from './ingest.module';
import { ingestMigrations } from './migrations';
import { configurePostbackBodies } from './postbacks/postback-body.middleware';
import { PostbackEdge } from './postbacks/postback-edge';
import { RedriveServiceService } from '@trackly/contracts/ops/v1/redrive_service';
import { REDRIVE_SERVICE_FULL_NAME } from '@trackly/messaging';

export const INGEST_SERVICE_FULL_NAME = serviceNameOf(IngestServiceService);

/** Starts the ingest service: gRPC (submit, get, list conversions), the partner postback edge, and the consumer of attribution's decisions. */
export async function startIngest(config: IngestConfig, deps: { clock?: Clock } = {}): Promise<RunningService> {
  const logger = createLogger('ingest', config.LOG_LEVEL);
  const services = { [INGEST_SERVICE_FULL_NAME]: IngestServiceService, [REDRIVE_SERVICE_FULL_NAME]: RedriveServiceService };
  const running = await startServiceApp(IngestModule.register(config, logger, deps.clock ?? systemClock), {
    logger,
    grpc: { url: `${config.INGEST_HOST}:${config.INGEST_GRPC_PORT}`, services, health: createHealth(Object.keys(services)), security: config },
    http: { host: config.INGEST_HOST, port: config.INGEST_HTTP_PORT },
    configure: (app) => {
      // Node reads maxHeaderSize (the createServer option; untyped as a property) from its server at each new
      // connection, so setting it before listen() covers every request: a longer head (request line included) is
      // answered 431 by Node itself, before any of our code runs.
      const server = app.getHttpServer() as Server & { maxHeaderSize?: number };
      server.maxHeaderSize = config.INGEST_MAX_HEADER_BYTES;
      configurePostbackBodies(app, config.INGEST_MAX_BODY_BYTES);
      // The postback routes are answered on this server before Express sees the request (their lean path).
      app.get(PostbackEdge).mount(server, 'ingest');
    },
  });
  logger.info(
    { grpc: config.INGEST_GRPC_PORT, http: config.INGEST_HTTP_PORT },
    `ingest ready: gRPC ${config.INGEST_HOST}:${config.INGEST_GRPC_PORT}, postbacks http://${config.INGEST_HOST}:${config.INGEST_HTTP_PORT}/postbacks/{partner}`,
  );
  return running;
}

/** Applies pending migrations and exits (the Kubernetes migrate init container, `npm run migrate`, test templates). */
export function migrateIngest(databaseUrl: string): Promise<string[]> {
  return runServiceMigrations({ url: databaseUrl, schema: INGEST_SCHEMA, entities: ingestEntities, migrations: ingestMigrations });
}
