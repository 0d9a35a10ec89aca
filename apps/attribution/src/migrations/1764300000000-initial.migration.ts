import { MigrationInterface, QueryRunner } from 'typeorm';
import { dropMessagingTablesSql, messagingTablesSql } from '@trackly/messaging';

/** Projections of tracking's offers, sends and clicks (built from events), decisions, and the outbox. */
export class AttributionInitial1764300000000 implements MigrationInterface {
  name = 'AttributionInitial1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "attribution".offers (
      offer_id text PRIMARY KEY,
      click_window_days int,
      updated_at timestamptz NOT NULL
    )`);
    await q.query(`CREATE TABLE "attribution".sends (
      message_id text PRIMARY KEY,
      contact_id text NOT NULL,
      offer_id text NOT NULL,
      campaign_id text NOT NULL,
      creative_id text NOT NULL,
      sent_at timestamptz NOT NULL
    )`);
    await q.query(`CREATE INDEX sends_contact_offer_idx ON "attribution".sends (contact_id, offer_id, sent_at)`);
    await q.query(`CREATE TABLE "attribution".clicks (
      click_id text PRIMARY KEY,
      message_id text NOT NULL,
      contact_id text NOT NULL,
      offer_id text NOT NULL,
      campaign_id text NOT NULL,
      creative_id text NOT NULL,
      clicked_at timestamptz NOT NULL,
      first_click_on_message boolean NOT NULL
    )`);
    // The first-click lookup: a contact's clicks on an offer in time order.
    await q.query(`CREATE INDEX clicks_contact_offer_time_idx ON "attribution".clicks (contact_id, offer_id, clicked_at, click_id)`);
    await q.query(`CREATE TABLE "attribution".decisions (
      partner_id text NOT NULL,
      conversion_id text NOT NULL,
      conversion_ref text NOT NULL DEFAULT '',
      outcome text NOT NULL CHECK (outcome IN ('ATTRIBUTED', 'UNATTRIBUTED')),
      reason text,
      type text,
      reported_click_id text NOT NULL,
      credited_click_id text,
      message_id text,
      contact_id text,
      offer_id text,
      campaign_id text,
      creative_id text,
      payout_micros bigint NOT NULL,
      currency char(3) NOT NULL,
      status text NOT NULL,
      occurred_at timestamptz NOT NULL,
      credited_clicked_at timestamptz,
      window_days int NOT NULL,
      decided_at timestamptz NOT NULL,
      explanation text NOT NULL,
      PRIMARY KEY (partner_id, conversion_id)
    )`);
    await q.query(`CREATE INDEX decisions_message_idx ON "attribution".decisions (message_id) WHERE message_id IS NOT NULL`);
    for (const sql of messagingTablesSql('attribution')) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const sql of dropMessagingTablesSql('attribution')) await q.query(sql);
    for (const t of ['decisions', 'clicks', 'sends', 'offers']) await q.query(`DROP TABLE "attribution".${t}`);
  }
}
