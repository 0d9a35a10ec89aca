import { DynamicModule, Module } from '@nestjs/common';
import { CLOCK, Clock } from '@trackly/kernel';
import { DatabaseModule, PartitionKeeper } from '@trackly/database';
import { DataSource } from 'typeorm';
import type { Logger } from '@trackly/logging';
import { MessagingModule, Streams } from '@trackly/messaging';
import { AttributionEventsConsumer } from './attribution-events.consumer';
import { IngestEventsConsumer } from './ingest-events.consumer';
import { reportingMigrations } from './migrations';
import { reportingPartitionKeeper } from './projection/fact-partitions';
import { ProjectionService } from './projection/projection.service';
import type { ReportingConfig } from './reporting.config';
import { ReportingGrpcController } from './reporting.grpc.controller';
import { ReportsService } from './reports/reports.service';
import { FxRatesService } from './fx/fx-rates.service';
import { TrackingEventsConsumer } from './tracking-events.consumer';
import { ReportingRedriveGrpcController } from './redrive/reporting-redrive.grpc.controller';

export const REPORTING_SCHEMA = 'reporting';
// The read models are written with INSERT ... ON CONFLICT and read as aggregates, all in SQL: no mapped entities.
export const reportingEntities = [];

@Module({})
export class ReportingModule {
  static register(config: ReportingConfig, logger: Logger, clock: Clock): DynamicModule {
    return {
      module: ReportingModule,
      imports: [
        DatabaseModule.forService({
          url: config.DATABASE_URL,
          schema: REPORTING_SCHEMA,
          entities: reportingEntities,
          migrations: reportingMigrations,
          poolSize: config.DATABASE_POOL_SIZE,
        }),
        MessagingModule.forService({
          url: config.NATS_URL,
          prefix: config.NATS_PREFIX,
          replicas: config.NATS_STREAM_REPLICAS,
          service: 'reporting',
          schema: REPORTING_SCHEMA,
          publishes: [],
          consumes: [Streams.tracking, Streams.trackingClicks, Streams.ingest, Streams.attribution],
          logger,
        }),
      ],
      controllers: [ReportingRedriveGrpcController, ReportingGrpcController],
      providers: [
        { provide: CLOCK, useValue: clock },
        ProjectionService,
        ReportsService,
        FxRatesService,
        TrackingEventsConsumer,
        AttributionEventsConsumer,
        IngestEventsConsumer,
        // The facts' monthly partitions (migration 1765710000001), kept at start and hourly.
        { provide: PartitionKeeper, inject: [DataSource], useFactory: (ds: DataSource) => reportingPartitionKeeper(ds, config, clock, logger) },
      ],
    };
  }
}
