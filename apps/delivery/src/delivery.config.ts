import { checkGrpcSecurity, env, grpcSecurityShape, loadConfig, platformShape, z } from '@trackly/config';

export const deliveryConfigShape = {
  ...platformShape,
  ...grpcSecurityShape,
  DELIVERY_GRPC_PORT: env.port(50055),
  DELIVERY_HOST: z.string().default('0.0.0.0'),
  /**
   * Send to private, loopback, link-local (cloud metadata) and other non-public addresses. Off in production: an
   * endpoint URL is user input, and the dispatcher must not become a way into the cluster. Tests and local
   * receivers turn it on.
   */
  DELIVERY_ALLOW_PRIVATE_DESTINATIONS: env.bool(false),
  /** Failed attempts in a row after which an endpoint is disabled (EndpointDisabled is published); 0 = never. */
  DELIVERY_DISABLE_AFTER_FAILURES: z.coerce.number().int().min(0).max(1_000_000).default(100),
  /** First retry step; doubles per failed attempt, with jitter. */
  DELIVERY_BACKOFF_BASE_MS: env.positiveInt(5_000),
  /** Largest retry step. */
  DELIVERY_BACKOFF_MAX_MS: env.positiveInt(6 * 3_600_000),
  /** How long a delivery is retried after it was queued (or queued again by a redeliver). Default 3 days. */
  DELIVERY_RETRY_HORIZON_SECONDS: env.positiveInt(3 * 86_400),
  /** Requests in flight per replica, over every endpoint. */
  DELIVERY_MAX_IN_FLIGHT: env.positiveInt(256),
  /** Idle poll of the deliveries table (new rows also wake the dispatcher at once). */
  DELIVERY_POLL_MS: env.positiveInt(200),
  /** How long the previous secret keeps signing after a rotation, unless the request says otherwise. */
  DELIVERY_SECRET_OVERLAP_SECONDS: env.positiveInt(86_400),
};

export type DeliveryConfig = ReturnType<typeof loadDeliveryConfig>;

export function loadDeliveryConfig(source: Record<string, string | undefined> = process.env) {
  return loadConfig('delivery', deliveryConfigShape, source, checkGrpcSecurity);
}
