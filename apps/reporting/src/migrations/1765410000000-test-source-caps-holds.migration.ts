import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What the decisions now say, kept on the facts: test conversions (never in a rollup; reports add them from the
 * facts only when asked), the way a conversion reached attribution (a DIRECT call is also its own received row in
 * reconciliation), credited-over-cap and the hold period (shown apart in the reports, read from the facts because
 * "held" depends on the moment of the report).
 */
export class ReportingTestSourceCapsHolds1765410000000 implements MigrationInterface {
  name = 'ReportingTestSourceCapsHolds1765410000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "reporting".credited_conversions ADD COLUMN test boolean NOT NULL DEFAULT false,
      ADD COLUMN source text NOT NULL DEFAULT '', ADD COLUMN over_cap boolean NOT NULL DEFAULT false, ADD COLUMN hold_until timestamptz`);
    await q.query(`ALTER TABLE "reporting".unattributed_conversions ADD COLUMN test boolean NOT NULL DEFAULT false,
      ADD COLUMN source text NOT NULL DEFAULT ''`);
    await q.query(`ALTER TABLE "reporting".received_conversions ADD COLUMN test boolean NOT NULL DEFAULT false,
      ADD COLUMN source text NOT NULL DEFAULT 'INGEST'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "reporting".received_conversions DROP COLUMN source, DROP COLUMN test`);
    await q.query(`ALTER TABLE "reporting".unattributed_conversions DROP COLUMN source, DROP COLUMN test`);
    await q.query(`ALTER TABLE "reporting".credited_conversions DROP COLUMN hold_until, DROP COLUMN over_cap, DROP COLUMN source, DROP COLUMN test`);
  }
}
