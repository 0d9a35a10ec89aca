import { readFileSync } from 'node:fs';
import { checkGrpcSecurity, ConfigCheck, env, grpcSecurityShape, loadConfig, z } from '@trackly/config';
import { ApiKeyGrant, parseApiKeys } from './domain/api-keys';

/** A gRPC target: host:port (127.0.0.1:50054, [::1]:50054), optionally with a resolver scheme (dns:///reporting:50054). */
const grpcTarget = (def: string) =>
  z.string().default(def).refine((v) => /^(?:[a-z][a-z0-9+.-]*:\/\/\/?)?[^\s/]+:\d{1,5}$/.test(v), {
    message: 'must be a gRPC target host:port',
  });

export const gatewayConfigShape = {
  GATEWAY_HTTP_PORT: env.port(3000),
  GATEWAY_HOST: z.string().default('0.0.0.0'),
  REPORTING_GRPC_URL: grpcTarget('127.0.0.1:50054'),
  INGEST_GRPC_URL: grpcTarget('127.0.0.1:50052'),
  ATTRIBUTION_GRPC_URL: grpcTarget('127.0.0.1:50053'),
  TRACKING_GRPC_URL: grpcTarget('127.0.0.1:50051'),
  /** Outbound delivery (webhook endpoints); not part of readiness: the console works without it. */
  DELIVERY_GRPC_URL: grpcTarget('127.0.0.1:50055'),
  /** Deadline of every downstream call (and of each readiness check). */
  GATEWAY_DEADLINE_MS: env.positiveInt(3000),
  /** Deadline of the long operations: a CSV import streamed through, a re-attribution or replay applied. */
  GATEWAY_OPERATION_DEADLINE_MS: env.positiveInt(600_000),
  /** Longest request URL (path + query) read; longer ones are answered 414. */
  GATEWAY_MAX_URL_BYTES: z.coerce.number().int().min(1024).max(32_768).default(8192),
  /**
   * Largest request head (request line + headers) Node accepts, 431 beyond. Well above GATEWAY_MAX_URL_BYTES, so an
   * over-long URL with ordinary headers reaches the gateway and is answered 414 (URI Too Long), as meant.
   */
  GATEWAY_MAX_HEADER_BYTES: z.coerce.number().int().min(8192).max(262_144).default(65_536),
  /** Largest CSV file an import through the console/API may upload (413 beyond). */
  GATEWAY_MAX_IMPORT_BYTES: z.coerce.number().int().min(1024).max(1_073_741_824).default(104_857_600),
  /**
   * Folder of the built console (index.html, assets/). Empty: the copy the gateway's build puts beside it
   * (dist/apps/gateway/console), else the console's own build (dist/apps/console).
   */
  GATEWAY_CONSOLE_DIR: z.string().default(''),
  /**
   * API keys as a JSON array of {"name","sha256","scopes",["campaigns"],["offers"]} (mint with `npm run
   * gateway:key`); only digests, never a key. None configured leaves /api open, in development only.
   */
  GATEWAY_API_KEYS: z.string().default('').transform(apiKeys),
  /** The same JSON in a file (a mounted Secret); instead of GATEWAY_API_KEYS, not with it. */
  GATEWAY_API_KEYS_FILE: z
    .string()
    .default('')
    .transform((path, ctx): ApiKeyGrant[] | undefined => {
      if (!path) return undefined;
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch (e) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `cannot read "${path}": ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
        return z.NEVER;
      }
      return apiKeys(text, ctx);
    }),
  ...grpcSecurityShape,
  LOG_LEVEL: env.logLevel(),
};

function apiKeys(text: string, ctx: z.RefinementCtx): ApiKeyGrant[] {
  try {
    return parseApiKeys(text);
  } catch (e) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: (e as Error).message });
    return z.NEVER;
  }
}

type ParsedGatewayConfig = z.infer<z.ZodObject<typeof gatewayConfigShape>>;

const checkApiKeys: ConfigCheck<ParsedGatewayConfig> = (c, ctx) => {
  if (c.GATEWAY_API_KEYS_FILE && c.GATEWAY_API_KEYS.length) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['GATEWAY_API_KEYS_FILE'], message: 'set GATEWAY_API_KEYS or GATEWAY_API_KEYS_FILE, not both' });
  }
  if (c.TRACKLY_ENV === 'production' && !(c.GATEWAY_API_KEYS_FILE ?? c.GATEWAY_API_KEYS).length) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      path: ['GATEWAY_API_KEYS'],
      message: 'at least one key is required when TRACKLY_ENV=production (set GATEWAY_API_KEYS or GATEWAY_API_KEYS_FILE)',
    });
  }
};

const checkLimits: ConfigCheck<ParsedGatewayConfig> = (c, ctx) => {
  if (c.GATEWAY_MAX_HEADER_BYTES < c.GATEWAY_MAX_URL_BYTES + 4096) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      path: ['GATEWAY_MAX_HEADER_BYTES'],
      message: `must leave room for the longest URL plus headers: at least GATEWAY_MAX_URL_BYTES + 4096 (${c.GATEWAY_MAX_URL_BYTES + 4096})`,
    });
  }
};

export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;

export function loadGatewayConfig(source: Record<string, string | undefined> = process.env) {
  const c = loadConfig('gateway', gatewayConfigShape, source, checkGrpcSecurity, checkApiKeys, checkLimits);
  // One list whichever variable held it.
  return { ...c, GATEWAY_API_KEYS: c.GATEWAY_API_KEYS_FILE ?? c.GATEWAY_API_KEYS };
}
