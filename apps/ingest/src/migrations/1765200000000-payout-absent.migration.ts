import { MigrationInterface, QueryRunner } from 'typeorm';

/** A postback without a payout is stored with 0 and flagged, so attribution applies the offer's default payout. */
export class IngestPayoutAbsent1765200000000 implements MigrationInterface {
  name = 'IngestPayoutAbsent1765200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "ingest".conversions ADD COLUMN payout_absent boolean NOT NULL DEFAULT false`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "ingest".conversions DROP COLUMN payout_absent`);
  }
}
