import { checkGrpcSecurity, env, grpcSecurityShape, loadConfig, platformShape, z } from '@trackly/config';

export const attributionConfigShape = {
  ...platformShape,
  ...grpcSecurityShape,
  ATTRIBUTION_GRPC_PORT: env.port(50053),
  ATTRIBUTION_HOST: z.string().default('0.0.0.0'),
  /** Tracking's gRPC address, asked for a click whose event has not arrived yet. */
  TRACKING_GRPC_URL: z.string().default('127.0.0.1:50051'),
  TRACKING_DEADLINE_MS: env.positiveInt(2000),
  /** Lookback for offers without click_window_days. */
  ATTRIBUTION_DEFAULT_WINDOW_DAYS: z.coerce.number().int().min(1).max(365).default(90),
  /** Conversions this many minutes after the credited click are DIRECT. */
  ATTRIBUTION_DIRECT_SESSION_MINUTES: z.coerce.number().int().min(0).max(1440).default(30),
  /**
   * How long a conversion naming a click nobody knows yet stays parked (PENDING, retried with backoff and whenever
   * the click's event arrives) before it is settled as UNKNOWN_CLICK_ID. Default 24 h; tests set a second or two.
   */
  ATTRIBUTION_PARK_HORIZON_SECONDS: z.coerce.number().int().min(1).max(30 * 86_400).default(86_400),
  /** How often the hold sweeper approves held conversions whose hold period has passed. */
  ATTRIBUTION_HOLD_SWEEP_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
};

export type AttributionConfig = ReturnType<typeof loadAttributionConfig>;

export function loadAttributionConfig(source: Record<string, string | undefined> = process.env) {
  return loadConfig('attribution', attributionConfigShape, source, checkGrpcSecurity);
}
