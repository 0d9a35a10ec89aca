import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The full engine: offer terms (minimum seconds, view-through), click classes, the rule (and rule-set version) on
 * every decision, one credited conversion per duplicate fingerprint, parked conversions and the corrections log.
 */
export class AttributionEngine1764400000000 implements MigrationInterface {
  name = 'AttributionEngine1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "attribution".offers ADD COLUMN min_conversion_seconds int, ADD COLUMN view_through_window_days int`);
    // Clicks projected before classification existed were counted as human; keep it so.
    await q.query(`ALTER TABLE "attribution".clicks ADD COLUMN click_class text NOT NULL DEFAULT 'HUMAN' CHECK (click_class IN ('HUMAN', 'PREVIEW', 'BOT'))`);
    await q.query(`ALTER TABLE "attribution".decisions
      ADD COLUMN rule_version text NOT NULL DEFAULT 'first-click/1',
      ADD COLUMN rule text,
      ADD COLUMN window_source text,
      ADD COLUMN conversion_message_id text NOT NULL DEFAULT '',
      ADD COLUMN fingerprint text,
      ADD COLUMN revision int NOT NULL DEFAULT 0,
      ADD COLUMN updated_at timestamptz`);
    // DUPLICATE is constraint-backed: one credited conversion per fingerprint (same partner, click, second, payout).
    await q.query(`CREATE UNIQUE INDEX decisions_credited_fingerprint_uq ON "attribution".decisions (fingerprint)
      WHERE outcome = 'ATTRIBUTED' AND fingerprint IS NOT NULL`);
    await q.query(`CREATE INDEX decisions_offer_time_idx ON "attribution".decisions (offer_id, occurred_at DESC)`);
    await q.query(`CREATE INDEX decisions_contact_time_idx ON "attribution".decisions (contact_id, occurred_at DESC)`);
    await q.query(`CREATE INDEX decisions_time_idx ON "attribution".decisions (occurred_at DESC, partner_id, conversion_id)`);
    await q.query(`CREATE TABLE "attribution".parked_conversions (
      partner_id text NOT NULL,
      conversion_id text NOT NULL,
      conversion_ref text NOT NULL,
      click_id text NOT NULL,
      message_id text NOT NULL,
      payout_micros bigint NOT NULL,
      currency char(3) NOT NULL,
      status text NOT NULL,
      occurred_at timestamptz NOT NULL,
      parked_at timestamptz NOT NULL,
      attempts int NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL,
      horizon_at timestamptz NOT NULL,
      last_error text,
      PRIMARY KEY (partner_id, conversion_id)
    )`);
    await q.query(`CREATE INDEX parked_click_idx ON "attribution".parked_conversions (click_id)`);
    await q.query(`CREATE INDEX parked_due_idx ON "attribution".parked_conversions (next_attempt_at)`);
    // Every change to a decision after it was made (adjustments), unique per source so each applies once.
    await q.query(`CREATE TABLE "attribution".corrections (
      seq bigserial PRIMARY KEY,
      correction_id uuid NOT NULL UNIQUE,
      partner_id text NOT NULL,
      conversion_id text NOT NULL,
      cause text NOT NULL,
      source_id text NOT NULL,
      emitted boolean NOT NULL,
      explanation text NOT NULL,
      created_at timestamptz NOT NULL,
      UNIQUE (cause, source_id)
    )`);
    await q.query(`CREATE INDEX corrections_conversion_idx ON "attribution".corrections (partner_id, conversion_id, seq)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "attribution".corrections`);
    await q.query(`DROP TABLE "attribution".parked_conversions`);
    for (const i of ['decisions_time_idx', 'decisions_contact_time_idx', 'decisions_offer_time_idx', 'decisions_credited_fingerprint_uq']) {
      await q.query(`DROP INDEX "attribution".${i}`);
    }
    await q.query(`ALTER TABLE "attribution".decisions DROP COLUMN rule_version, DROP COLUMN rule, DROP COLUMN window_source,
      DROP COLUMN conversion_message_id, DROP COLUMN fingerprint, DROP COLUMN revision, DROP COLUMN updated_at`);
    await q.query(`ALTER TABLE "attribution".clicks DROP COLUMN click_class`);
    await q.query(`ALTER TABLE "attribution".offers DROP COLUMN min_conversion_seconds, DROP COLUMN view_through_window_days`);
  }
}
