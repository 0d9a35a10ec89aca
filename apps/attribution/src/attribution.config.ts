import { env, loadConfig, platformShape, z } from '@trackly/config';

export const attributionConfigShape = {
  ...platformShape,
  ATTRIBUTION_GRPC_PORT: env.port(50053),
  ATTRIBUTION_HOST: z.string().default('0.0.0.0'),
  /** Tracking's gRPC address, asked for a click whose event has not arrived yet. */
  TRACKING_GRPC_URL: z.string().default('127.0.0.1:50051'),
  TRACKING_DEADLINE_MS: env.positiveInt(2000),
  /** Lookback for offers without click_window_days. */
  ATTRIBUTION_DEFAULT_WINDOW_DAYS: z.coerce.number().int().min(1).max(365).default(90),
  /** Conversions this many minutes after the credited click are DIRECT. */
  ATTRIBUTION_DIRECT_SESSION_MINUTES: z.coerce.number().int().min(0).max(1440).default(30),
};

export type AttributionConfig = ReturnType<typeof loadAttributionConfig>;

export function loadAttributionConfig(source: Record<string, string | undefined> = process.env) {
  return loadConfig('attribution', attributionConfigShape, source);
}
