import { isIP } from 'node:net';
import { checkGrpcSecurity, env, grpcSecurityShape, loadConfig, platformShape, z } from '@trackly/config';

export const trackingConfigShape = {
  ...platformShape,
  ...grpcSecurityShape,
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
  /** Batches being written at once (each holds one database connection; keep below DATABASE_POOL_SIZE). 8 measured best here: more batches in flight, smaller and faster ones. */
  TRACKING_GROUP_COMMIT_IN_FLIGHT: z.coerce.number().int().min(1).max(16).default(8),
  /** Short codes whose message and offer are kept in memory. */
  TRACKING_LINK_CACHE_SIZE: env.positiveInt(100_000),
  /** How long a cached link lives; bounds staleness of an offer changed through another replica. */
  TRACKING_LINK_CACHE_TTL_MS: env.positiveInt(60_000),
  /** Largest request head (request line + headers) Node accepts; 431 beyond. Phones send 1-2 KiB. */
  TRACKING_MAX_HEADER_BYTES: z.coerce.number().int().min(2048).max(65_536).default(8192),
  /** Longest request URL the click edge reads (414 beyond); a tracked link is a few dozen characters. */
  TRACKING_MAX_URL_BYTES: z.coerce.number().int().min(64).max(16_384).default(2048),
  /**
   * Unknown or malformed short codes one client address (IPv6: one /64) may request per second before it is answered
   * 429; a known code is always served. 0 = off.
   */
  TRACKING_NOISE_RATE_PER_S: z.coerce.number().min(0).max(100_000).default(20),
  /** Unknown codes a quiet client may request at once before the rate applies. */
  TRACKING_NOISE_BURST: z.coerce.number().int().min(1).max(1_000_000).default(100),
  /**
   * Behind a load balancer: its addresses or CIDR ranges, comma-separated. The client is then the right-most
   * X-Forwarded-For entry that is not one of them (entries further left can be forged). Unset = the socket peer is
   * the client and the header is ignored.
   */
  TRACKING_TRUSTED_PROXIES: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .superRefine((entries, ctx) => {
      for (const entry of entries) {
        const [address, prefix, ...rest] = entry.split('/');
        const version = isIP(address);
        const bits = prefix === undefined ? 0 : Number(prefix);
        if (!version || rest.length || !Number.isInteger(bits) || bits < 0 || bits > (version === 4 ? 32 : 128) || (prefix !== undefined && !/^\d+$/.test(prefix))) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${entry}" is not an IP address or CIDR range` });
        }
      }
    }),
  /**
   * Scanner rule: distinct links one client (address + user agent + Accept-Language) may fetch within 2 s, or within
   * 5 s of their sends in a minute, before such hits are classified BOT (docs/click-edge.md); 0 = off.
   */
  TRACKING_BOT_REPEAT_CODES: z.coerce.number().int().min(0).default(20),
  /**
   * Days a click is kept: whole daily partitions of tracking.clicks older than this are dropped. Longer than the
   * longest attribution window (90 days by default) plus room for late postbacks and re-drives.
   */
  TRACKING_CLICKS_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(400),
  /** Longest a partition's DDL waits for its lock (it gives up until the next hourly run rather than queue clicks). */
  TRACKING_PARTITION_LOCK_TIMEOUT_MS: z.coerce.number().int().min(10).max(60_000).default(1000),
};

export type TrackingConfig = ReturnType<typeof loadTrackingConfig>;

export function loadTrackingConfig(source: Record<string, string | undefined> = process.env) {
  return loadConfig('tracking', trackingConfigShape, source, checkGrpcSecurity);
}
