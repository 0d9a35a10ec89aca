import { Clock, systemClock } from '@trackly/kernel';
import { createHealth, serviceNameOf } from '@trackly/grpc';
import { RunningService, startServiceApp } from '@trackly/app-shell';
import { createLogger } from '@trackly/logging';
import { runServiceMigrations } from '@trackly/database';
import { AttributionServiceService } from '@trackly/contracts/attribution/v1/attribution_service';
import { AttributionConfig } from './attribution.config';
import { ATTRIBUTION_SCHEMA, AttributionModule, attributionEntities } from './attribution.module';
import { attributionMigrations } from './migrations';
import { RedriveServiceService } from '@trackly/contracts/ops/v1/redrive_service';
import { REDRIVE_SERVICE_FULL_NAME } from '@trackly/messaging';

export const ATTRIBUTION_SERVICE_FULL_NAME = serviceNameOf(AttributionServiceService);

/** Starts attribution: gRPC, the projections consumer (tracking stream) and the decisions consumer (ingest stream). */
export async function startAttribution(config: AttributionConfig, deps: { clock?: Clock } = {}): Promise<RunningService> {
  const logger = createLogger('attribution', config.LOG_LEVEL);
  const services = { [ATTRIBUTION_SERVICE_FULL_NAME]: AttributionServiceService, [REDRIVE_SERVICE_FULL_NAME]: RedriveServiceService };
  const running = await startServiceApp(AttributionModule.register(config, logger, deps.clock ?? systemClock), {
    logger,
    grpc: { url: `${config.ATTRIBUTION_HOST}:${config.ATTRIBUTION_GRPC_PORT}`, services, health: createHealth(Object.keys(services)), security: config },
  });
  logger.info({ grpc: config.ATTRIBUTION_GRPC_PORT }, `attribution ready: gRPC ${config.ATTRIBUTION_HOST}:${config.ATTRIBUTION_GRPC_PORT}`);
  return running;
}

export function migrateAttribution(databaseUrl: string): Promise<string[]> {
  return runServiceMigrations({ url: databaseUrl, schema: ATTRIBUTION_SCHEMA, entities: attributionEntities, migrations: attributionMigrations });
}
