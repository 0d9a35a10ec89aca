import { MigrationInterface, QueryRunner } from 'typeorm';
import { dropMessagingTablesSql, messagingTablesSql, processedEventsAgeIndexSql } from '@trackly/messaging';

/**
 * Endpoints (with their signing secrets: HMAC needs the secret itself, so it cannot be stored hashed), the events
 * to deliver (body stored once, so every retry sends the same bytes), one delivery per event × endpoint (its
 * webhook-id stable across retries), the attempt log, and the outbox.
 */
export class DeliveryInitial1765500000000 implements MigrationInterface {
  name = 'DeliveryInitial1765500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "delivery".endpoints (
      endpoint_id text PRIMARY KEY,
      name text NOT NULL,
      kind text NOT NULL CHECK (kind IN ('WEBHOOK', 'POSTBACK_TEMPLATE')),
      url text NOT NULL,
      event_types text[] NOT NULL,
      campaign_ids text[] NOT NULL DEFAULT '{}',
      offer_ids text[] NOT NULL DEFAULT '{}',
      partner_ids text[] NOT NULL DEFAULT '{}',
      active boolean NOT NULL,
      rate_limit_per_second int NOT NULL CHECK (rate_limit_per_second > 0),
      timeout_ms int NOT NULL CHECK (timeout_ms > 0),
      secret text NOT NULL,
      previous_secret text,
      previous_secret_expires_at timestamptz,
      consecutive_failures int NOT NULL DEFAULT 0,
      disabled_reason text,
      disabled_at timestamptz,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL
    )`);
    await q.query(`CREATE TABLE "delivery".events (
      event_key text PRIMARY KEY,
      event_type text NOT NULL,
      body text NOT NULL,
      macros jsonb NOT NULL,
      occurred_at timestamptz NOT NULL
    )`);
    await q.query(`CREATE TABLE "delivery".deliveries (
      delivery_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      endpoint_id text NOT NULL,
      event_key text NOT NULL REFERENCES "delivery".events (event_key),
      message_id text NOT NULL UNIQUE,
      event_type text NOT NULL,
      status text NOT NULL CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
      attempts int NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL,
      queued_at timestamptz NOT NULL,
      created_at timestamptz NOT NULL,
      delivered_at timestamptz,
      last_status_code int,
      last_latency_ms int,
      last_error text,
      UNIQUE (endpoint_id, event_key)
    )`);
    // The dispatcher's claim: due pending deliveries in time order.
    await q.query(`CREATE INDEX deliveries_due_idx ON "delivery".deliveries (next_attempt_at) WHERE status = 'PENDING'`);
    // The delivery log and range redelivery: an endpoint's deliveries newest first.
    await q.query(`CREATE INDEX deliveries_endpoint_created_idx ON "delivery".deliveries (endpoint_id, created_at DESC, delivery_id DESC)`);
    await q.query(`CREATE TABLE "delivery".delivery_attempts (
      delivery_id uuid NOT NULL,
      attempt int NOT NULL,
      status_code int NOT NULL,
      latency_ms int NOT NULL,
      error text NOT NULL DEFAULT '',
      attempted_at timestamptz NOT NULL,
      PRIMARY KEY (delivery_id, attempt)
    )`);
    for (const sql of messagingTablesSql('delivery')) await q.query(sql);
    await q.query(processedEventsAgeIndexSql('delivery'));
  }

  async down(q: QueryRunner): Promise<void> {
    for (const sql of dropMessagingTablesSql('delivery')) await q.query(sql);
    for (const t of ['delivery_attempts', 'deliveries', 'events', 'endpoints']) await q.query(`DROP TABLE "delivery".${t}`);
  }
}
