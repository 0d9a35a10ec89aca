import { MigrationInterface, QueryRunner } from 'typeorm';

/** Our message id as a partner passed it back: view-through attribution from postbacks. */
export class IngestMessageId1765200000001 implements MigrationInterface {
  name = 'IngestMessageId1765200000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "ingest".conversions ADD COLUMN message_id text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "ingest".conversions DROP COLUMN message_id`);
  }
}
