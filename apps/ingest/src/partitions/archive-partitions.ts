import type { DataSource } from 'typeorm';
import { KeptTable, PartitionKeeper, rawPool } from '@trackly/database';
import type { Clock } from '@trackly/kernel';
import type { Logger } from '@trackly/logging';
import type { IngestConfig } from '../ingest.config';

/** The raw archive's monthly partitions (migration 1765710000000) as the keeper keeps them. */
export function archivePartitions(config: IngestConfig): KeptTable {
  return { schema: 'ingest', table: 'postback_requests', granularity: 'month', retentionDays: config.INGEST_ARCHIVE_RETENTION_DAYS };
}

/** Ingest's partition keeper: at start and hourly, DDL under INGEST_PARTITION_LOCK_TIMEOUT_MS. */
export function ingestPartitionKeeper(ds: DataSource, config: IngestConfig, clock: Clock, logger: Logger): PartitionKeeper {
  return new PartitionKeeper({ pool: rawPool(ds), tables: [archivePartitions(config)], lockTimeoutMs: config.INGEST_PARTITION_LOCK_TIMEOUT_MS, clock, logger });
}
