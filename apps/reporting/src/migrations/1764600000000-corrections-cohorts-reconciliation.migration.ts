import { MigrationInterface, QueryRunner } from 'typeorm';

const GRAINS = [15, 60, 1440];
const DIMS = 'campaign_id, creative_id, offer_id';

/** The rollup bucket of `col` at grain g (minutes), aligned to the Unix epoch like the projection's. */
const bucket = (col: string, g: number) => `date_bin(interval '${g} minutes', ${col}, timestamptz '1970-01-01 00:00:00+00')`;
const eachGrain = (select: (g: number) => string) => GRAINS.map(select).join(' UNION ALL ');

/**
 * Corrections, click classes, send-date cohorts and the received side of reconciliation.
 * - Rollups gain a grain (15 minutes, 1 hour, 1 UTC day): reports read the coarsest rows that fit in the range.
 * - Cohort rollups count clicks and conversions on their message's send time (`cohort_at` on the fact, set once
 *   the send time is known, from the click event or the MessageSent, whichever comes first).
 * - Conversions now count approved or pending only; reversed ones are counted apart.
 * The rollups are rebuilt from the fact tables, which hold everything they are derived from.
 */
export class ReportingCorrectionsCohortsReconciliation1764600000000 implements MigrationInterface {
  name = 'ReportingCorrectionsCohortsReconciliation1764600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "reporting".clicks ADD COLUMN click_class text NOT NULL DEFAULT 'HUMAN',
      ADD COLUMN cohort_at timestamptz`);
    await q.query(`ALTER TABLE "reporting".credited_conversions ADD COLUMN cohort_at timestamptz`);
    await q.query(`UPDATE "reporting".clicks c SET cohort_at = m.sent_at FROM "reporting".messages m WHERE m.message_id = c.message_id`);
    await q.query(`UPDATE "reporting".credited_conversions c SET cohort_at = m.sent_at FROM "reporting".messages m WHERE m.message_id = c.message_id`);
    await q.query(`CREATE INDEX "IDX_reporting_credited_occurred_at" ON "reporting".credited_conversions (occurred_at)`);
    await q.query(`CREATE INDEX "IDX_reporting_unattributed_occurred_at" ON "reporting".unattributed_conversions (occurred_at)`);
    // Cohort maturity reads a send cohort's conversions by their message's send time.
    await q.query(`CREATE INDEX "IDX_reporting_credited_cohort_at" ON "reporting".credited_conversions (cohort_at)`);
    await q.query(`CREATE TABLE "reporting".received_conversions (
      partner_id text NOT NULL,
      conversion_id text NOT NULL,
      payout_micros bigint NOT NULL,
      currency char(3) NOT NULL,
      status text NOT NULL,
      occurred_at timestamptz NOT NULL,
      received_at timestamptz NOT NULL,
      PRIMARY KEY (partner_id, conversion_id)
    )`);
    await q.query(`CREATE INDEX "IDX_reporting_received_occurred_at" ON "reporting".received_conversions (occurred_at)`);
    // Corrections and adjustments carry their own ids: each is applied once, whatever event id brings it.
    await q.query(`CREATE TABLE "reporting".applied_changes (
      kind text NOT NULL CHECK (kind IN ('correction', 'adjustment')),
      change_id text NOT NULL,
      partner_id text NOT NULL,
      conversion_id text NOT NULL,
      cause text NOT NULL,
      PRIMARY KEY (kind, change_id)
    )`);

    await q.query(`DROP TABLE "reporting".activity_rollup`);
    await q.query(`DROP TABLE "reporting".revenue_rollup`);
    for (const prefix of ['', 'cohort_']) {
      await q.query(`CREATE TABLE "reporting".${prefix}activity_rollup (
        grain smallint NOT NULL,
        bucket timestamptz NOT NULL,
        campaign_id text NOT NULL,
        creative_id text NOT NULL,
        offer_id text NOT NULL,
        sends bigint NOT NULL DEFAULT 0,
        clicks bigint NOT NULL DEFAULT 0,
        unique_clicks bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (grain, bucket, campaign_id, creative_id, offer_id)
      )`);
      await q.query(`CREATE TABLE "reporting".${prefix}revenue_rollup (
        grain smallint NOT NULL,
        bucket timestamptz NOT NULL,
        campaign_id text NOT NULL,
        creative_id text NOT NULL,
        offer_id text NOT NULL,
        currency char(3) NOT NULL,
        conversions bigint NOT NULL DEFAULT 0,
        reversed_conversions bigint NOT NULL DEFAULT 0,
        approved_micros bigint NOT NULL DEFAULT 0,
        pending_micros bigint NOT NULL DEFAULT 0,
        reversed_micros bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (grain, bucket, campaign_id, creative_id, offer_id, currency)
      )`);
    }

    const human = `click_class IN ('HUMAN', 'UNSPECIFIED')`;
    await q.query(`INSERT INTO "reporting".activity_rollup (grain, bucket, ${DIMS}, sends, clicks, unique_clicks)
      SELECT grain, bucket, ${DIMS}, sum(sends), sum(clicks), sum(unique_clicks) FROM (
        ${eachGrain((g) => `SELECT ${g} AS grain, ${bucket('sent_at', g)} AS bucket, ${DIMS}, 1 AS sends, 0 AS clicks, 0 AS unique_clicks FROM "reporting".messages`)}
        UNION ALL
        ${eachGrain((g) => `SELECT ${g}, ${bucket('clicked_at', g)}, ${DIMS}, 0, 1, first_click_on_message::int FROM "reporting".clicks WHERE ${human}`)}
      ) x GROUP BY 1, 2, 3, 4, 5`);
    await q.query(`INSERT INTO "reporting".cohort_activity_rollup (grain, bucket, ${DIMS}, clicks, unique_clicks)
      SELECT grain, bucket, ${DIMS}, count(*), count(*) FILTER (WHERE first_click_on_message) FROM (
        ${eachGrain((g) => `SELECT ${g} AS grain, ${bucket('cohort_at', g)} AS bucket, ${DIMS}, first_click_on_message FROM "reporting".clicks WHERE ${human} AND cohort_at IS NOT NULL`)}
      ) x GROUP BY 1, 2, 3, 4, 5`);
    for (const [table, col] of [['revenue_rollup', 'occurred_at'], ['cohort_revenue_rollup', 'cohort_at']]) {
      await q.query(`INSERT INTO "reporting".${table}
          (grain, bucket, ${DIMS}, currency, conversions, reversed_conversions, approved_micros, pending_micros, reversed_micros)
        SELECT grain, bucket, ${DIMS}, currency,
          count(*) FILTER (WHERE status <> 'reversed'), count(*) FILTER (WHERE status = 'reversed'),
          coalesce(sum(payout_micros) FILTER (WHERE status = 'approved'), 0),
          coalesce(sum(payout_micros) FILTER (WHERE status = 'pending'), 0),
          coalesce(sum(payout_micros) FILTER (WHERE status = 'reversed'), 0)
        FROM (
          ${eachGrain((g) => `SELECT ${g} AS grain, ${bucket(col, g)} AS bucket, ${DIMS}, currency, status, payout_micros FROM "reporting".credited_conversions WHERE ${col} IS NOT NULL`)}
        ) x GROUP BY 1, 2, 3, 4, 5, 6`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['cohort_revenue_rollup', 'cohort_activity_rollup', 'revenue_rollup', 'activity_rollup', 'applied_changes', 'received_conversions']) {
      await q.query(`DROP TABLE "reporting".${t}`);
    }
    await q.query(`DROP INDEX "reporting"."IDX_reporting_credited_cohort_at"`);
    await q.query(`DROP INDEX "reporting"."IDX_reporting_unattributed_occurred_at"`);
    await q.query(`DROP INDEX "reporting"."IDX_reporting_credited_occurred_at"`);
    await q.query(`ALTER TABLE "reporting".credited_conversions DROP COLUMN cohort_at`);
    await q.query(`ALTER TABLE "reporting".clicks DROP COLUMN cohort_at, DROP COLUMN click_class`);
    // The single-grain rollups of the first migration, rebuilt from the facts.
    await q.query(`CREATE TABLE "reporting".activity_rollup (
      bucket timestamptz NOT NULL, campaign_id text NOT NULL, creative_id text NOT NULL, offer_id text NOT NULL,
      sends bigint NOT NULL DEFAULT 0, clicks bigint NOT NULL DEFAULT 0, unique_clicks bigint NOT NULL DEFAULT 0,
      PRIMARY KEY (bucket, campaign_id, creative_id, offer_id))`);
    await q.query(`CREATE TABLE "reporting".revenue_rollup (
      bucket timestamptz NOT NULL, campaign_id text NOT NULL, creative_id text NOT NULL, offer_id text NOT NULL, currency char(3) NOT NULL,
      conversions bigint NOT NULL DEFAULT 0, approved_micros bigint NOT NULL DEFAULT 0, pending_micros bigint NOT NULL DEFAULT 0,
      reversed_micros bigint NOT NULL DEFAULT 0,
      PRIMARY KEY (bucket, campaign_id, creative_id, offer_id, currency))`);
    await q.query(`INSERT INTO "reporting".activity_rollup (bucket, ${DIMS}, sends, clicks, unique_clicks)
      SELECT bucket, ${DIMS}, sum(s), sum(c), sum(u) FROM (
        SELECT ${bucket('sent_at', 15)} AS bucket, ${DIMS}, 1 AS s, 0 AS c, 0 AS u FROM "reporting".messages
        UNION ALL SELECT ${bucket('clicked_at', 15)}, ${DIMS}, 0, 1, first_click_on_message::int FROM "reporting".clicks) x
      GROUP BY 1, 2, 3, 4`);
    await q.query(`INSERT INTO "reporting".revenue_rollup (bucket, ${DIMS}, currency, conversions, approved_micros, pending_micros, reversed_micros)
      SELECT ${bucket('occurred_at', 15)}, ${DIMS}, currency, count(*),
        coalesce(sum(payout_micros) FILTER (WHERE status = 'approved'), 0),
        coalesce(sum(payout_micros) FILTER (WHERE status = 'pending'), 0),
        coalesce(sum(payout_micros) FILTER (WHERE status = 'reversed'), 0)
      FROM "reporting".credited_conversions GROUP BY 1, 2, 3, 4, 5`);
  }
}
