import { MigrationInterface, QueryRunner } from 'typeorm';

const ACTIVITY = ['activity_rollup', 'cohort_activity_rollup'] as const;
const REVENUE = ['revenue_rollup', 'cohort_revenue_rollup'] as const;
const DIMS = 'campaign_id, creative_id, offer_id';
const ACTIVITY_MEASURES = 'sends, clicks, unique_clicks';
const REVENUE_MEASURES = 'conversions, reversed_conversions, approved_micros, pending_micros, reversed_micros';
const total = (table: string) => table.replace(/_rollup$/, '_total_rollup');

/**
 * Report latency at 10 M clicks (docs/reports.md, Benchmark).
 * - A weekly grain (10080 minutes): a 30-day report reads ~3 weekly and ~9 daily rows per group, not 30 daily ones.
 * - The rollups' primary keys carry the measures (INCLUDE): a report reads its (grain, bucket) ranges with
 *   index-only scans instead of one heap page per row, which made non-UTC reports 3-4x slower than UTC ones. The
 *   price: a rollup increment now writes new index entries (no HOT update), as any covering index would cost.
 * - Totals per bucket with no dimension (`*_total_rollup`), kept in the same transaction as the dimensional rows:
 *   a by-date report in a zone whose midnight is not a UTC midnight reads ~24 hourly rows per day instead of 24 per
 *   day per creative.
 */
export class ReportingCoveringRollupsAndTotals1764700000000 implements MigrationInterface {
  name = 'ReportingCoveringRollupsAndTotals1764700000000';

  async up(q: QueryRunner): Promise<void> {
    for (const [tables, key, measures] of [
      [ACTIVITY, `grain, bucket, ${DIMS}`, ACTIVITY_MEASURES],
      [REVENUE, `grain, bucket, ${DIMS}, currency`, REVENUE_MEASURES],
    ] as const) {
      for (const t of tables) {
        await q.query(`ALTER TABLE "reporting".${t} DROP CONSTRAINT "${t}_pkey",
          ADD CONSTRAINT "${t}_pkey" PRIMARY KEY (${key}) INCLUDE (${measures})`);
      }
    }
    // Weekly rows (grain 10080, weeks from the epoch's Thursday), summed from the daily ones.
    for (const [tables, key, measures] of [
      [ACTIVITY, DIMS, ACTIVITY_MEASURES],
      [REVENUE, `${DIMS}, currency`, REVENUE_MEASURES],
    ] as const) {
      for (const t of tables) {
        await q.query(`INSERT INTO "reporting".${t} (grain, bucket, ${key}, ${measures})
          SELECT 10080, date_bin(interval '10080 minutes', bucket, timestamptz '1970-01-01 00:00:00+00'), ${key},
            ${measures.split(', ').map((m) => `sum(${m})`).join(', ')}
          FROM "reporting".${t} WHERE grain = 1440 GROUP BY 2, ${key}`);
      }
    }
    for (const t of ACTIVITY) {
      await q.query(`CREATE TABLE "reporting".${total(t)} (
        grain smallint NOT NULL,
        bucket timestamptz NOT NULL,
        sends bigint NOT NULL DEFAULT 0,
        clicks bigint NOT NULL DEFAULT 0,
        unique_clicks bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (grain, bucket) INCLUDE (${ACTIVITY_MEASURES})
      )`);
      await q.query(`INSERT INTO "reporting".${total(t)} (grain, bucket, ${ACTIVITY_MEASURES})
        SELECT grain, bucket, sum(sends), sum(clicks), sum(unique_clicks) FROM "reporting".${t} GROUP BY 1, 2`);
    }
    for (const t of REVENUE) {
      await q.query(`CREATE TABLE "reporting".${total(t)} (
        grain smallint NOT NULL,
        bucket timestamptz NOT NULL,
        currency char(3) NOT NULL,
        conversions bigint NOT NULL DEFAULT 0,
        reversed_conversions bigint NOT NULL DEFAULT 0,
        approved_micros bigint NOT NULL DEFAULT 0,
        pending_micros bigint NOT NULL DEFAULT 0,
        reversed_micros bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (grain, bucket, currency) INCLUDE (${REVENUE_MEASURES})
      )`);
      await q.query(`INSERT INTO "reporting".${total(t)} (grain, bucket, currency, ${REVENUE_MEASURES})
        SELECT grain, bucket, currency, sum(conversions), sum(reversed_conversions), sum(approved_micros), sum(pending_micros),
          sum(reversed_micros)
        FROM "reporting".${t} GROUP BY 1, 2, 3`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of [...ACTIVITY, ...REVENUE]) await q.query(`DROP TABLE "reporting".${total(t)}`);
    for (const t of [...ACTIVITY, ...REVENUE]) await q.query(`DELETE FROM "reporting".${t} WHERE grain = 10080`);
    for (const [tables, key] of [
      [ACTIVITY, `grain, bucket, ${DIMS}`],
      [REVENUE, `grain, bucket, ${DIMS}, currency`],
    ] as const) {
      for (const t of tables) {
        await q.query(`ALTER TABLE "reporting".${t} DROP CONSTRAINT "${t}_pkey", ADD CONSTRAINT "${t}_pkey" PRIMARY KEY (${key})`);
      }
    }
  }
}
