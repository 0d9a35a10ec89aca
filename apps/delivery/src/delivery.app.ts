import { Clock, systemClock } from '@trackly/kernel';
import { createHealth, serviceNameOf } from '@trackly/grpc';
import { RunningService, startServiceApp } from '@trackly/app-shell';
import { createLogger } from '@trackly/logging';
import { runServiceMigrations } from '@trackly/database';
import { DeliveryServiceService } from '@trackly/contracts/delivery/v1/delivery_service';
import { DeliveryConfig } from './delivery.config';
import { DELIVERY_SCHEMA, DeliveryModule, deliveryEntities } from './delivery.module';
import { deliveryMigrations } from './migrations';

export const DELIVERY_SERVICE_FULL_NAME = serviceNameOf(DeliveryServiceService);

/** Starts delivery: gRPC (endpoints, log, redeliver), the fan-out consumers and the dispatcher. */
export async function startDelivery(config: DeliveryConfig, deps: { clock?: Clock } = {}): Promise<RunningService> {
  const logger = createLogger('delivery', config.LOG_LEVEL);
  const services = { [DELIVERY_SERVICE_FULL_NAME]: DeliveryServiceService };
  const running = await startServiceApp(DeliveryModule.register(config, logger, deps.clock ?? systemClock), {
    logger,
    grpc: { url: `${config.DELIVERY_HOST}:${config.DELIVERY_GRPC_PORT}`, services, health: createHealth(Object.keys(services)), security: config },
  });
  if (config.DELIVERY_ALLOW_PRIVATE_DESTINATIONS) logger.warn('DELIVERY_ALLOW_PRIVATE_DESTINATIONS=true: endpoints may reach private and loopback addresses');
  logger.info({ grpc: config.DELIVERY_GRPC_PORT }, `delivery ready: gRPC ${config.DELIVERY_HOST}:${config.DELIVERY_GRPC_PORT}`);
  return running;
}

export function migrateDelivery(databaseUrl: string): Promise<string[]> {
  return runServiceMigrations({ url: databaseUrl, schema: DELIVERY_SCHEMA, entities: deliveryEntities, migrations: deliveryMigrations });
}
