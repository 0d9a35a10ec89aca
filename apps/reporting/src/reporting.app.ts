import { Clock, systemClock } from '@trackly/kernel';
import { createHealth, serviceNameOf } from '@trackly/grpc';
import { RunningService, startServiceApp } from '@trackly/app-shell';
import { createLogger } from '@trackly/logging';
import { ReportingServiceService } from '@trackly/contracts/reporting/v1/reporting_service';
import { runServiceMigrations } from '@trackly/database';
import { ReportingConfig } from './reporting.config';
import { REPORTING_SCHEMA, ReportingModule, reportingEntities } from './reporting.module';
import { reportingMigrations } from './migrations';
import { RedriveServiceService } from '@trackly/contracts/ops/v1/redrive_service';
import { REDRIVE_SERVICE_FULL_NAME } from '@trackly/messaging';

export const REPORTING_SERVICE_FULL_NAME = serviceNameOf(ReportingServiceService);

/** Starts the reporting service: event consumers building the read models, and the gRPC reports (no HTTP edge). */
export async function startReporting(config: ReportingConfig, deps: { clock?: Clock } = {}): Promise<RunningService> {
  const logger = createLogger('reporting', config.LOG_LEVEL);
  const services = { [REPORTING_SERVICE_FULL_NAME]: ReportingServiceService, [REDRIVE_SERVICE_FULL_NAME]: RedriveServiceService };
  const running = await startServiceApp(ReportingModule.register(config, logger, deps.clock ?? systemClock), {
    logger,
    grpc: { url: `${config.REPORTING_HOST}:${config.REPORTING_GRPC_PORT}`, services, health: createHealth(Object.keys(services)), security: config },
  });
  logger.info({ grpc: config.REPORTING_GRPC_PORT }, `reporting ready: gRPC ${config.REPORTING_HOST}:${config.REPORTING_GRPC_PORT}`);
  return running;
}

/** Applies pending migrations and exits (the Kubernetes migrate init container, `npm run migrate`, test templates). */
export function migrateReporting(databaseUrl: string): Promise<string[]> {
  return runServiceMigrations({ url: databaseUrl, schema: REPORTING_SCHEMA, entities: reportingEntities, migrations: reportingMigrations });
}
