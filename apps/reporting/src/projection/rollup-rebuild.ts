/**
 * Rebuilds every rollup from the fact tables in a few set-based statements: for facts loaded in bulk (the
 * benchmark's COPY, seeded tests) and for repairs. Events never need it: the projection keeps rollups current.
 * The statements match what ProjectionService adds per event; tests compare the two.
 */
import { GRAINS } from '../domain/facts';

const DIMS = 'campaign_id, creative_id, offer_id';
const HUMAN = `click_class IN ('HUMAN', 'UNSPECIFIED')`;
const bucket = (col: string, g: number) => `date_bin(interval '${g} minutes', ${col}, timestamptz '1970-01-01 00:00:00+00')`;
const eachGrain = (select: (g: number) => string) => GRAINS.map(select).join(' UNION ALL ');

export function rebuildRollupsSql(): string[] {
  const revenue = (table: string, col: string) => `INSERT INTO "reporting".${table}
      (grain, bucket, ${DIMS}, currency, conversions, reversed_conversions, approved_micros, pending_micros, reversed_micros)
    SELECT grain, bucket, ${DIMS}, currency,
      count(*) FILTER (WHERE status <> 'reversed'), count(*) FILTER (WHERE status = 'reversed'),
      coalesce(sum(payout_micros) FILTER (WHERE status = 'approved'), 0),
      coalesce(sum(payout_micros) FILTER (WHERE status = 'pending'), 0),
      coalesce(sum(payout_micros) FILTER (WHERE status = 'reversed'), 0)
    FROM (${eachGrain((g) => `SELECT ${g} AS grain, ${bucket(col, g)} AS bucket, ${DIMS}, currency, status, payout_micros
      FROM "reporting".credited_conversions WHERE ${col} IS NOT NULL`)}) x
    GROUP BY 1, 2, 3, 4, 5, 6`;
  return [
    `UPDATE "reporting".clicks c SET cohort_at = m.sent_at FROM "reporting".messages m
      WHERE m.message_id = c.message_id AND c.cohort_at IS NULL AND c.${HUMAN}`,
    `UPDATE "reporting".credited_conversions c SET cohort_at = m.sent_at FROM "reporting".messages m
      WHERE m.message_id = c.message_id AND c.cohort_at IS NULL`,
    `TRUNCATE "reporting".activity_rollup, "reporting".revenue_rollup, "reporting".cohort_activity_rollup, "reporting".cohort_revenue_rollup`,
    `INSERT INTO "reporting".activity_rollup (grain, bucket, ${DIMS}, sends, clicks, unique_clicks)
      SELECT grain, bucket, ${DIMS}, sum(sends), sum(clicks), sum(unique_clicks) FROM (
        ${eachGrain((g) => `SELECT ${g} AS grain, ${bucket('sent_at', g)} AS bucket, ${DIMS}, 1 AS sends, 0 AS clicks, 0 AS unique_clicks FROM "reporting".messages`)}
        UNION ALL
        ${eachGrain((g) => `SELECT ${g}, ${bucket('clicked_at', g)}, ${DIMS}, 0, 1, first_click_on_message::int FROM "reporting".clicks WHERE ${HUMAN}`)}
      ) x GROUP BY 1, 2, 3, 4, 5`,
    `INSERT INTO "reporting".cohort_activity_rollup (grain, bucket, ${DIMS}, clicks, unique_clicks)
      SELECT grain, bucket, ${DIMS}, count(*), count(*) FILTER (WHERE first_click_on_message) FROM (
        ${eachGrain((g) => `SELECT ${g} AS grain, ${bucket('cohort_at', g)} AS bucket, ${DIMS}, first_click_on_message
          FROM "reporting".clicks WHERE ${HUMAN} AND cohort_at IS NOT NULL`)}
      ) x GROUP BY 1, 2, 3, 4, 5`,
    revenue('revenue_rollup', 'occurred_at'),
    revenue('cohort_revenue_rollup', 'cohort_at'),
  ];
}
