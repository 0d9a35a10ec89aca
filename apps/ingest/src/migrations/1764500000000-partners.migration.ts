import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The partner registry (token stored as a SHA-256 hash), the per-kind conversion columns (transaction/event ids for
 * reversals, exact sale amount, sub-ids), the history of adjustments, and archive outcomes with a reason code (and,
 * for a replayed request, the original it replays).
 */
export class IngestPartners1764500000000 implements MigrationInterface {
  name = 'IngestPartners1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "ingest".partners (
      partner_id text PRIMARY KEY,
      name text NOT NULL,
      kind text NOT NULL CHECK (kind IN ('TUNE', 'EVERFLOW', 'GENERIC')),
      click_id_param text,
      default_currency char(3) NOT NULL,
      allowed_sources text[] NOT NULL DEFAULT '{}',
      token_sha256 bytea NOT NULL CHECK (length(token_sha256) = 32),
      token_issued_at timestamptz NOT NULL,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL
    )`);
    await q.query(`ALTER TABLE "ingest".conversions
      ADD COLUMN transaction_id text,
      ADD COLUMN event_id text,
      ADD COLUMN sale_amount_micros bigint CHECK (sale_amount_micros >= 0),
      ADD COLUMN sub_ids jsonb NOT NULL DEFAULT '{}'::jsonb,
      ADD COLUMN updated_at timestamptz`);
    // Reversals name a conversion by transaction id + event id.
    await q.query(`CREATE INDEX "IDX_conversions_partner_transaction" ON "ingest".conversions (partner_id, transaction_id) WHERE transaction_id IS NOT NULL`);
    // Every change of a stored conversion's status or payout, in order; the id is the event's adjustment_id.
    await q.query(`CREATE TABLE "ingest".conversion_adjustments (
      id uuid PRIMARY KEY,
      conversion_ref uuid NOT NULL REFERENCES "ingest".conversions (id),
      cause text NOT NULL CHECK (cause IN ('postback', 'reversal', 'import', 'replay')),
      previous_status text NOT NULL,
      previous_payout_micros bigint NOT NULL,
      previous_currency char(3) NOT NULL,
      status text NOT NULL,
      payout_micros bigint NOT NULL,
      currency char(3) NOT NULL,
      postback_request_id bigint REFERENCES "ingest".postback_requests (id),
      adjusted_at timestamptz NOT NULL
    )`);
    await q.query(`CREATE INDEX "IDX_conversion_adjustments_conversion" ON "ingest".conversion_adjustments (conversion_ref, adjusted_at)`);
    await q.query(`ALTER TABLE "ingest".postback_requests DROP CONSTRAINT postback_requests_outcome_check`);
    await q.query(`ALTER TABLE "ingest".postback_requests
      ADD CONSTRAINT postback_requests_outcome_check
        CHECK (outcome IN ('stored', 'duplicate', 'adjusted', 'reversed', 'invalid', 'unauthorized', 'forbidden', 'not_found', 'error')),
      ADD COLUMN reason_code text,
      ADD COLUMN replay_of bigint REFERENCES "ingest".postback_requests (id)`);
    // Per-partner counters group the archive by outcome and reason.
    await q.query(`CREATE INDEX "IDX_postback_requests_partner_outcome" ON "ingest".postback_requests (partner_id, outcome, reason_code)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "ingest"."IDX_postback_requests_partner_outcome"`);
    await q.query(`DELETE FROM "ingest".postback_requests WHERE replay_of IS NOT NULL`);
    await q.query(`ALTER TABLE "ingest".postback_requests DROP COLUMN replay_of, DROP COLUMN reason_code, DROP CONSTRAINT postback_requests_outcome_check`);
    await q.query(`UPDATE "ingest".postback_requests SET outcome = 'invalid' WHERE outcome IN ('unauthorized', 'forbidden', 'not_found')`);
    await q.query(`UPDATE "ingest".postback_requests SET outcome = 'duplicate' WHERE outcome IN ('adjusted', 'reversed')`);
    await q.query(`ALTER TABLE "ingest".postback_requests ADD CONSTRAINT postback_requests_outcome_check CHECK (outcome IN ('stored', 'duplicate', 'invalid', 'error'))`);
    await q.query(`DROP TABLE "ingest".conversion_adjustments`);
    await q.query(`DROP INDEX "ingest"."IDX_conversions_partner_transaction"`);
    await q.query(`ALTER TABLE "ingest".conversions DROP COLUMN transaction_id, DROP COLUMN event_id, DROP COLUMN sale_amount_micros, DROP COLUMN sub_ids, DROP COLUMN updated_at`);
    await q.query(`DROP TABLE "ingest".partners`);
  }
}
