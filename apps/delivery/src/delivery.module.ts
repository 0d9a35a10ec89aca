import { DynamicModule, Module } from '@nestjs/common';
import { CLOCK, Clock } from '@trackly/kernel';
import { DatabaseModule } from '@trackly/database';
import type { Logger } from '@trackly/logging';
import { MessagingModule, Streams } from '@trackly/messaging';
import type { DeliveryConfig } from './delivery.config';
import { DeliveryGrpcController } from './delivery.grpc.controller';
import { DELIVERY_CONFIG, DELIVERY_LOGGER } from './delivery.tokens';
import { DeliveriesService } from './dispatch/deliveries.service';
import { Dispatcher } from './dispatch/dispatcher';
import { EndpointsService } from './endpoints/endpoints.service';
import { DeliveryEventsConsumer } from './fanout/events.consumer';
import { FanoutService } from './fanout/fanout.service';
import { deliveryMigrations } from './migrations';

export const DELIVERY_SCHEMA = 'delivery';
/** Plain SQL throughout (set-based writes); no TypeORM entities. */
export const deliveryEntities: never[] = [];

@Module({})
export class DeliveryModule {
  static register(config: DeliveryConfig, logger: Logger, clock: Clock): DynamicModule {
    return {
      module: DeliveryModule,
      imports: [
        DatabaseModule.forService({
          url: config.DATABASE_URL,
          schema: DELIVERY_SCHEMA,
          entities: deliveryEntities,
          migrations: deliveryMigrations,
          poolSize: config.DATABASE_POOL_SIZE,
        }),
        MessagingModule.forService({
          url: config.NATS_URL,
          prefix: config.NATS_PREFIX,
          replicas: config.NATS_STREAM_REPLICAS,
          service: 'delivery',
          schema: DELIVERY_SCHEMA,
          publishes: [Streams.delivery],
          consumes: [Streams.attribution, Streams.trackingClicks],
          logger,
        }),
      ],
      controllers: [DeliveryGrpcController],
      providers: [
        { provide: DELIVERY_CONFIG, useValue: config },
        { provide: CLOCK, useValue: clock },
        { provide: DELIVERY_LOGGER, useValue: logger },
        EndpointsService,
        FanoutService,
        Dispatcher,
        DeliveriesService,
        DeliveryEventsConsumer,
      ],
    };
  }
}
