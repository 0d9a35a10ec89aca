import { MigrationInterface, QueryRunner } from 'typeorm';
import { convertToPartitioned, convertToUnpartitioned } from '@trackly/database';

/**
 * The facts become tables partitioned by month on their event time, so facts past REPORTING_FACTS_RETENTION_DAYS go
 * by dropping a month (PartitionKeeper) instead of a DELETE; the rollups are untouched and kept.
 *
 * - messages (sent_at), clicks (clicked_at): keys become (message_id, sent_at) and (click_id, clicked_at). The time is
 *   fixed per id (tracking stores each send and tap once, and every MessageSent/ClickRecorded of an id, re-driven or
 *   not, carries the stored time), so the wider key still makes a re-sent event a no-op.
 * - credited_conversions, unattributed_conversions (occurred_at): keys become (partner_id, conversion_id,
 *   occurred_at); a conversion's time can change (adjustments), so one fact per conversion is kept by the projection
 *   instead (a lock on the conversion key, then an insert only where no partition holds it: projection.service.ts).
 * - received_conversions stays a plain table: an adjustment upserts it by key with a new occurred_at.
 * - Monthly, not daily: facts are read by message, contact and conversion (journeys, cohorts, corrections), which
 *   probes every partition's index: 14 months for the 400-day retention, not 400 days.
 * - Generic (`LIKE … INCLUDING ALL`, `INSERT … SELECT *`): every column these tables have when it runs is carried
 *   over, whichever earlier migration added it.
 */
const FACTS = [
  { table: 'messages', column: 'sent_at', key: ['message_id'] },
  { table: 'clicks', column: 'clicked_at', key: ['click_id'] },
  { table: 'credited_conversions', column: 'occurred_at', key: ['partner_id', 'conversion_id'] },
  { table: 'unattributed_conversions', column: 'occurred_at', key: ['partner_id', 'conversion_id'] },
];

export class ReportingFactsPartitioned1765710000001 implements MigrationInterface {
  name = 'ReportingFactsPartitioned1765710000001';

  async up(q: QueryRunner): Promise<void> {
    for (const f of FACTS) await convertToPartitioned(q, { schema: 'reporting', table: f.table, column: f.column, granularity: 'month' });
  }

  async down(q: QueryRunner): Promise<void> {
    for (const f of FACTS) await convertToUnpartitioned(q, { schema: 'reporting', table: f.table, primaryKey: f.key });
  }
}
