import type { DataSource } from 'typeorm';
import { KeptTable, PartitionKeeper, rawPool } from '@trackly/database';
import type { Clock } from '@trackly/kernel';
import type { Logger } from '@trackly/logging';
import type { ReportingConfig } from '../reporting.config';

/**
 * The fact tables partitioned by month (migration 1765710000001) and their time column. received_conversions is not
 * among them: an adjustment rewrites its occurred_at by key (docs/scaling.md).
 */
export const PARTITIONED_FACTS = [
  { table: 'messages', column: 'sent_at' },
  { table: 'clicks', column: 'clicked_at' },
  { table: 'credited_conversions', column: 'occurred_at' },
  { table: 'unattributed_conversions', column: 'occurred_at' },
] as const;

export function factPartitions(config: ReportingConfig): KeptTable[] {
  return PARTITIONED_FACTS.map((f) => ({ schema: 'reporting', table: f.table, granularity: 'month', retentionDays: config.REPORTING_FACTS_RETENTION_DAYS }));
}

/** Reporting's partition keeper: at start and hourly, DDL under REPORTING_PARTITION_LOCK_TIMEOUT_MS. */
export function reportingPartitionKeeper(ds: DataSource, config: ReportingConfig, clock: Clock, logger: Logger): PartitionKeeper {
  return new PartitionKeeper({ pool: rawPool(ds), tables: factPartitions(config), lockTimeoutMs: config.REPORTING_PARTITION_LOCK_TIMEOUT_MS, clock, logger });
}
