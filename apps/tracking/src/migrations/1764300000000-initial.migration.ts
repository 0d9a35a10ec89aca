import { MigrationInterface, QueryRunner } from 'typeorm';
import { dropMessagingTablesSql, messagingTablesSql } from '@trackly/messaging';

/** Catalog, messages with their short codes, clicks, and the outbox. */
export class TrackingInitial1764300000000 implements MigrationInterface {
  name = 'TrackingInitial1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "tracking".offers (
      offer_id text PRIMARY KEY,
      name text NOT NULL,
      destination_url_template text NOT NULL,
      default_payout_micros bigint NOT NULL CHECK (default_payout_micros >= 0),
      currency char(3) NOT NULL,
      click_window_days int CHECK (click_window_days BETWEEN 1 AND 365),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE TABLE "tracking".creatives (
      creative_id text PRIMARY KEY,
      name text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE TABLE "tracking".campaigns (
      campaign_id text PRIMARY KEY,
      name text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE TABLE "tracking".messages (
      message_id text PRIMARY KEY,
      contact_id text NOT NULL,
      phone_e164 text NOT NULL,
      campaign_id text NOT NULL REFERENCES "tracking".campaigns (campaign_id),
      creative_id text NOT NULL REFERENCES "tracking".creatives (creative_id),
      offer_id text NOT NULL REFERENCES "tracking".offers (offer_id),
      sent_at timestamptz NOT NULL,
      short_code text NOT NULL,
      click_count int NOT NULL DEFAULT 0,
      first_clicked_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE UNIQUE INDEX "IDX_messages_short_code" ON "tracking".messages (short_code)`);
    await q.query(`CREATE INDEX "IDX_messages_contact_id" ON "tracking".messages (contact_id)`);
    await q.query(`CREATE TABLE "tracking".clicks (
      click_id text PRIMARY KEY,
      message_id text NOT NULL REFERENCES "tracking".messages (message_id),
      contact_id text NOT NULL,
      offer_id text NOT NULL,
      campaign_id text NOT NULL,
      creative_id text NOT NULL,
      clicked_at timestamptz NOT NULL,
      first_click_on_message boolean NOT NULL,
      user_agent text NOT NULL,
      ip text NOT NULL
    )`);
    await q.query(`CREATE INDEX "IDX_clicks_message_id" ON "tracking".clicks (message_id)`);
    for (const sql of messagingTablesSql('tracking')) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const sql of dropMessagingTablesSql('tracking')) await q.query(sql);
    for (const t of ['clicks', 'messages', 'campaigns', 'creatives', 'offers']) await q.query(`DROP TABLE "tracking".${t}`);
  }
}
