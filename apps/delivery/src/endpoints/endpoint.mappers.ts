import { DeliveryEventType, DeliveryStatus, Endpoint, EndpointKind, Delivery, DeliveryAttempt } from '@trackly/contracts/delivery/v1/delivery';
import type { EndpointKindName, EventTypeName } from '../domain/endpoint.rules';

const TYPES: Array<[DeliveryEventType, EventTypeName]> = [
  [DeliveryEventType.DELIVERY_EVENT_TYPE_CONVERSION_ATTRIBUTED, 'conversion.attributed'],
  [DeliveryEventType.DELIVERY_EVENT_TYPE_CONVERSION_UNATTRIBUTED, 'conversion.unattributed'],
  [DeliveryEventType.DELIVERY_EVENT_TYPE_CONVERSION_ADJUSTED, 'conversion.adjusted'],
  [DeliveryEventType.DELIVERY_EVENT_TYPE_CONVERSION_REVERSED, 'conversion.reversed'],
  [DeliveryEventType.DELIVERY_EVENT_TYPE_CLICK_RECORDED, 'click.recorded'],
];
const toName = new Map(TYPES);
const fromName = new Map(TYPES.map(([a, b]) => [b, a]));

export const eventTypeName = (t: DeliveryEventType): EventTypeName | undefined => toName.get(t);
export const eventTypeEnum = (n: string): DeliveryEventType => fromName.get(n as EventTypeName) ?? DeliveryEventType.DELIVERY_EVENT_TYPE_UNSPECIFIED;

export function kindName(k: EndpointKind): EndpointKindName | undefined {
  if (k === EndpointKind.ENDPOINT_KIND_WEBHOOK) return 'WEBHOOK';
  if (k === EndpointKind.ENDPOINT_KIND_POSTBACK_TEMPLATE) return 'POSTBACK_TEMPLATE';
  return undefined;
}
export const kindEnum = (n: string): EndpointKind =>
  n === 'WEBHOOK' ? EndpointKind.ENDPOINT_KIND_WEBHOOK : n === 'POSTBACK_TEMPLATE' ? EndpointKind.ENDPOINT_KIND_POSTBACK_TEMPLATE : EndpointKind.ENDPOINT_KIND_UNSPECIFIED;

const STATUSES: Record<string, DeliveryStatus> = {
  PENDING: DeliveryStatus.DELIVERY_STATUS_PENDING,
  DELIVERED: DeliveryStatus.DELIVERY_STATUS_DELIVERED,
  FAILED: DeliveryStatus.DELIVERY_STATUS_FAILED,
};
export const statusEnum = (s: string) => STATUSES[s] ?? DeliveryStatus.DELIVERY_STATUS_UNSPECIFIED;
export const statusName = (s: DeliveryStatus) => Object.entries(STATUSES).find(([, v]) => v === s)?.[0];

/** An endpoints row (never its secrets). */
export interface EndpointRow {
  endpoint_id: string;
  name: string;
  kind: string;
  url: string;
  event_types: string[];
  campaign_ids: string[];
  offer_ids: string[];
  partner_ids: string[];
  active: boolean;
  rate_limit_per_second: number;
  timeout_ms: number;
  consecutive_failures: number;
  disabled_reason: string | null;
  created_at: Date;
  updated_at: Date;
  previous_secret_expires_at: Date | null;
}

export const ENDPOINT_COLUMNS = `endpoint_id, name, kind, url, event_types, campaign_ids, offer_ids, partner_ids, active, rate_limit_per_second,
  timeout_ms, consecutive_failures, disabled_reason, created_at, updated_at, previous_secret_expires_at`;

export function endpointFromRow(r: EndpointRow): Endpoint {
  return {
    endpointId: r.endpoint_id,
    name: r.name,
    kind: kindEnum(r.kind),
    url: r.url,
    eventTypes: r.event_types.map(eventTypeEnum),
    filters: { campaignIds: r.campaign_ids, offerIds: r.offer_ids, partnerIds: r.partner_ids },
    active: r.active,
    rateLimitPerSecond: r.rate_limit_per_second,
    timeoutMs: r.timeout_ms,
    consecutiveFailures: r.consecutive_failures,
    disabledReason: r.disabled_reason ?? '',
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    previousSecretExpiresAt: r.previous_secret_expires_at ?? undefined,
  };
}

export interface DeliveryRow {
  delivery_id: string;
  endpoint_id: string;
  message_id: string;
  event_type: string;
  status: string;
  attempts: number;
  last_status_code: number | null;
  last_latency_ms: number | null;
  last_error: string | null;
  occurred_at: Date;
  created_at: Date;
  next_attempt_at: Date;
  delivered_at: Date | null;
}

export function deliveryFromRow(r: DeliveryRow): Delivery {
  return {
    deliveryId: r.delivery_id,
    endpointId: r.endpoint_id,
    messageId: r.message_id,
    eventType: eventTypeEnum(r.event_type),
    status: statusEnum(r.status),
    attempts: r.attempts,
    lastStatusCode: r.last_status_code ?? 0,
    lastLatencyMs: r.last_latency_ms ?? 0,
    lastError: r.last_error ?? '',
    eventAt: r.occurred_at,
    createdAt: r.created_at,
    nextAttemptAt: r.status === 'PENDING' ? r.next_attempt_at : undefined,
    deliveredAt: r.delivered_at ?? undefined,
  };
}

export function attemptFromRow(r: { delivery_id: string; attempt: number; status_code: number; latency_ms: number; error: string; attempted_at: Date }): DeliveryAttempt {
  return { deliveryId: r.delivery_id, attempt: r.attempt, statusCode: r.status_code, latencyMs: r.latency_ms, error: r.error, attemptedAt: r.attempted_at };
}
