import { DynamicModule, Module } from '@nestjs/common';
import { CLOCK, Clock } from '@trackly/kernel';
import { DatabaseModule, PartitionKeeper } from '@trackly/database';
import { DataSource } from 'typeorm';
import { HealthHttpController } from '@trackly/app-shell';
import type { Logger } from '@trackly/logging';
import { MessagingModule, Streams } from '@trackly/messaging';
import { AttributionOutcomesConsumer } from './attribution-outcomes.consumer';
import { ConversionEntity } from './conversions/conversion.entity';
import { ConversionsService } from './conversions/conversions.service';
import { ConversionEventsRelay } from './conversions/conversion-events';
import type { IngestConfig } from './ingest.config';
import { IngestGrpcController } from './ingest.grpc.controller';
import { INGEST_CONFIG, INGEST_LOGGER } from './ingest.tokens';
import { ingestMigrations } from './migrations';
import { ConversionsImportService } from './imports/conversions-import.service';
import { ingestPartitionKeeper } from './partitions/archive-partitions';
import { PartnerEntity } from './partners/partner.entity';
import { PartnersService } from './partners/partners.service';
import { TestCredentials } from './partners/test-credentials';
import { PostbackArchive } from './postbacks/postback-archive.service';
import { PostbackIntake } from './postbacks/postback-intake';
import { PostbackRequestEntity } from './postbacks/postback-request.entity';
import { PostbackHttpController } from './postbacks/postback.http.controller';
import { PostbackEdge } from './postbacks/postback-edge';
import { PostbacksService } from './postbacks/postbacks.service';
import { TestPostbackService } from './postbacks/test-postback.service';
import { IngestRedriveGrpcController } from './redrive/ingest-redrive.grpc.controller';

export const INGEST_SCHEMA = 'ingest';
export const ingestEntities = [ConversionEntity, PostbackRequestEntity, PartnerEntity];

@Module({})
export class IngestModule {
  static register(config: IngestConfig, logger: Logger, clock: Clock): DynamicModule {
    return {
      module: IngestModule,
      imports: [
        DatabaseModule.forService({
          url: config.DATABASE_URL,
          schema: INGEST_SCHEMA,
          entities: ingestEntities,
          migrations: ingestMigrations,
          poolSize: config.DATABASE_POOL_SIZE,
        }),
        MessagingModule.forService({
          url: config.NATS_URL,
          prefix: config.NATS_PREFIX,
          replicas: config.NATS_STREAM_REPLICAS,
          service: 'ingest',
          schema: INGEST_SCHEMA,
          publishes: [Streams.ingest],
          consumes: [Streams.attribution],
          logger,
          outboxRetentionDays: config.OUTBOX_RETENTION_DAYS,
        }),
      ],
      controllers: [IngestRedriveGrpcController, IngestGrpcController, PostbackHttpController, HealthHttpController],
      providers: [
        { provide: INGEST_CONFIG, useValue: config },
        { provide: INGEST_LOGGER, useValue: logger },
        { provide: CLOCK, useValue: clock },
        ConversionEventsRelay,
        ConversionsService,
        PartnersService,
        TestCredentials,
        ConversionsImportService,
        PostbackArchive,
        PostbackIntake,
        PostbacksService,
        PostbackEdge,
        TestPostbackService,
        AttributionOutcomesConsumer,
        {
          // The raw archive's monthly partitions (migration 1765710000000), kept at start and hourly.
          provide: PartitionKeeper,
          inject: [DataSource],
          useFactory: (ds: DataSource) => ingestPartitionKeeper(ds, config, clock, logger),
        },
      ],
    };
  }
}
