import { DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { CLOCK, Clock } from '@trackly/kernel';
import { ApiKeyGuard } from './auth/api-key.guard';
import { ConsoleAssets } from './console/console-assets';
import { ConsoleHttpController } from './console/console.http.controller';
import { ConversionsHttpController } from './conversions/conversions.http.controller';
import { ConversionsService } from './conversions/conversions.service';
import { DeliveryHttpController } from './delivery/delivery.http.controller';
import { DownstreamChannels, downstreamProviders } from './downstream/downstream.providers';
import { ImportStream } from './downstream/import-stream';
import type { GatewayConfig } from './gateway.config';
import { GATEWAY_CONFIG } from './gateway.tokens';
import { GatewayHealthHttpController } from './health/health.http.controller';
import { MeHttpController } from './me/me.http.controller';
import { MessagesHttpController } from './messages/messages.http.controller';
import { FxRatesHttpController } from './fx/fx-rates.http.controller';
import { OffersHttpController } from './offers/offers.http.controller';
import { OpenApiHttpController } from './openapi/openapi.http.controller';
import { OperationsHttpController } from './operations/operations.http.controller';
import { PartnersHttpController } from './partners/partners.http.controller';
import { ReportsHttpController } from './reports/reports.http.controller';

/** The console and its HTTP API: no database, no broker; everything comes from the services over gRPC. */
@Module({})
export class GatewayModule {
  static register(config: GatewayConfig, clock: Clock): DynamicModule {
    return {
      module: GatewayModule,
      controllers: [
        MeHttpController,
        ReportsHttpController,
        MessagesHttpController,
        FxRatesHttpController,
        ConversionsHttpController,
        PartnersHttpController,
        OffersHttpController,
        OperationsHttpController,
        DeliveryHttpController,
        GatewayHealthHttpController,
        OpenApiHttpController,
        // Last: its catch-all answers every path no other route took.
        ConsoleHttpController,
      ],
      providers: [
        { provide: GATEWAY_CONFIG, useValue: config },
        { provide: CLOCK, useValue: clock },
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        ...downstreamProviders,
        DownstreamChannels,
        ConversionsService,
        ConsoleAssets,
        ImportStream,
      ],
    };
  }
}
