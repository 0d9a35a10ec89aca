import { MigrationInterface, QueryRunner } from 'typeorm';
import { dropOutboxCreatedIndexSql, outboxCreatedIndexSql } from '@trackly/messaging';

/**
 * Published outbox rows are now kept OUTBOX_RETENTION_DAYS (35) as the source of re-drives: the time index serves a
 * re-drive's range, the drift check's per-day counts and the relay's chunked pruning. Built while the outbox is
 * still small (published rows were deleted after an hour until now).
 */
export class AttributionOutboxRedrive1765600000000 implements MigrationInterface {
  name = 'AttributionOutboxRedrive1765600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(outboxCreatedIndexSql('attribution'));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(dropOutboxCreatedIndexSql('attribution'));
  }
}
