import { MigrationInterface, QueryRunner } from 'typeorm';
import { convertToPartitioned, convertToUnpartitioned } from '@trackly/database';

/**
 * The raw postback archive (ingest.postback_requests) becomes a table partitioned by month on received_at, so
 * requests past INGEST_ARCHIVE_RETENTION_DAYS go by dropping a month (PartitionKeeper) instead of a DELETE.
 *
 * - Monthly, not daily: the archive is small (≈ 300,000 requests, ≈ 100 MB a day at the sizing target) and is read
 *   and updated by id alone (the outcome of a request, a replay's original), which probes every partition's key
 *   index: 14 monthly partitions for the 400-day retention, not 400 daily ones. A month is also the grain partners'
 *   disputes and replays are asked in.
 * - The key must hold the partition key: (id, received_at). Ids still come from the one sequence, so they stay unique.
 * - The two foreign keys that pointed at the archive's id go: a key to a partitioned table must hold its partition
 *   key, and a month dropped past the retention must not be blocked by (nor cascade to) the adjustments and replays
 *   that name its requests. conversion_adjustments.postback_request_id and postback_requests.replay_of stay as plain
 *   ids; one that no longer resolves means "no longer archived".
 * - Every row is copied (generic: every column there is when this runs); the table is locked while it is copied
 *   (docs/scaling.md has the measured time per million rows).
 */
export class IngestPostbackArchivePartitioned1765710000000 implements MigrationInterface {
  name = 'IngestPostbackArchivePartitioned1765710000000';

  async up(q: QueryRunner): Promise<void> {
    const referencing: { on: string; name: string }[] = await q.query(
      `SELECT conrelid::regclass::text AS on, conname AS name FROM pg_constraint WHERE contype = 'f' AND confrelid = '"ingest".postback_requests'::regclass`,
    );
    for (const r of referencing) await q.query(`ALTER TABLE ${r.on} DROP CONSTRAINT "${r.name}"`);
    await convertToPartitioned(q, { schema: 'ingest', table: 'postback_requests', column: 'received_at', granularity: 'month' });
  }

  async down(q: QueryRunner): Promise<void> {
    await convertToUnpartitioned(q, { schema: 'ingest', table: 'postback_requests', primaryKey: ['id'] });
    // NOT VALID: requests dropped past the retention may still be named.
    await q.query(`ALTER TABLE "ingest".postback_requests ADD CONSTRAINT postback_requests_replay_of_fkey FOREIGN KEY (replay_of) REFERENCES "ingest".postback_requests (id) NOT VALID`);
    await q.query(`ALTER TABLE "ingest".conversion_adjustments ADD CONSTRAINT conversion_adjustments_postback_request_id_fkey
      FOREIGN KEY (postback_request_id) REFERENCES "ingest".postback_requests (id) NOT VALID`);
  }
}
