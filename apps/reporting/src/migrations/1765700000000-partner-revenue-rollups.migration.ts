import { MigrationInterface, QueryRunner } from 'typeorm';

const REVENUE = [
  ['revenue_rollup', 'occurred_at'],
  ['cohort_revenue_rollup', 'cohort_at'],
] as const;
const MEASURES = 'conversions, reversed_conversions, approved_micros, pending_micros, reversed_micros';
const GRAINS = [15, 60, 1440, 10080];
const bucket = (col: string, g: number) => `date_bin(interval '${g} minutes', ${col}, timestamptz '1970-01-01 00:00:00+00')`;

/** The revenue rollup `table` refilled from the credited facts (tests never in a rollup), at every grain, keyed by `dims`. */
async function refill(q: QueryRunner, table: string, col: string, dims: string): Promise<void> {
  await q.query(`TRUNCATE "reporting".${table}`);
  // Every grain straight from the facts: a migration is run once, and its SQL stays what it was when written.
  for (const g of GRAINS) {
    await q.query(`INSERT INTO "reporting".${table} (grain, bucket, ${dims}, currency, ${MEASURES})
      SELECT ${g}, ${bucket(col, g)}, ${dims}, currency,
        count(*) FILTER (WHERE status <> 'reversed'), count(*) FILTER (WHERE status = 'reversed'),
        coalesce(sum(payout_micros) FILTER (WHERE status = 'approved'), 0),
        coalesce(sum(payout_micros) FILTER (WHERE status = 'pending'), 0),
        coalesce(sum(payout_micros) FILTER (WHERE status = 'reversed'), 0)
      FROM "reporting".credited_conversions WHERE ${col} IS NOT NULL AND NOT test
      GROUP BY ${['1', '2', ...dims.split(', ').map((_, i) => String(i + 3)), String(dims.split(', ').length + 3)].join(', ')}`);
  }
}

/**
 * The partner dimension of the performance report (issue 17): the conversions' rollups (revenue_rollup and its
 * send-date cohort twin) are keyed by the reporting partner too, so a report grouped or filtered by partner reads the
 * same index-only (grain, bucket) ranges as every other report, and corrections move the partner's row like any
 * other (the partner of a conversion never changes: it is half of its key). Sends and taps have no partner, so the
 * activity rollups and the per-bucket totals stay as they are. The rollups are refilled from the credited facts,
 * which they are by definition the sum of (projection.service.ts; docs/reports.md).
 */
export class ReportingPartnerRevenueRollups1765700000000 implements MigrationInterface {
  name = 'ReportingPartnerRevenueRollups1765700000000';

  async up(q: QueryRunner): Promise<void> {
    for (const [table, col] of REVENUE) {
      await q.query(`ALTER TABLE "reporting".${table} ADD COLUMN partner_id text NOT NULL DEFAULT ''`);
      await q.query(`ALTER TABLE "reporting".${table} DROP CONSTRAINT "${table}_pkey",
        ADD CONSTRAINT "${table}_pkey" PRIMARY KEY (grain, bucket, campaign_id, creative_id, offer_id, partner_id, currency) INCLUDE (${MEASURES})`);
      await refill(q, table, col, 'campaign_id, creative_id, offer_id, partner_id');
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const [table, col] of REVENUE) {
      await q.query(`TRUNCATE "reporting".${table}`);
      await q.query(`ALTER TABLE "reporting".${table} DROP CONSTRAINT "${table}_pkey",
        ADD CONSTRAINT "${table}_pkey" PRIMARY KEY (grain, bucket, campaign_id, creative_id, offer_id, currency) INCLUDE (${MEASURES})`);
      await q.query(`ALTER TABLE "reporting".${table} DROP COLUMN partner_id`);
      await refill(q, table, col, 'campaign_id, creative_id, offer_id');
    }
  }
}
