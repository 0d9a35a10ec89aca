import { env, loadConfig, platformShape, z } from '@trackly/config';

export const trackingConfigShape = {
  ...platformShape,
  TRACKING_GRPC_PORT: env.port(50051),
  TRACKING_HTTP_PORT: env.port(3001),
  TRACKING_HOST: z.string().default('0.0.0.0'),
  /** Base of the tracked links put into SMS; the click edge's public address. */
  TRACKING_PUBLIC_URL: env.url('http://127.0.0.1:3001', ['http:', 'https:']),
  /** Group commit: concurrent clicks share one transaction and multi-row inserts; each still waits for its commit. */
  TRACKING_GROUP_COMMIT: env.bool(true),
  /** Longest a click waits for others to join its batch. */
  TRACKING_GROUP_COMMIT_WINDOW_MS: z.coerce.number().int().min(0).max(100).default(2),
  /** A batch is written as soon as it holds this many clicks. */
  TRACKING_GROUP_COMMIT_MAX_BATCH: z.coerce.number().int().min(1).max(5000).default(256),
  /** Batches being written at once (each holds one database connection). */
  TRACKING_GROUP_COMMIT_IN_FLIGHT: z.coerce.number().int().min(1).max(16).default(4),
  /** Short codes whose message and offer are kept in memory. */
  TRACKING_LINK_CACHE_SIZE: env.positiveInt(100_000),
  /** How long a cached link lives; bounds staleness of an offer changed through another replica. */
  TRACKING_LINK_CACHE_TTL_MS: env.positiveInt(60_000),
  /** Distinct links one IP + user agent may fetch within a minute before its hits are classified BOT; 0 = off. */
  TRACKING_BOT_REPEAT_CODES: z.coerce.number().int().min(0).default(20),
};

export type TrackingConfig = ReturnType<typeof loadTrackingConfig>;

export function loadTrackingConfig(source: Record<string, string | undefined> = process.env) {
  return loadConfig('tracking', trackingConfigShape, source);
}
