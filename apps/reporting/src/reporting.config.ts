import { checkGrpcSecurity, env, grpcSecurityShape, loadConfig, platformShape, z } from '@trackly/config';

export const reportingConfigShape = {
  ...platformShape,
  ...grpcSecurityShape,
  REPORTING_GRPC_PORT: env.port(50054),
  REPORTING_HOST: z.string().default('0.0.0.0'),
  /**
   * Days the facts (sends, taps, credited and unattributed conversions) are kept: monthly partitions whose every row
   * is older are dropped. The rollups reports read are kept for ever. Longer than the longest attribution window (an
   * offer's click_window_days, up to 365): a conversion's correction finds the fact it replaces.
   */
  REPORTING_FACTS_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(400),
  /** Longest a partition's DDL waits for its lock (it gives up until the next hourly run rather than queue the consumers). */
  REPORTING_PARTITION_LOCK_TIMEOUT_MS: z.coerce.number().int().min(10).max(60_000).default(1000),
};

export type ReportingConfig = ReturnType<typeof loadReportingConfig>;

export function loadReportingConfig(source: Record<string, string | undefined> = process.env) {
  return loadConfig('reporting', reportingConfigShape, source, checkGrpcSecurity);
}
