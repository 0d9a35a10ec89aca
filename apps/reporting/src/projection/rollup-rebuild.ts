/**
 * Rebuilds every rollup from the fact tables in a few set-based statements: for facts loaded in bulk (the
 * benchmark's COPY, seeded tests) and for repairs. Events never need it: the projection keeps rollups current.
 * The statements match what ProjectionService adds per event; tests compare the two.
 */
import { GRAINS } from '../domain/facts';
import { engagementsSql, tapSql } from '../domain/engagement';

const DIMS = 'campaign_id, creative_id, offer_id';
const HUMAN = tapSql();
// Rollup columns: clicks are taps (people's clicks), unique_clicks engagements (first taps, domain/engagement.ts).
const ACTIVITY = 'sends, clicks, unique_clicks';
const REVENUE = 'conversions, reversed_conversions, approved_micros, pending_micros, reversed_micros';
const [BASE, ...COARSER] = GRAINS;
/** SQL: the rollup bucket of `col` at `grain` minutes (an SQL expression): as rollupBuckets bins it (domain/facts.ts). */
export const binSql = (col: string, grain: string | number) => `date_bin(${grain} * interval '1 minute', ${col}, timestamptz '1970-01-01 00:00:00+00')`;
const bucket = (col: string, g: number) => binSql(col, g);
const total = (table: string) => table.replace(/_rollup$/, '_total_rollup');
const sums = (columns: string) => columns.split(', ').map((c) => `sum(${c})`).join(', ');

/**
 * The coarser grains of a rollup, summed from its base-grain rows (every coarser bucket is a whole number of base
 * buckets): the facts are read once, not once per grain.
 */
const coarser = (table: string, key: string, measures: string) => `INSERT INTO "reporting".${table} (grain, bucket, ${key}, ${measures})
  SELECT g.grain, date_bin(g.grain * interval '1 minute', r.bucket, timestamptz '1970-01-01 00:00:00+00'), ${key.replace(/\w+/g, 'r.$&')},
    ${sums(measures)}
  FROM "reporting".${table} r CROSS JOIN unnest('{${COARSER.join(',')}}'::smallint[]) AS g(grain)
  WHERE r.grain = ${BASE} GROUP BY 1, 2, ${key.split(', ').map((_, i) => i + 3).join(', ')}`;

// Conversions' rollups also carry the reporting partner (sends and taps have none).
const REVENUE_DIMS = `${DIMS}, partner_id`;

/** A revenue rollup's base-grain rows from the credited facts (tests never in a rollup), then its coarser grains. */
export function revenueRollupSql(table: string, col: string): string[] {
  return [
    `INSERT INTO "reporting".${table} (grain, bucket, ${REVENUE_DIMS}, currency, ${REVENUE})
    SELECT ${BASE}, ${bucket(col, BASE)}, ${REVENUE_DIMS}, currency,
      count(*) FILTER (WHERE status <> 'reversed'), count(*) FILTER (WHERE status = 'reversed'),
      coalesce(sum(payout_micros) FILTER (WHERE status = 'approved'), 0),
      coalesce(sum(payout_micros) FILTER (WHERE status = 'pending'), 0),
      coalesce(sum(payout_micros) FILTER (WHERE status = 'reversed'), 0)
    FROM "reporting".credited_conversions WHERE ${col} IS NOT NULL AND NOT test
    GROUP BY 1, 2, 3, 4, 5, 6, 7`,
    coarser(table, `${REVENUE_DIMS}, currency`, REVENUE),
  ];
}

export function rebuildRollupsSql(): string[] {
  return [
    `UPDATE "reporting".clicks c SET cohort_at = m.sent_at FROM "reporting".messages m
      WHERE m.message_id = c.message_id AND c.cohort_at IS NULL AND c.${HUMAN}`,
    `UPDATE "reporting".credited_conversions c SET cohort_at = m.sent_at FROM "reporting".messages m
      WHERE m.message_id = c.message_id AND c.cohort_at IS NULL`,
    `TRUNCATE "reporting".activity_rollup, "reporting".revenue_rollup, "reporting".cohort_activity_rollup, "reporting".cohort_revenue_rollup,
      "reporting".activity_total_rollup, "reporting".revenue_total_rollup, "reporting".cohort_activity_total_rollup,
      "reporting".cohort_revenue_total_rollup`,
    `INSERT INTO "reporting".activity_rollup (grain, bucket, ${DIMS}, ${ACTIVITY})
      SELECT ${BASE}, bucket, ${DIMS}, sum(sends), sum(clicks), sum(unique_clicks) FROM (
        SELECT ${bucket('sent_at', BASE)} AS bucket, ${DIMS}, 1 AS sends, 0 AS clicks, 0 AS unique_clicks FROM "reporting".messages
        UNION ALL
        SELECT ${bucket('clicked_at', BASE)}, ${DIMS}, 0, 1, 0 FROM "reporting".clicks WHERE ${HUMAN}
        UNION ALL
        SELECT ${bucket('clicked_at', BASE)}, ${DIMS}, 0, 0, 1 FROM (${engagementsSql()}) e
      ) x GROUP BY 2, 3, 4, 5`,
    `INSERT INTO "reporting".cohort_activity_rollup (grain, bucket, ${DIMS}, clicks, unique_clicks)
      SELECT ${BASE}, bucket, ${DIMS}, sum(clicks), sum(unique_clicks) FROM (
        SELECT ${bucket('cohort_at', BASE)} AS bucket, ${DIMS}, 1 AS clicks, 0 AS unique_clicks FROM "reporting".clicks WHERE ${HUMAN} AND cohort_at IS NOT NULL
        UNION ALL
        SELECT ${bucket('cohort_at', BASE)}, ${DIMS}, 0, 1 FROM (${engagementsSql()}) e WHERE cohort_at IS NOT NULL
      ) x GROUP BY 2, 3, 4, 5`,
    ...revenueRollupSql('revenue_rollup', 'occurred_at'),
    ...revenueRollupSql('cohort_revenue_rollup', 'cohort_at'),
    coarser('activity_rollup', DIMS, ACTIVITY),
    coarser('cohort_activity_rollup', DIMS, ACTIVITY),
    // Totals per bucket are the dimensional rows summed (every grain), as the projection adds each event to both.
    ...['activity_rollup', 'cohort_activity_rollup'].map(
      (t) => `INSERT INTO "reporting".${total(t)} (grain, bucket, ${ACTIVITY})
        SELECT grain, bucket, ${sums(ACTIVITY)} FROM "reporting".${t} GROUP BY 1, 2`,
    ),
    ...['revenue_rollup', 'cohort_revenue_rollup'].map(
      (t) => `INSERT INTO "reporting".${total(t)} (grain, bucket, currency, ${REVENUE})
        SELECT grain, bucket, currency, ${sums(REVENUE)} FROM "reporting".${t} GROUP BY 1, 2, 3`,
    ),
  ];
}
