import { MigrationInterface, QueryRunner } from 'typeorm';
import { dropMessagingTablesSql, messagingTablesSql } from '@trackly/messaging';

/** Conversions (one per partner key), the raw archive of every partner postback, and the outbox. */
export class IngestInitial1764400000000 implements MigrationInterface {
  name = 'IngestInitial1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "ingest".conversions (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      partner_id text NOT NULL,
      conversion_id text NOT NULL,
      click_id text,
      payout_micros bigint NOT NULL CHECK (payout_micros >= 0),
      currency char(3) NOT NULL,
      status text NOT NULL CHECK (status IN ('APPROVED', 'PENDING', 'REJECTED', 'REVERSED')),
      occurred_at timestamptz NOT NULL,
      received_at timestamptz NOT NULL,
      attribution_state text NOT NULL DEFAULT 'PENDING' CHECK (attribution_state IN ('PENDING', 'ATTRIBUTED', 'UNATTRIBUTED')),
      attribution_reason text,
      credited_message_id text,
      raw jsonb NOT NULL DEFAULT '{}'::jsonb,
      CONSTRAINT "UQ_conversions_partner_conversion" UNIQUE (partner_id, conversion_id)
    )`);
    // ListConversions pages newest first on (received_at, id), optionally per partner or click.
    await q.query(`CREATE INDEX "IDX_conversions_received" ON "ingest".conversions (received_at DESC, id DESC)`);
    await q.query(`CREATE INDEX "IDX_conversions_partner_received" ON "ingest".conversions (partner_id, received_at DESC, id DESC)`);
    await q.query(`CREATE INDEX "IDX_conversions_click_id" ON "ingest".conversions (click_id) WHERE click_id IS NOT NULL`);
    // Written before a postback is parsed (outcome NULL while in progress), so even what we cannot parse is kept.
    await q.query(`CREATE TABLE "ingest".postback_requests (
      id bigserial PRIMARY KEY,
      received_at timestamptz NOT NULL,
      partner_id text NOT NULL,
      source_ip text NOT NULL,
      method text NOT NULL,
      path text NOT NULL,
      query text NOT NULL,
      content_type text,
      body text,
      outcome text CHECK (outcome IN ('stored', 'duplicate', 'invalid', 'error')),
      reason text,
      conversion_ref uuid REFERENCES "ingest".conversions (id)
    )`);
    await q.query(`CREATE INDEX "IDX_postback_requests_partner_received" ON "ingest".postback_requests (partner_id, received_at DESC)`);
    await q.query(`CREATE INDEX "IDX_postback_requests_conversion_ref" ON "ingest".postback_requests (conversion_ref) WHERE conversion_ref IS NOT NULL`);
    for (const sql of messagingTablesSql('ingest')) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const sql of dropMessagingTablesSql('ingest')) await q.query(sql);
    for (const t of ['postback_requests', 'conversions']) await q.query(`DROP TABLE "ingest".${t}`);
  }
}
