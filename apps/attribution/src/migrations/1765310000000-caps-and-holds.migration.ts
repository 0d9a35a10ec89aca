import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Caps and hold periods: each offer's rules (attribution's own, set over gRPC), and on decisions whether one was
 * credited over a cap and until when it is held. The partial index serves the hold sweeper and cap counting.
 */
export class AttributionCapsAndHolds1765310000000 implements MigrationInterface {
  name = 'AttributionCapsAndHolds1765310000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "attribution".offer_rules (
      offer_id text PRIMARY KEY,
      time_zone text NOT NULL DEFAULT '',
      caps jsonb NOT NULL DEFAULT '[]'::jsonb,
      over_cap_action text NOT NULL DEFAULT 'REFUSE',
      hold_days int NOT NULL DEFAULT 0,
      updated_at timestamptz NOT NULL
    )`);
    await q.query(`ALTER TABLE "attribution".decisions ADD COLUMN over_cap boolean NOT NULL DEFAULT false, ADD COLUMN hold_until timestamptz`);
    await q.query(`CREATE INDEX decisions_hold_due_idx ON "attribution".decisions (hold_until) WHERE hold_until IS NOT NULL AND status = 'PENDING'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "attribution".decisions_hold_due_idx`);
    await q.query(`ALTER TABLE "attribution".decisions DROP COLUMN over_cap, DROP COLUMN hold_until`);
    await q.query(`DROP TABLE "attribution".offer_rules`);
  }
}
