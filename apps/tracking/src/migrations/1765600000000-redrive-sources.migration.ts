import { MigrationInterface, QueryRunner } from 'typeorm';
import { dropOutboxCreatedIndexSql, outboxCreatedIndexSql } from '@trackly/messaging';

/**
 * Re-drive sources: the outbox (catalog events; published rows now kept OUTBOX_RETENTION_DAYS) and the two relayed
 * tables, read by time range (clicks by clicked_at, messages by created_at) for re-drives and the drift check's
 * per-day counts.
 */
export class TrackingRedriveSources1765600000000 implements MigrationInterface {
  name = 'TrackingRedriveSources1765600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(outboxCreatedIndexSql('tracking'));
    await q.query(`CREATE INDEX IF NOT EXISTS clicks_clicked_at_idx ON "tracking".clicks (clicked_at)`);
    await q.query(`CREATE INDEX IF NOT EXISTS messages_created_at_idx ON "tracking".messages (created_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS "tracking".messages_created_at_idx`);
    await q.query(`DROP INDEX IF EXISTS "tracking".clicks_clicked_at_idx`);
    await q.query(dropOutboxCreatedIndexSql('tracking'));
  }
}
