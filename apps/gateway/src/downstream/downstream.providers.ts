import { Inject, Injectable, OnApplicationShutdown, Provider } from '@nestjs/common';
import { createGrpcClient, PromiseClient } from '@trackly/grpc';
import { AttributionServiceService } from '@trackly/contracts/attribution/v1/attribution_service';
import { DeliveryServiceService } from '@trackly/contracts/delivery/v1/delivery_service';
import { IngestServiceService } from '@trackly/contracts/ingest/v1/ingest_service';
import { ReportingServiceService } from '@trackly/contracts/reporting/v1/reporting_service';
import { TrackingServiceService } from '@trackly/contracts/tracking/v1/tracking_service';
import type { GatewayConfig } from '../gateway.config';
import { ATTRIBUTION_CLIENT, DELIVERY_CLIENT, GATEWAY_CONFIG, INGEST_CLIENT, REPORTING_CLIENT, TRACKING_CLIENT } from '../gateway.tokens';
import { serviceNameOf } from '@trackly/grpc';
import { DownstreamHealth } from './downstream-health';

export type ReportingClient = PromiseClient<typeof ReportingServiceService>;
export type IngestClient = PromiseClient<typeof IngestServiceService>;
export type AttributionClient = PromiseClient<typeof AttributionServiceService>;
export type TrackingClient = PromiseClient<typeof TrackingServiceService>;
export type DeliveryClient = PromiseClient<typeof DeliveryServiceService>;

/** One client (channel) per downstream for the whole process; every call carries GATEWAY_DEADLINE_MS. */
export const downstreamProviders: Provider[] = [
  {
    provide: REPORTING_CLIENT,
    inject: [GATEWAY_CONFIG],
    useFactory: (c: GatewayConfig): ReportingClient =>
      createGrpcClient(ReportingServiceService, c.REPORTING_GRPC_URL, { deadlineMs: c.GATEWAY_DEADLINE_MS, security: c }),
  },
  {
    provide: INGEST_CLIENT,
    inject: [GATEWAY_CONFIG],
    useFactory: (c: GatewayConfig): IngestClient =>
      createGrpcClient(IngestServiceService, c.INGEST_GRPC_URL, { deadlineMs: c.GATEWAY_DEADLINE_MS, security: c }),
  },
  {
    provide: ATTRIBUTION_CLIENT,
    inject: [GATEWAY_CONFIG],
    useFactory: (c: GatewayConfig): AttributionClient =>
      createGrpcClient(AttributionServiceService, c.ATTRIBUTION_GRPC_URL, { deadlineMs: c.GATEWAY_DEADLINE_MS, security: c }),
  },
  {
    provide: TRACKING_CLIENT,
    inject: [GATEWAY_CONFIG],
    useFactory: (c: GatewayConfig): TrackingClient =>
      createGrpcClient(TrackingServiceService, c.TRACKING_GRPC_URL, { deadlineMs: c.GATEWAY_DEADLINE_MS, security: c }),
  },
  {
    provide: DELIVERY_CLIENT,
    inject: [GATEWAY_CONFIG],
    useFactory: (c: GatewayConfig): DeliveryClient =>
      createGrpcClient(DeliveryServiceService, c.DELIVERY_GRPC_URL, { deadlineMs: c.GATEWAY_DEADLINE_MS, security: c }),
  },
  {
    // Delivery is left out on purpose: webhook administration being down must not take the console out of rotation.
    provide: DownstreamHealth,
    inject: [GATEWAY_CONFIG],
    useFactory: (c: GatewayConfig) =>
      new DownstreamHealth(
        [
          { name: 'reporting', target: c.REPORTING_GRPC_URL, service: serviceNameOf(ReportingServiceService) },
          { name: 'ingest', target: c.INGEST_GRPC_URL, service: serviceNameOf(IngestServiceService) },
          { name: 'attribution', target: c.ATTRIBUTION_GRPC_URL, service: serviceNameOf(AttributionServiceService) },
          { name: 'tracking', target: c.TRACKING_GRPC_URL, service: serviceNameOf(TrackingServiceService) },
        ],
        c.GATEWAY_DEADLINE_MS,
        c,
      ),
  },
];

/** Closes the downstream channels when the app stops, after in-flight requests have been answered. */
@Injectable()
export class DownstreamChannels implements OnApplicationShutdown {
  constructor(
    @Inject(REPORTING_CLIENT) private readonly reporting: ReportingClient,
    @Inject(INGEST_CLIENT) private readonly ingest: IngestClient,
    @Inject(ATTRIBUTION_CLIENT) private readonly attribution: AttributionClient,
    @Inject(TRACKING_CLIENT) private readonly tracking: TrackingClient,
    @Inject(DELIVERY_CLIENT) private readonly delivery: DeliveryClient,
    private readonly health: DownstreamHealth,
  ) {}

  onApplicationShutdown(): void {
    this.reporting.close();
    this.ingest.close();
    this.attribution.close();
    this.tracking.close();
    this.delivery.close();
    this.health.close();
  }
}
