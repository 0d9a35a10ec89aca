import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { KeptResult, KeptTable, PartitionKeeper, rawPool } from '@trackly/database';
import { CLOCK, Clock } from '@trackly/kernel';
import type { Logger } from '@trackly/logging';
import type { TrackingConfig } from '../tracking.config';
import { TRACKING_CONFIG, TRACKING_LOGGER } from '../tracking.tokens';

/**
 * Keeps tracking.clicks' daily partitions through the shared PartitionKeeper (@trackly/database): today and 7 days
 * ahead exist, partitions wholly older than TRACKING_CLICKS_RETENTION_DAYS are detached and dropped, at start and
 * hourly, one replica at a time, every DDL statement under TRACKING_PARTITION_LOCK_TIMEOUT_MS.
 */
@Injectable()
export class ClickPartitionsJob implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly keeper: PartitionKeeper;
  private readonly clicks: KeptTable;

  constructor(
    ds: DataSource,
    @Inject(TRACKING_CONFIG) config: TrackingConfig,
    @Inject(CLOCK) clock: Clock,
    @Inject(TRACKING_LOGGER) logger: Logger,
  ) {
    // The lock name of the job before the keeper was shared: old and new replicas never keep the table at once.
    this.clicks = { schema: 'tracking', table: 'clicks', granularity: 'day', retentionDays: config.TRACKING_CLICKS_RETENTION_DAYS, ahead: 7, lock: 'trackly-tracking-click-partitions' };
    this.keeper = new PartitionKeeper({ pool: rawPool(ds), tables: [this.clicks], lockTimeoutMs: config.TRACKING_PARTITION_LOCK_TIMEOUT_MS, clock, logger });
  }

  onApplicationBootstrap(): void {
    this.keeper.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.keeper.stop();
  }

  /** One maintenance pass; what it created and dropped (nothing when another replica holds the lock). */
  run(): Promise<KeptResult> {
    return this.keeper.maintain(this.clicks);
  }
}
