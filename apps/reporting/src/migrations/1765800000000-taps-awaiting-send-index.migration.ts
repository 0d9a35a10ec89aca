import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A send joins to its cohort the taps stored before it (cohort_at NULL). Such taps are rare (a ClickRecorded carries
 * its send's time), but the join ran against every tap: with no index on cohort_at the planner scanned each month of
 * clicks for the few NULLs, 200 ms per group of 500 sends at 1.5 M stored clicks (EXPLAIN ANALYZE) where the send
 * itself costs ~10 ms. This partial index holds only the taps still waiting for their send, so the join is a probe
 * of a nearly empty index. The predicate is the projection's (tapSql, domain/engagement.ts) as it is today, written
 * out so this migration never changes. Credited conversions need none: their (cohort_at) index already finds NULLs.
 */
export class ReportingTapsAwaitingSendIndex1765800000000 implements MigrationInterface {
  name = 'ReportingTapsAwaitingSendIndex1765800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE INDEX "IDX_reporting_clicks_awaiting_send" ON "reporting".clicks (message_id) WHERE cohort_at IS NULL AND click_class IN ('HUMAN', 'UNSPECIFIED')`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "reporting"."IDX_reporting_clicks_awaiting_send"`);
  }
}
