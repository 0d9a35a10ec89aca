import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Where a decided conversion came from and how its payout was found: test conversions, the way in (ingest or the
 * direct RPC), a payout taken from the offer's default because the postback had none (the offer projection keeps
 * that default). Parked conversions keep the same facts until they are decided.
 */
export class AttributionConversionProvenance1765300000000 implements MigrationInterface {
  name = 'AttributionConversionProvenance1765300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "attribution".decisions
      ADD COLUMN test boolean NOT NULL DEFAULT false,
      ADD COLUMN source text,
      ADD COLUMN payout_defaulted boolean NOT NULL DEFAULT false`);
    await q.query(`ALTER TABLE "attribution".parked_conversions
      ADD COLUMN test boolean NOT NULL DEFAULT false,
      ADD COLUMN source text,
      ADD COLUMN payout_absent boolean NOT NULL DEFAULT false`);
    await q.query(`ALTER TABLE "attribution".offers ADD COLUMN default_payout_micros bigint, ADD COLUMN default_payout_currency char(3)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "attribution".offers DROP COLUMN default_payout_micros, DROP COLUMN default_payout_currency`);
    await q.query(`ALTER TABLE "attribution".parked_conversions DROP COLUMN test, DROP COLUMN source, DROP COLUMN payout_absent`);
    await q.query(`ALTER TABLE "attribution".decisions DROP COLUMN test, DROP COLUMN source, DROP COLUMN payout_defaulted`);
  }
}
