import { DynamicModule, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { CLOCK, Clock } from '@trackly/kernel';
import { DatabaseModule } from '@trackly/database';
import { createGrpcClient, PromiseClient } from '@trackly/grpc';
import type { Logger } from '@trackly/logging';
import { MessagingModule, Streams } from '@trackly/messaging';
import { TrackingServiceService } from '@trackly/contracts/tracking/v1/tracking_service';
import type { AttributionConfig } from './attribution.config';
import { AttributionGrpcController } from './attribution.grpc.controller';
import { ATTRIBUTION_CONFIG, ATTRIBUTION_LOGGER, TRACKING_CLIENT } from './attribution.tokens';
import { AttributionService } from './decisions/attribution.service';
import { ConversionsConsumer } from './decisions/conversions.consumer';
import { DecisionEntity } from './decisions/decision.entity';
import { ParkedConversionEntity } from './decisions/parked.entity';
import { AdjustmentsService } from './decisions/adjustments.service';
import { ExplainService } from './decisions/explain.service';
import { ParkedSweeper } from './decisions/parked-sweeper';
import { ReattributionService } from './decisions/reattribution.service';
import { attributionMigrations } from './migrations';
import { ProjectionsRepository } from './projections/projections.repository';
import { TrackingEventsConsumer } from './projections/tracking-events.consumer';
import { DecisionFlow } from './flow/decision-flow';
import { OfferRulesRepository } from './rules/offer-rules.repository';
import { OfferRulesService } from './rules/offer-rules.service';
import { HoldSweeper } from './rules/hold-sweeper';
import { PgDecisionStore } from './flow/pg-decision.store';
import { PgFactsReader } from './flow/pg-facts.reader';
import { GrpcTrackingClicks, PgClickProjectionWriter, PgUnitOfWork } from './flow/pg-adapters';
import { AttributionRedriveGrpcController } from './redrive/attribution-redrive.grpc.controller';

export const ATTRIBUTION_SCHEMA = 'attribution';
export const attributionEntities = [DecisionEntity, ParkedConversionEntity];

@Module({})
export class AttributionModule implements OnApplicationShutdown {
  constructor(@Inject(TRACKING_CLIENT) private readonly tracking: PromiseClient<typeof TrackingServiceService>) {}

  static register(config: AttributionConfig, logger: Logger, clock: Clock): DynamicModule {
    return {
      module: AttributionModule,
      imports: [
        DatabaseModule.forService({
          url: config.DATABASE_URL,
          schema: ATTRIBUTION_SCHEMA,
          entities: attributionEntities,
          migrations: attributionMigrations,
          poolSize: config.DATABASE_POOL_SIZE,
        }),
        MessagingModule.forService({
          url: config.NATS_URL,
          prefix: config.NATS_PREFIX,
          replicas: config.NATS_STREAM_REPLICAS,
          service: 'attribution',
          schema: ATTRIBUTION_SCHEMA,
          publishes: [Streams.attribution],
          consumes: [Streams.tracking, Streams.trackingClicks, Streams.ingest],
          logger,
          outboxRetentionDays: config.OUTBOX_RETENTION_DAYS,
        }),
      ],
      controllers: [AttributionRedriveGrpcController, AttributionGrpcController],
      providers: [
        { provide: ATTRIBUTION_CONFIG, useValue: config },
        { provide: CLOCK, useValue: clock },
        { provide: ATTRIBUTION_LOGGER, useValue: logger },
        {
          provide: TRACKING_CLIENT,
          useFactory: () => createGrpcClient(TrackingServiceService, config.TRACKING_GRPC_URL, { deadlineMs: config.TRACKING_DEADLINE_MS, security: config }),
        },
        ProjectionsRepository,
        OfferRulesRepository,
        OfferRulesService,
        HoldSweeper,
        PgUnitOfWork,
        PgFactsReader,
        PgDecisionStore,
        PgClickProjectionWriter,
        GrpcTrackingClicks,
        {
          provide: DecisionFlow,
          inject: [PgUnitOfWork, PgFactsReader, PgDecisionStore, PgClickProjectionWriter, GrpcTrackingClicks, CLOCK],
          useFactory: (uow: PgUnitOfWork, reader: PgFactsReader, store: PgDecisionStore, clicks: PgClickProjectionWriter, tracking: GrpcTrackingClicks, c: Clock) =>
            new DecisionFlow(uow, reader, store, clicks, tracking, c, {
              policy: { defaultWindowDays: config.ATTRIBUTION_DEFAULT_WINDOW_DAYS, directSessionMs: config.ATTRIBUTION_DIRECT_SESSION_MINUTES * 60_000 },
              horizonMs: config.ATTRIBUTION_PARK_HORIZON_SECONDS * 1000,
            }),
        },
        AttributionService,
        AdjustmentsService,
        ExplainService,
        ReattributionService,
        ParkedSweeper,
        TrackingEventsConsumer,
        ConversionsConsumer,
      ],
    };
  }

  onApplicationShutdown(): void {
    this.tracking.close();
  }
}
