import { checkGrpcSecurity, env, grpcSecurityShape, loadConfig, platformShape, z } from '@trackly/config';
import { parseAllowList } from './domain/source-addresses';

export const ingestConfigShape = {
  ...platformShape,
  ...grpcSecurityShape,
  INGEST_GRPC_PORT: env.port(50052),
  INGEST_HTTP_PORT: env.port(3002),
  INGEST_HOST: z.string().default('0.0.0.0'),
  /**
   * Group commit: concurrent postbacks are archived by one multi-row INSERT and stored in one shared transaction
   * (each in its own savepoint), so a burst pays one commit per batch; each answer still waits for its commit.
   */
  INGEST_GROUP_COMMIT: env.bool(true),
  /**
   * Longest a postback waits for others to join its batch. 10 ms, where the click edge (a person waiting) uses 2: a
   * partner's server does not notice it, and under a burst batches of ~35–40 postbacks instead of ~24 cut the app's
   * and Postgres's CPU per postback by about a fifth (the per-batch statements, commit and relay pass are shared by
   * more postbacks; ingest bench, 2026-12-06, docs/benchmarks.md).
   */
  INGEST_GROUP_COMMIT_WINDOW_MS: z.coerce.number().int().min(0).max(100).default(10),
  /**
   * A batch is written as soon as it holds this many postbacks. Below the number of a burst's concurrent requests, so
   * the next batch fills (Node reading and checking its requests) while one is in Postgres: at 64 connections a cap of
   * 64 put every request in the same batch, and Node and Postgres took turns (ingest bench, 2026-12-06 evening).
   */
  INGEST_GROUP_COMMIT_MAX_BATCH: z.coerce.number().int().min(1).max(1000).default(32),
  /** How long the edge reuses a partner row it read (0 = read it for every postback); see PartnersService. */
  INGEST_PARTNER_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(2000),
  /**
   * Batches written at once (each holds a connection of its own). One: a batch's statement waits for any batch in
   * flight that wrote a key it repeats, then sends that repeat to the locked path, so batches written side by side
   * cost more than they overlap (a partner's retry soon after its first postback is the common repeat).
   */
  INGEST_GROUP_COMMIT_IN_FLIGHT: z.coerce.number().int().min(1).max(16).default(1),
  /** Currency of a postback payout sent without one. */
  INGEST_DEFAULT_CURRENCY: z.string().regex(/^[A-Z]{3}$/, 'must be a 3-letter ISO 4217 code in upper case').default('USD'),
  /** Largest postback body accepted; a postback is a handful of parameters, so anything bigger is refused with 413. */
  INGEST_MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(1_048_576).default(16_384),
  /** Longest query string accepted (414 beyond); Node itself refuses request heads over 16 KiB. */
  INGEST_MAX_QUERY_BYTES: z.coerce.number().int().min(512).max(16_000).default(8192),
  /**
   * Largest request head (request line + headers) Node accepts; 431 beyond. It must leave room for the longest
   * query (INGEST_MAX_QUERY_BYTES) plus ordinary headers.
   */
  INGEST_MAX_HEADER_BYTES: z.coerce.number().int().min(4096).max(65_536).default(16_384),
  /**
   * Refused requests (401/403/404, bad partner ids) one source address (IPv6: one /64) may send per second before
   * it is answered 429; a request with a valid token is never limited. 0 = off.
   */
  INGEST_NOISE_RATE_PER_S: z.coerce.number().min(0).max(100_000).default(20),
  /** Refused requests a quiet source may send at once before the rate applies. */
  INGEST_NOISE_BURST: z.coerce.number().int().min(1).max(1_000_000).default(100),
  /**
   * Days the raw postback archive is kept: monthly partitions of ingest.postback_requests whose every request is older
   * are dropped. Longer than the longest attribution window (an offer's click_window_days, up to 365) plus room for
   * partners' disputes and replays of what they sent near its end (docs/operations.md).
   */
  INGEST_ARCHIVE_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(400),
  /** Longest a partition's DDL waits for its lock (it gives up until the next hourly run rather than queue postbacks). */
  INGEST_PARTITION_LOCK_TIMEOUT_MS: z.coerce.number().int().min(10).max(60_000).default(1000),
  /** Our edge as partners reach it: the base of the postback URLs GetPostbackTemplate hands out. */
  INGEST_PUBLIC_URL: env.url('http://127.0.0.1:3002', ['http:', 'https:']),
  /**
   * Behind a load balancer: the header it appends the client address to (e.g. x-forwarded-for). Unset = the socket
   * peer is the client, and any such header is ignored (a client could forge it).
   */
  INGEST_TRUSTED_PROXY_HEADER: z
    .string()
    .regex(/^([a-z0-9-]+)?$/i, 'a header name, e.g. x-forwarded-for')
    .default('')
    .transform((v) => v.toLowerCase() || undefined),
  /** Our own proxies (IPs, CIDR, ranges; comma-separated), skipped when reading the proxy header from the right. */
  INGEST_TRUSTED_PROXIES: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .superRefine((entries, ctx) => {
      const parsed = parseAllowList(entries);
      if (!parsed.ok) ctx.addIssue({ code: z.ZodIssueCode.custom, message: Object.entries(parsed.fields).map(([k, v]) => `${k} ${v}`).join('; ') });
    }),
};

export type IngestConfig = ReturnType<typeof loadIngestConfig>;

export function loadIngestConfig(source: Record<string, string | undefined> = process.env) {
  return loadConfig('ingest', ingestConfigShape, source, checkGrpcSecurity);
}
