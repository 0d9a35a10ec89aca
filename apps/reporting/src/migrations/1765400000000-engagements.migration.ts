import { MigrationInterface, QueryRunner } from 'typeorm';
import { engagementsSql } from '../domain/engagement';
import { GRAINS } from '../domain/facts';

const DIMS = 'campaign_id, creative_id, offer_id';
const bucket = (col: string) => `date_bin(g.grain * interval '1 minute', e.${col}, timestamptz '1970-01-01 00:00:00+00')`;

/**
 * The rollups' unique_clicks become engagements (the first person's tap of each message, domain/engagement.ts) instead
 * of tracking's first_click_on_message (the first click of any class, which a link preview could take): recounted
 * from the click facts at every grain, with the same SQL the projection and the rebuild use. Taps (clicks) are
 * unchanged.
 */
export class ReportingEngagements1765400000000 implements MigrationInterface {
  name = 'ReportingEngagements1765400000000';

  async up(q: QueryRunner): Promise<void> {
    const grains = `unnest('{${GRAINS.join(',')}}'::smallint[]) AS g(grain)`;
    for (const [table, col] of [['activity_rollup', 'clicked_at'], ['cohort_activity_rollup', 'cohort_at']] as const) {
      await q.query(`UPDATE "reporting".${table} SET unique_clicks = 0 WHERE unique_clicks <> 0`);
      await q.query(`INSERT INTO "reporting".${table} AS r (grain, bucket, ${DIMS}, unique_clicks)
        SELECT g.grain, ${bucket(col)}, e.campaign_id, e.creative_id, e.offer_id, count(*)
        FROM (${engagementsSql()}) e CROSS JOIN ${grains} WHERE e.${col} IS NOT NULL GROUP BY 1, 2, 3, 4, 5
        ON CONFLICT (grain, bucket, ${DIMS}) DO UPDATE SET unique_clicks = EXCLUDED.unique_clicks`);
      const total = table.replace(/_rollup$/, '_total_rollup');
      await q.query(`UPDATE "reporting".${total} SET unique_clicks = 0 WHERE unique_clicks <> 0`);
      await q.query(`INSERT INTO "reporting".${total} AS r (grain, bucket, unique_clicks)
        SELECT grain, bucket, sum(unique_clicks) FROM "reporting".${table} GROUP BY 1, 2 HAVING sum(unique_clicks) <> 0
        ON CONFLICT (grain, bucket) DO UPDATE SET unique_clicks = EXCLUDED.unique_clicks`);
    }
  }

  async down(): Promise<void> {
    // Tracking's first-click flag is still stored: counting it again is the rebuild of the old version, not undone here.
  }
}
