import { Controller } from '@nestjs/common';
import {
  DeleteEndpointRequest,
  DeleteEndpointResponse,
  DeliveryServiceController,
  DeliveryServiceControllerMethods,
  GetEndpointRequest,
  GetEndpointResponse,
  ListDeliveriesRequest,
  ListDeliveriesResponse,
  ListDeliveryAttemptsRequest,
  ListDeliveryAttemptsResponse,
  ListEndpointsRequest,
  ListEndpointsResponse,
  RedeliverRequest,
  RedeliverResponse,
  RotateEndpointSecretRequest,
  RotateEndpointSecretResponse,
  UpsertEndpointRequest,
  UpsertEndpointResponse,
} from '@trackly/contracts/delivery/v1/delivery_service';
import { DeliveryStatus } from '@trackly/contracts/delivery/v1/delivery';
import { validateEndpoint } from './domain/endpoint.rules';
import { DeliveriesService } from './dispatch/deliveries.service';
import { eventTypeName, kindName, statusName } from './endpoints/endpoint.mappers';
import { EndpointsService } from './endpoints/endpoints.service';

/** gRPC adapter of delivery; domain errors become status codes in the shared exception filter. */
@Controller()
@DeliveryServiceControllerMethods()
export class DeliveryGrpcController implements DeliveryServiceController {
  constructor(
    private readonly endpoints: EndpointsService,
    private readonly deliveries: DeliveriesService,
  ) {}

  async upsertEndpoint(req: UpsertEndpointRequest): Promise<UpsertEndpointResponse> {
    const settings = validateEndpoint({
      endpointId: req.endpointId,
      name: req.name,
      kind: kindName(req.kind),
      url: req.url,
      eventTypes: req.eventTypes.map(eventTypeName),
      filters: { campaignIds: req.filters?.campaignIds ?? [], offerIds: req.filters?.offerIds ?? [], partnerIds: req.filters?.partnerIds ?? [] },
      active: req.active,
      rateLimitPerSecond: req.rateLimitPerSecond,
      timeoutMs: req.timeoutMs,
    });
    return this.endpoints.upsert(settings);
  }

  async getEndpoint(req: GetEndpointRequest): Promise<GetEndpointResponse> {
    return { endpoint: await this.endpoints.get(req.endpointId) };
  }

  async listEndpoints(req: ListEndpointsRequest): Promise<ListEndpointsResponse> {
    return { endpoints: await this.endpoints.list(req.activeOnly) };
  }

  async deleteEndpoint(req: DeleteEndpointRequest): Promise<DeleteEndpointResponse> {
    return { pendingFailed: await this.endpoints.delete(req.endpointId) };
  }

  rotateEndpointSecret(req: RotateEndpointSecretRequest): Promise<RotateEndpointSecretResponse> {
    return this.endpoints.rotate(req.endpointId, req.overlapSeconds);
  }

  listDeliveries(req: ListDeliveriesRequest): Promise<ListDeliveriesResponse> {
    const status = req.status === DeliveryStatus.DELIVERY_STATUS_UNSPECIFIED ? undefined : statusName(req.status);
    return this.deliveries.list(req.endpointId, status, req.limit, req.pageToken);
  }

  async listDeliveryAttempts(req: ListDeliveryAttemptsRequest): Promise<ListDeliveryAttemptsResponse> {
    return { attempts: await this.deliveries.attempts(req.deliveryId) };
  }

  async redeliver(req: RedeliverRequest): Promise<RedeliverResponse> {
    return { queued: await this.deliveries.redeliver(req) };
  }
}
