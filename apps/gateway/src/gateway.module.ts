import { DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { CLOCK, Clock } from '@trackly/kernel';
import { ApiKeyGuard } from './auth/api-key.guard';
import { ConversionsHttpController } from './conversions/conversions.http.controller';
import { ConversionsService } from './conversions/conversions.service';
import { DashboardAssets } from './dashboard/dashboard-assets';
import { DashboardHttpController } from './dashboard/dashboard.http.controller';
import { DownstreamChannels, downstreamProviders } from './downstream/downstream.providers';
import type { GatewayConfig } from './gateway.config';
import { GATEWAY_CONFIG } from './gateway.tokens';
import { GatewayHealthHttpController } from './health/health.http.controller';
import { OpenApiHttpController } from './openapi/openapi.http.controller';
import { PartnersHttpController } from './partners/partners.http.controller';
import { ReportsHttpController } from './reports/reports.http.controller';

/** The dashboards' HTTP API: no database, no broker; everything comes from the services over gRPC. */
@Module({})
export class GatewayModule {
  static register(config: GatewayConfig, clock: Clock): DynamicModule {
    return {
      module: GatewayModule,
      controllers: [ReportsHttpController, ConversionsHttpController, PartnersHttpController, GatewayHealthHttpController, OpenApiHttpController, DashboardHttpController],
      providers: [
        { provide: GATEWAY_CONFIG, useValue: config },
        { provide: CLOCK, useValue: clock },
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        ...downstreamProviders,
        DownstreamChannels,
        ConversionsService,
        DashboardAssets,
      ],
    };
  }
}
