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

type GrpcUrl = 'REPORTING_GRPC_URL' | 'INGEST_GRPC_URL' | 'ATTRIBUTION_GRPC_URL' | 'TRACKING_GRPC_URL' | 'DELIVERY_GRPC_URL';

/** The client of one downstream, on the address its GrpcUrl setting gives; every call carries GATEWAY_DEADLINE_MS. */
function clientProvider<S extends Record<string, unknown>>(provide: symbol, service: S, url: GrpcUrl): Provider {
  return {
    provide,
    inject: [GATEWAY_CONFIG],
    useFactory: (c: GatewayConfig): PromiseClient<S> => createGrpcClient(service, c[url], { deadlineMs: c.GATEWAY_DEADLINE_MS, security: c }),
  };
}

/** One client (channel) per downstream for the whole process. */
export const downstreamProviders: Provider[] = [
  clientProvider(REPORTING_CLIENT, ReportingServiceService, 'REPORTING_GRPC_URL'),
  clientProvider(INGEST_CLIENT, IngestServiceService, 'INGEST_GRPC_URL'),
  clientProvider(ATTRIBUTION_CLIENT, AttributionServiceService, 'ATTRIBUTION_GRPC_URL'),
  clientProvider(TRACKING_CLIENT, TrackingServiceService, 'TRACKING_GRPC_URL'),
  clientProvider(DELIVERY_CLIENT, DeliveryServiceService, 'DELIVERY_GRPC_URL'),
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
