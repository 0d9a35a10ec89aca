import { env, loadConfig, platformShape, z } from '@trackly/config';
import { parseAllowList } from './domain/source-addresses';

export const ingestConfigShape = {
  ...platformShape,
  INGEST_GRPC_PORT: env.port(50052),
  INGEST_HTTP_PORT: env.port(3002),
  INGEST_HOST: z.string().default('0.0.0.0'),
  /** Currency of a postback payout sent without one. */
  INGEST_DEFAULT_CURRENCY: z.string().regex(/^[A-Z]{3}$/, 'must be a 3-letter ISO 4217 code in upper case').default('USD'),
  /** Largest postback body accepted; a postback is a handful of parameters, so anything bigger is refused with 413. */
  INGEST_MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(1_048_576).default(16_384),
  /** Longest query string accepted (414 beyond); Node itself refuses request heads over 16 KiB. */
  INGEST_MAX_QUERY_BYTES: z.coerce.number().int().min(512).max(16_000).default(8192),
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
  return loadConfig('ingest', ingestConfigShape, source);
}
