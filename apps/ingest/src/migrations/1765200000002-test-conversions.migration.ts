import { MigrationInterface, QueryRunner } from 'typeorm';

/** Test conversions are stored as such; a partner's status shows its last test postback and what it became. */
export class IngestTestConversions1765200000002 implements MigrationInterface {
  name = 'IngestTestConversions1765200000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "ingest".conversions ADD COLUMN test boolean NOT NULL DEFAULT false`);
    await q.query(`ALTER TABLE "ingest".partners ADD COLUMN last_test_at timestamptz, ADD COLUMN last_test_outcome text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "ingest".partners DROP COLUMN last_test_at, DROP COLUMN last_test_outcome`);
    await q.query(`ALTER TABLE "ingest".conversions DROP COLUMN test`);
  }
}
