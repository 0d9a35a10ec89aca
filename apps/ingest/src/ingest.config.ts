import { env, loadConfig, platformShape, z } from '@trackly/config';

export const ingestConfigShape = {
  ...platformShape,
  INGEST_GRPC_PORT: env.port(50052),
  INGEST_HTTP_PORT: env.port(3002),
  INGEST_HOST: z.string().default('0.0.0.0'),
  /** Currency of a postback payout sent without one. */
  INGEST_DEFAULT_CURRENCY: z.string().regex(/^[A-Z]{3}$/, 'must be a 3-letter ISO 4217 code in upper case').default('USD'),
  /** Largest postback body accepted; a postback is a handful of parameters, so anything bigger is refused with 413. */
  INGEST_MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(1_048_576).default(16_384),
};

export type IngestConfig = ReturnType<typeof loadIngestConfig>;

export function loadIngestConfig(source: Record<string, string | undefined> = process.env) {
  return loadConfig('ingest', ingestConfigShape, source);
}
