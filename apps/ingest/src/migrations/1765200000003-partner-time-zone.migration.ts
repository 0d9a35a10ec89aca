import { MigrationInterface, QueryRunner } from 'typeorm';

/** A partner's account time zone (IANA): TUNE's {datetime} is a wall-clock time there. NULL = UTC. */
export class IngestPartnerTimeZone1765200000003 implements MigrationInterface {
  name = 'IngestPartnerTimeZone1765200000003';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "ingest".partners ADD COLUMN time_zone text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "ingest".partners DROP COLUMN time_zone`);
  }
}
