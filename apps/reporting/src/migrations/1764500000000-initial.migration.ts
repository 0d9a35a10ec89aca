import { MigrationInterface, QueryRunner } from 'typeorm';
import { dropMessagingTablesSql, messagingTablesSql } from '@trackly/messaging';

/**
 * Read models built only from events: display names, one fact table per event kind (their keys make a re-sent
 * event a no-op) and 15-minute UTC rollups. Every IANA zone's midnight falls on a quarter hour, so a bucket never
 * straddles two local days, whichever zone a report is cut in.
 */
export class ReportingInitial1764500000000 implements MigrationInterface {
  name = 'ReportingInitial1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "reporting".names (
      kind text NOT NULL CHECK (kind IN ('offer', 'creative', 'campaign')),
      id text NOT NULL,
      name text NOT NULL,
      updated_at timestamptz NOT NULL,
      PRIMARY KEY (kind, id)
    )`);
    await q.query(`CREATE TABLE "reporting".messages (
      message_id text PRIMARY KEY,
      contact_id text NOT NULL,
      phone_masked text NOT NULL,
      campaign_id text NOT NULL,
      creative_id text NOT NULL,
      offer_id text NOT NULL,
      sent_at timestamptz NOT NULL
    )`);
    await q.query(`CREATE INDEX "IDX_reporting_messages_contact_id" ON "reporting".messages (contact_id)`);
    await q.query(`CREATE TABLE "reporting".clicks (
      click_id text PRIMARY KEY,
      message_id text NOT NULL,
      contact_id text NOT NULL,
      offer_id text NOT NULL,
      campaign_id text NOT NULL,
      creative_id text NOT NULL,
      clicked_at timestamptz NOT NULL,
      first_click_on_message boolean NOT NULL
    )`);
    await q.query(`CREATE INDEX "IDX_reporting_clicks_message_id" ON "reporting".clicks (message_id)`);
    await q.query(`CREATE INDEX "IDX_reporting_clicks_contact_id" ON "reporting".clicks (contact_id)`);
    await q.query(`CREATE TABLE "reporting".credited_conversions (
      partner_id text NOT NULL,
      conversion_id text NOT NULL,
      message_id text NOT NULL,
      click_id text NOT NULL,
      contact_id text NOT NULL,
      offer_id text NOT NULL,
      campaign_id text NOT NULL,
      creative_id text NOT NULL,
      payout_micros bigint NOT NULL,
      currency char(3) NOT NULL,
      status text NOT NULL CHECK (status IN ('approved', 'pending', 'reversed')),
      occurred_at timestamptz NOT NULL,
      type text NOT NULL,
      PRIMARY KEY (partner_id, conversion_id)
    )`);
    await q.query(`CREATE INDEX "IDX_reporting_credited_message_id" ON "reporting".credited_conversions (message_id)`);
    await q.query(`CREATE INDEX "IDX_reporting_credited_contact_id" ON "reporting".credited_conversions (contact_id)`);
    await q.query(`CREATE TABLE "reporting".unattributed_conversions (
      partner_id text NOT NULL,
      conversion_id text NOT NULL,
      reason text NOT NULL,
      reported_click_id text NOT NULL,
      payout_micros bigint NOT NULL,
      currency char(3) NOT NULL,
      status text NOT NULL,
      occurred_at timestamptz NOT NULL,
      PRIMARY KEY (partner_id, conversion_id)
    )`);
    await q.query(`CREATE TABLE "reporting".activity_rollup (
      bucket timestamptz NOT NULL,
      campaign_id text NOT NULL,
      creative_id text NOT NULL,
      offer_id text NOT NULL,
      sends bigint NOT NULL DEFAULT 0,
      clicks bigint NOT NULL DEFAULT 0,
      unique_clicks bigint NOT NULL DEFAULT 0,
      PRIMARY KEY (bucket, campaign_id, creative_id, offer_id)
    )`);
    await q.query(`CREATE TABLE "reporting".revenue_rollup (
      bucket timestamptz NOT NULL,
      campaign_id text NOT NULL,
      creative_id text NOT NULL,
      offer_id text NOT NULL,
      currency char(3) NOT NULL,
      conversions bigint NOT NULL DEFAULT 0,
      approved_micros bigint NOT NULL DEFAULT 0,
      pending_micros bigint NOT NULL DEFAULT 0,
      reversed_micros bigint NOT NULL DEFAULT 0,
      PRIMARY KEY (bucket, campaign_id, creative_id, offer_id, currency)
    )`);
    for (const sql of messagingTablesSql('reporting')) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const sql of dropMessagingTablesSql('reporting')) await q.query(sql);
    for (const t of ['revenue_rollup', 'activity_rollup', 'unattributed_conversions', 'credited_conversions', 'clicks', 'messages', 'names']) {
      await q.query(`DROP TABLE "reporting".${t}`);
    }
  }
}
