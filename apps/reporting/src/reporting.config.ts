import { checkGrpcSecurity, env, grpcSecurityShape, loadConfig, platformShape, z } from '@trackly/config';

export const reportingConfigShape = {
  ...platformShape,
  ...grpcSecurityShape,
  REPORTING_GRPC_PORT: env.port(50054),
  REPORTING_HOST: z.string().default('0.0.0.0'),
};

export type ReportingConfig = ReturnType<typeof loadReportingConfig>;

export function loadReportingConfig(source: Record<string, string | undefined> = process.env) {
  return loadConfig('reporting', reportingConfigShape, source, checkGrpcSecurity);
}
