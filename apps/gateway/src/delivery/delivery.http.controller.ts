import { Body, Controller, Delete, Get, Header, HttpCode, Inject, Param, Post, Put, Query } from '@nestjs/common';
import { Delivery, DeliveryAttempt, DeliveryEventType, DeliveryStatus, Endpoint, EndpointKind } from '@trackly/contracts/delivery/v1/delivery';
import type { UpsertEndpointRequest } from '@trackly/contracts/delivery/v1/delivery_service';
import { RequireScope } from '../auth/api-key.guard';
import { BodyReader } from '../domain/body';
import { apiJson } from '../domain/money-json';
import { createOnly, found } from '../downstream/create-only';
import type { DeliveryClient } from '../downstream/downstream.providers';
import { DELIVERY_CLIENT } from '../gateway.tokens';

const KINDS: Record<string, EndpointKind> = { webhook: EndpointKind.ENDPOINT_KIND_WEBHOOK, postback: EndpointKind.ENDPOINT_KIND_POSTBACK_TEMPLATE };
const EVENT_TYPES: Record<string, DeliveryEventType> = {
  'conversion.attributed': DeliveryEventType.DELIVERY_EVENT_TYPE_CONVERSION_ATTRIBUTED,
  'conversion.unattributed': DeliveryEventType.DELIVERY_EVENT_TYPE_CONVERSION_UNATTRIBUTED,
  'conversion.adjusted': DeliveryEventType.DELIVERY_EVENT_TYPE_CONVERSION_ADJUSTED,
  'conversion.reversed': DeliveryEventType.DELIVERY_EVENT_TYPE_CONVERSION_REVERSED,
  'click.recorded': DeliveryEventType.DELIVERY_EVENT_TYPE_CLICK_RECORDED,
};
const STATUSES: Record<string, DeliveryStatus> = {
  pending: DeliveryStatus.DELIVERY_STATUS_PENDING,
  delivered: DeliveryStatus.DELIVERY_STATUS_DELIVERED,
  failed: DeliveryStatus.DELIVERY_STATUS_FAILED,
};
const SETTINGS = ['name', 'kind', 'url', 'event_types', 'campaign_ids', 'offer_ids', 'partner_ids', 'active', 'rate_limit_per_second', 'timeout_ms'] as const;
const ENDPOINT_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Outbound webhook and postback endpoints: list, create (the answer holds the signing secret, shown this once),
 * settings, delete, secret rotation (shown once, the previous one still signs during the overlap), the delivery log
 * and redelivery. Delivery validates the settings themselves (URL, macros, limits); this only reads the body.
 */
@Controller('api/delivery/endpoints')
export class DeliveryHttpController {
  constructor(@Inject(DELIVERY_CLIENT) private readonly delivery: DeliveryClient) {}

  @Get()
  @RequireScope('webhooks:read')
  @Header('Cache-Control', 'no-store')
  async list() {
    const { endpoints } = await this.delivery.listEndpoints({ activeOnly: false });
    return { endpoints: endpoints.map((e) => apiJson(Endpoint, e)) };
  }

  /** Creates an endpoint (409 when the id is taken); the answer holds its secret, never shown again. */
  @Post()
  @RequireScope('webhooks:write')
  @Header('Cache-Control', 'no-store')
  async create(@Body() body: unknown) {
    const r = new BodyReader(body, ['endpoint_id', ...SETTINGS]);
    const endpointId = r.text('endpoint_id', { required: true, pattern: ENDPOINT_ID, problem: 'must be 1-64 letters, digits, "-" or "_"' });
    const settings = readSettings(r);
    r.done();
    const res = await createOnly(
      `endpoint "${endpointId}"`,
      () => this.exists(endpointId),
      () => this.delivery.upsertEndpoint({ endpointId, ...settings }),
      (r) => r.created && !!r.secret,
    );
    return { endpoint: apiJson(Endpoint, res.endpoint!), secret: res.secret };
  }

  @Get(':endpointId')
  @RequireScope('webhooks:read')
  @Header('Cache-Control', 'no-store')
  async get(@Param('endpointId') endpointId: string) {
    const { endpoint } = await this.delivery.getEndpoint({ endpointId });
    return { endpoint: apiJson(Endpoint, endpoint!) };
  }

  /** Replaces an endpoint's settings; its secret stays. `active: true` resumes an automatically disabled one. */
  @Put(':endpointId')
  @RequireScope('webhooks:write')
  @Header('Cache-Control', 'no-store')
  async update(@Param('endpointId') endpointId: string, @Body() body: unknown) {
    const r = new BodyReader(body, SETTINGS);
    const settings = readSettings(r);
    r.done();
    await this.delivery.getEndpoint({ endpointId });
    const res = await this.delivery.upsertEndpoint({ endpointId, ...settings });
    return { endpoint: apiJson(Endpoint, res.endpoint!) };
  }

  @Delete(':endpointId')
  @RequireScope('webhooks:write')
  @Header('Cache-Control', 'no-store')
  async remove(@Param('endpointId') endpointId: string) {
    const { pendingFailed } = await this.delivery.deleteEndpoint({ endpointId });
    return { deleted: endpointId, pending_failed: pendingFailed };
  }

  /** A new secret, shown in this answer only; the previous one keeps signing for `overlap_seconds` (default 24 h). */
  @Post(':endpointId/rotate-secret')
  @HttpCode(200)
  @RequireScope('webhooks:write')
  @Header('Cache-Control', 'no-store')
  async rotate(@Param('endpointId') endpointId: string, @Body() body: unknown) {
    const r = new BodyReader(body ?? {}, ['overlap_seconds']);
    const overlapSeconds = r.int('overlap_seconds', 0, 30 * 86_400) ?? 0;
    r.done();
    const res = await this.delivery.rotateEndpointSecret({ endpointId, overlapSeconds });
    return { endpoint: apiJson(Endpoint, res.endpoint!), secret: res.secret };
  }

  /** The delivery log, newest first: status, attempts, last status code, latency and error. */
  @Get(':endpointId/deliveries')
  @RequireScope('webhooks:read')
  @Header('Cache-Control', 'no-store')
  async deliveries(@Param('endpointId') endpointId: string, @Query() q: Record<string, string | undefined>) {
    const r = new BodyReader(q, ['status', 'limit', 'page_token']);
    const st = r.text('status', { max: 16 });
    if (st && !STATUSES[st]) r.errors.status = `must be one of ${Object.keys(STATUSES).join(', ')}`;
    const limit = r.int('limit', 1, 500) ?? 50;
    const pageToken = r.text('page_token', { max: 200 });
    r.done();
    const res = await this.delivery.listDeliveries({ endpointId, status: STATUSES[st] ?? DeliveryStatus.DELIVERY_STATUS_UNSPECIFIED, limit, pageToken });
    return { deliveries: res.deliveries.map((d) => apiJson(Delivery, d)), next_page_token: res.nextPageToken };
  }

  @Get(':endpointId/deliveries/:deliveryId/attempts')
  @RequireScope('webhooks:read')
  @Header('Cache-Control', 'no-store')
  async attempts(@Param('deliveryId') deliveryId: string) {
    const { attempts } = await this.delivery.listDeliveryAttempts({ deliveryId });
    return { attempts: attempts.map((a) => apiJson(DeliveryAttempt, a)) };
  }

  /** Sends again with the same webhook-id: `{ delivery_id }`, or every delivery created in `{ from, to }`. */
  @Post(':endpointId/redeliver')
  @HttpCode(200)
  @RequireScope('webhooks:write')
  @Header('Cache-Control', 'no-store')
  async redeliver(@Param('endpointId') endpointId: string, @Body() body: unknown) {
    const r = new BodyReader(body, ['delivery_id', 'from', 'to']);
    const deliveryId = r.text('delivery_id', { max: 36 });
    const from = deliveryId ? undefined : r.instant('from', true);
    const to = deliveryId ? undefined : r.instant('to', true);
    r.done();
    return this.delivery.redeliver({ deliveryId, endpointId, from, to });
  }

  private exists(endpointId: string): Promise<boolean> {
    return found(this.delivery.getEndpoint({ endpointId }));
  }
}

function readSettings(r: BodyReader): Omit<UpsertEndpointRequest, 'endpointId'> {
  const kind = r.text('kind', { required: true });
  if (kind && !KINDS[kind]) r.errors.kind = `must be one of ${Object.keys(KINDS).join(', ')}`;
  const types = r.strings('event_types', { max: 5, itemMax: 40 });
  const unknown = types.filter((t) => !EVENT_TYPES[t]);
  if (unknown.length) r.errors.event_types = `unknown: ${unknown.join(', ')} (known: ${Object.keys(EVENT_TYPES).join(', ')})`;
  return {
    name: r.text('name', { max: 200 }),
    kind: KINDS[kind] ?? EndpointKind.ENDPOINT_KIND_UNSPECIFIED,
    url: r.text('url', { required: true, max: 2048 }),
    eventTypes: types.map((t) => EVENT_TYPES[t]).filter((t) => t !== undefined),
    filters: {
      campaignIds: r.strings('campaign_ids', { max: 1000, itemMax: 128 }),
      offerIds: r.strings('offer_ids', { max: 1000, itemMax: 128 }),
      partnerIds: r.strings('partner_ids', { max: 1000, itemMax: 128 }),
    },
    active: r.bool('active', true),
    rateLimitPerSecond: r.int('rate_limit_per_second', 1, 10_000) ?? 0,
    timeoutMs: r.int('timeout_ms', 100, 30_000) ?? 0,
  };
}
