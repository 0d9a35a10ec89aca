/**
 * Typed configuration from environment variables. Every variable has a default that works on a developer machine;
 * anything invalid stops start-up with one clear message naming each bad variable.
 */
import { z } from 'zod';

export { z };

export class ConfigError extends Error {}

export function loadConfig<T extends z.ZodRawShape>(
  service: string,
  shape: T,
  env: Record<string, string | undefined> = process.env,
): z.infer<z.ZodObject<T>> {
  const result = z.object(shape).safeParse(env);
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
  LOG_LEVEL: env.logLevel(),
};
