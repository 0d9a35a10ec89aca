import { env, loadConfig, z } from '@trackly/config';
import { parseApiKeys } from './domain/api-keys';

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
  /** Deadline of every downstream call (and of each readiness check). */
  GATEWAY_DEADLINE_MS: env.positiveInt(3000),
  /** Comma-separated API keys; empty leaves /api open (local development only). */
  GATEWAY_API_KEYS: z.string().default('').transform((v, ctx) => {
    try {
      return parseApiKeys(v);
    } catch (e) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: (e as Error).message });
      return z.NEVER;
    }
  }),
  LOG_LEVEL: env.logLevel(),
};

export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;

export function loadGatewayConfig(source: Record<string, string | undefined> = process.env) {
  return loadConfig('gateway', gatewayConfigShape, source);
}
