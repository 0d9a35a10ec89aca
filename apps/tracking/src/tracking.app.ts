import type { Server } from 'node:http';
import { CLOCK, Clock, systemClock } from '@trackly/kernel';
import { createHealth, serviceNameOf } from '@trackly/grpc';
import { RunningService, startServiceApp } from '@trackly/app-shell';
import { createLogger } from '@trackly/logging';
import { TrackingServiceService } from '@trackly/contracts/tracking/v1/tracking_service';
import { runServiceMigrations } from '@trackly/database';
import { TrackingConfig } from './tracking.config';
import { TRACKING_SCHEMA, TrackingModule, trackingEntities } from './tracking.module';
import { trackingMigrations } from './migrations';
import { ClickEdge } from './clicks/click-edge';
import { ClicksService } from './clicks/clicks.service';
import { LinkCache } from './clicks/link-cache';
import { RedriveServiceService } from '@trackly/contracts/ops/v1/redrive_service';
import { REDRIVE_SERVICE_FULL_NAME } from '@trackly/messaging';

export const TRACKING_SERVICE_FULL_NAME = serviceNameOf(TrackingServiceService);

/** Starts the tracking service: gRPC (catalog, messages, clicks) and the HTTP click edge. */
export async function startTracking(config: TrackingConfig, deps: { clock?: Clock } = {}): Promise<RunningService> {
  const logger = createLogger('tracking', config.LOG_LEVEL);
  const services = { [TRACKING_SERVICE_FULL_NAME]: TrackingServiceService, [REDRIVE_SERVICE_FULL_NAME]: RedriveServiceService };
  const running = await startServiceApp(TrackingModule.register(config, logger, deps.clock ?? systemClock), {
    logger,
    grpc: { url: `${config.TRACKING_HOST}:${config.TRACKING_GRPC_PORT}`, services, health: createHealth(Object.keys(services)), security: config },
    http: { host: config.TRACKING_HOST, port: config.TRACKING_HTTP_PORT },
    configure: (app) => {
      const server = app.getHttpServer() as Server & { maxHeaderSize?: number };
      // Node reads maxHeaderSize (the createServer option; untyped as a property) from its server at each new
      // connection, so setting it before listen() covers every request: a longer head (request line included) is
      // answered 431 by Node itself, before any of our code runs.
      server.maxHeaderSize = config.TRACKING_MAX_HEADER_BYTES;
      // The click edge answers /c/... on this server before Express sees the request (its lean path).
      const clock = app.get<Clock>(CLOCK);
      new ClickEdge({
        clicks: app.get(ClicksService),
        links: app.get(LinkCache),
        now: () => clock.now().getTime(),
        logger,
        config,
        service: 'tracking',
      }).mount(server);
    },
  });
  logger.info(
    { grpc: config.TRACKING_GRPC_PORT, http: config.TRACKING_HTTP_PORT },
    `tracking ready: gRPC ${config.TRACKING_HOST}:${config.TRACKING_GRPC_PORT}, clicks http://${config.TRACKING_HOST}:${config.TRACKING_HTTP_PORT}/c/{code}`,
  );
  return running;
}

/** Applies pending migrations and exits (the Kubernetes migrate init container, `npm run migrate`, test templates). */
export function migrateTracking(databaseUrl: string): Promise<string[]> {
  return runServiceMigrations({ url: databaseUrl, schema: TRACKING_SCHEMA, entities: trackingEntities, migrations: trackingMigrations });
}
