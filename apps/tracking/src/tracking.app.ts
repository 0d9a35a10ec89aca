import type { Server } from 'node:http';
import { Clock, systemClock } from '@trackly/kernel';
import { createHealth, RunningService, startServiceApp } from '@trackly/grpc';
import { createLogger } from '@trackly/logging';
import { TrackingServiceService } from '@trackly/contracts/tracking/v1/tracking_service';
import { runServiceMigrations } from '@trackly/database';
import { TrackingConfig } from './tracking.config';
import { TRACKING_SCHEMA, TrackingModule, trackingEntities } from './tracking.module';
import { trackingMigrations } from './migrations';
import { mountClickEdge } from './clicks/click.http.controller';

export const TRACKING_SERVICE_FULL_NAME = 'trackly.tracking.v1.TrackingService';

/** Starts the tracking service: gRPC (catalog, messages, clicks) and the HTTP click edge. */
export async function startTracking(config: TrackingConfig, deps: { clock?: Clock } = {}): Promise<RunningService> {
  const logger = createLogger('tracking', config.LOG_LEVEL);
  const services = { [TRACKING_SERVICE_FULL_NAME]: TrackingServiceService };
  const running = await startServiceApp(TrackingModule.register(config, logger, deps.clock ?? systemClock), {
    logger,
    grpc: { url: `${config.TRACKING_HOST}:${config.TRACKING_GRPC_PORT}`, services, health: createHealth(Object.keys(services)), security: config },
    http: { host: config.TRACKING_HOST, port: config.TRACKING_HTTP_PORT },
    configure: (app) => {
      // Node reads maxHeaderSize (the createServer option; untyped as a property) from its server at each new
      // connection, so setting it before listen() covers every request: a longer head (request line included) is
      // answered 431 by Node itself, before any of our code runs.
      (app.getHttpServer() as Server & { maxHeaderSize?: number }).maxHeaderSize = config.TRACKING_MAX_HEADER_BYTES;
      // The client address (noise limit, repeat rule, stored ip) behind our load balancer; Express walks
      // X-Forwarded-For from the right, skipping these, as ingest does for partners.
      if (config.TRACKING_TRUSTED_PROXIES.length) app.getHttpAdapter().getInstance().set('trust proxy', config.TRACKING_TRUSTED_PROXIES);
      mountClickEdge(app, logger, config);
    },
  });
  logger.info(
    { grpc: config.TRACKING_GRPC_PORT, http: config.TRACKING_HTTP_PORT },
    `tracking ready: gRPC ${config.TRACKING_HOST}:${config.TRACKING_GRPC_PORT}, clicks http://${config.TRACKING_HOST}:${config.TRACKING_HTTP_PORT}/c/{code}`,
  );
  return running;
}

/** Applies pending migrations and exits (the Kubernetes migration Job, `npm run migrate`, test templates). */
export function migrateTracking(databaseUrl: string): Promise<string[]> {
  return runServiceMigrations({ url: databaseUrl, schema: TRACKING_SCHEMA, entities: trackingEntities, migrations: trackingMigrations });
}
