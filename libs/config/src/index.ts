/**
 * Typed configuration from environment variables. Every variable has a default that works on a developer machine;
 * anything invalid stops start-up with one clear message naming each bad variable.
 */
import { z } from 'zod';

export { z };

export class ConfigError extends Error {}

/** A rule across several variables (e.g. "production needs gRPC auth"); reports through ctx.addIssue. */
export type ConfigCheck<C> = (config: C, ctx: z.RefinementCtx) => void;

export function loadConfig<T extends z.ZodRawShape>(
  service: string,
  shape: T,
  env: Record<string, string | undefined> = process.env,
  ...checks: ConfigCheck<z.infer<z.ZodObject<T>>>[]
): z.infer<z.ZodObject<T>> {
  const result = z
    .object(shape)
    .superRefine((config, ctx) => {
      for (const check of checks) check(config as z.infer<z.ZodObject<T>>, ctx);
    })
    .safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`${service}: invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}

/** Common pieces of every service's config. */
export const env = {
  port: (def: number) => z.coerce.number().int().min(0).max(65535).default(def),
  url: (def: string, protocols: string[]) =>
    z.string().default(def).refine((v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    }, { message: `must be a URL (${protocols.join(' or ')})` }),
  positiveInt: (def: number) => z.coerce.number().int().positive().default(def),
  bool: (def: boolean) =>
    z.enum(['true', 'false', '1', '0']).default(def ? 'true' : 'false').transform((v) => v === 'true' || v === '1'),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Prefix for NATS subjects and stream names; empty in production, unique per spec in tests. */
  natsPrefix: () => z.string().regex(/^([a-z0-9_]+)?$/, 'lower-case letters, digits and _ only').default(''),
};

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/trackly';
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/** The settings every database-owning service shares. */
export const platformShape = {
  DATABASE_URL: env.url(DEFAULT_DATABASE_URL, ['postgres:', 'postgresql:']),
  DATABASE_POOL_SIZE: env.positiveInt(10),
  NATS_URL: z.string().default(DEFAULT_NATS_URL),
  NATS_PREFIX: env.natsPrefix(),
  NATS_STREAM_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
  /** Days a published outbox row is kept as the source of a re-drive (docs/operations.md, "Re-drive"). */
  OUTBOX_RETENTION_DAYS: z.coerce.number().int().min(1).max(400).default(35),
  LOG_LEVEL: env.logLevel(),
};

/** development (default): conveniences such as unauthenticated gRPC are allowed; production refuses them at start. */
export const deploymentShape = {
  TRACKLY_ENV: z.enum(['development', 'production']).default('development'),
};

export const MIN_GRPC_AUTH_TOKEN_LENGTH = 32;

/**
 * How the services authenticate each other's gRPC calls, shared by servers and clients (libs/grpc reads these):
 * `token` = a shared secret sent as `authorization: Bearer <token>` metadata; `mtls` = both sides present
 * certificates from one CA; `none` = development only (checkGrpcSecurity refuses it in production).
 */
export const grpcSecurityShape = {
  ...deploymentShape,
  GRPC_AUTH_MODE: z.enum(['none', 'token', 'mtls']).default('none'),
  GRPC_AUTH_TOKEN: z.string().default(''),
  /** PEM files (mtls): the CA both sides trust, and this process's own certificate chain and key. */
  GRPC_TLS_CA: z.string().default(''),
  GRPC_TLS_CERT: z.string().default(''),
  GRPC_TLS_KEY: z.string().default(''),
  /** Largest gRPC message sent or received; bigger ones fail with RESOURCE_EXHAUSTED. */
  GRPC_MAX_MESSAGE_BYTES: z.coerce.number().int().min(65_536).max(268_435_456).default(4 * 1024 * 1024),
};

export type GrpcSecurityConfig = z.infer<z.ZodObject<typeof grpcSecurityShape>>;

/** The cross-variable rules of grpcSecurityShape; pass it to loadConfig. */
export const checkGrpcSecurity: ConfigCheck<GrpcSecurityConfig> = (c, ctx) => {
  const issue = (path: string, message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, path: [path], message });
  if (c.GRPC_AUTH_MODE === 'none' && c.TRACKLY_ENV === 'production') {
    issue('GRPC_AUTH_MODE', 'must be token or mtls when TRACKLY_ENV=production (none is for local development only)');
  }
  if (c.GRPC_AUTH_MODE === 'token') {
    if (c.GRPC_AUTH_TOKEN.length < MIN_GRPC_AUTH_TOKEN_LENGTH) {
      issue('GRPC_AUTH_TOKEN', `must be at least ${MIN_GRPC_AUTH_TOKEN_LENGTH} characters when GRPC_AUTH_MODE=token`);
    } else if (!/^[\x21-\x7e]+$/.test(c.GRPC_AUTH_TOKEN)) {
      issue('GRPC_AUTH_TOKEN', 'must be printable ASCII without spaces (it travels in metadata)');
    }
  }
  if (c.GRPC_AUTH_MODE === 'mtls') {
    for (const name of ['GRPC_TLS_CA', 'GRPC_TLS_CERT', 'GRPC_TLS_KEY'] as const) {
      if (!c[name]) issue(name, 'is required (a PEM file path) when GRPC_AUTH_MODE=mtls');
    }
  }
};
