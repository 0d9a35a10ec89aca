import { DynamicModule, Module } from '@nestjs/common';
import { CLOCK, Clock } from '@trackly/kernel';
import { DatabaseModule } from '@trackly/database';
import { HealthHttpController } from '@trackly/app-shell';
import type { Logger } from '@trackly/logging';
import { MessagingModule, Streams } from '@trackly/messaging';
import { CampaignEntity, CreativeEntity, OfferEntity } from './catalog/catalog.entity';
import { CatalogService } from './catalog/catalog.service';
import { ClickEntity } from './clicks/click.entity';
import { ClicksService } from './clicks/clicks.service';
import { ClickWriter } from './clicks/click-writer';
import { ClickEventsRelay } from './clicks/click-events';
import { LinkCache } from './clicks/link-cache';
import { MessageEntity } from './messages/message.entity';
import { MessagesService } from './messages/messages.service';
import { MessageEventsRelay } from './messages/message-events';
import { trackingMigrations } from './migrations';
import type { TrackingConfig } from './tracking.config';
import { TrackingGrpcController } from './tracking.grpc.controller';
import { TRACKING_CONFIG, TRACKING_LOGGER } from './tracking.tokens';
import { TrackingRedriveGrpcController } from './redrive/tracking-redrive.grpc.controller';
import { ClickPartitionsJob } from './partitions/click-partitions.job';

export const TRACKING_SCHEMA = 'tracking';
export const trackingEntities = [OfferEntity, CreativeEntity, CampaignEntity, MessageEntity, ClickEntity];

@Module({})
export class TrackingModule {
  static register(config: TrackingConfig, logger: Logger, clock: Clock): DynamicModule {
    return {
      module: TrackingModule,
      imports: [
        DatabaseModule.forService({
          url: config.DATABASE_URL,
          schema: TRACKING_SCHEMA,
          entities: trackingEntities,
          migrations: trackingMigrations,
          poolSize: config.DATABASE_POOL_SIZE,
        }),
        MessagingModule.forService({
          url: config.NATS_URL,
          prefix: config.NATS_PREFIX,
          replicas: config.NATS_STREAM_REPLICAS,
          service: 'tracking',
          schema: TRACKING_SCHEMA,
          publishes: [Streams.tracking, Streams.trackingClicks],
          consumes: [],
          logger,
          outboxRetentionDays: config.OUTBOX_RETENTION_DAYS,
        }),
      ],
      controllers: [TrackingRedriveGrpcController, TrackingGrpcController, HealthHttpController],
      providers: [
        { provide: TRACKING_CONFIG, useValue: config },
        { provide: TRACKING_LOGGER, useValue: logger },
        { provide: CLOCK, useValue: clock },
        ClickPartitionsJob,
        CatalogService,
        MessageEventsRelay,
        MessagesService,
        LinkCache,
        ClickEventsRelay,
        ClickWriter,
        ClicksService,
      ],
    };
  }
}
