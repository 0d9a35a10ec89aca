import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The first-click rule (click-events.ts) asks, for each click the relay or GetClick reads, whether a HUMAN click of
 * the same message comes before it: a row from before xid was recorded, or one below it in (xid, seq) order. Through
 * the plain message_id index that was a bitmap scan fetching every click of the message from the heap and filtering
 * there, so a click's read cost as much as its message had clicks (a link tapped hundreds of times made each later
 * tap's read hundreds of heap fetches; in the click bench the relay's reads cost more database CPU than the taps'
 * INSERTs). This partial index holds the message's HUMAN clicks in exactly that order (rows without xid first), so
 * the rule's EXISTS reads the message's first entry and, for a repeat click, stops there, from the index alone.
 * GetMessage's count and first click filter on HUMAN too and read the same order, so the index replaces the
 * message_id index: the click's INSERT still maintains one index on message_id, and PREVIEW/BOT hits skip it.
 *
 * Built without blocking the click edge: the parent's index is created ON ONLY (invalid), each partition's index
 * CONCURRENTLY (outside a transaction) and attached; the parent's index turns valid once every partition has one.
 * Partitions created later (the partition job) get it from the parent. Each step is repeatable if a run stops
 * halfway: an invalid leftover of a failed CONCURRENTLY build is dropped and built again.
 */
export class TrackingClicksFirstClickIndex1765900000000 implements MigrationInterface {
  name = 'TrackingClicksFirstClickIndex1765900000000';
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX IF NOT EXISTS clicks_message_human_idx ON ONLY "tracking".clicks (message_id, xid NULLS FIRST, seq NULLS FIRST) WHERE click_class = 'HUMAN'`);
    const parts: { name: string }[] = await q.query(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = '"tracking".clicks'::regclass ORDER BY c.relname`,
    );
    for (const { name } of parts) {
      const index = `${name}_message_human_idx`;
      const [existing]: { valid: boolean; attached: boolean }[] = await q.query(
        `SELECT x.indisvalid AS valid,
                EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = x.indexrelid AND h.inhparent = '"tracking".clicks_message_human_idx'::regclass) AS attached
         FROM pg_index x WHERE x.indexrelid = to_regclass($1)`,
        [`"tracking".${index}`],
      );
      if (existing?.attached) continue;
      if (existing && !existing.valid) await q.query(`DROP INDEX CONCURRENTLY "tracking".${index}`);
      if (!existing?.valid) {
        await q.query(`CREATE INDEX CONCURRENTLY ${index} ON "tracking".${name} (message_id, xid NULLS FIRST, seq NULLS FIRST) WHERE click_class = 'HUMAN'`);
      }
      await q.query(`ALTER INDEX "tracking".clicks_message_human_idx ATTACH PARTITION "tracking".${index}`);
    }
    // Only once the new index serves every partition (valid), so no read is ever left without one.
    const [{ valid }]: { valid: boolean }[] = await q.query(
      `SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = '"tracking".clicks_message_human_idx'::regclass`,
    );
    if (!valid) throw new Error('tracking.clicks_message_human_idx is not valid after attaching every partition\'s index; run the migration again');
    await q.query(`DROP INDEX IF EXISTS "tracking"."IDX_clicks_message_id"`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX IF NOT EXISTS "IDX_clicks_message_id" ON "tracking".clicks (message_id)`);
    await q.query(`DROP INDEX IF EXISTS "tracking".clicks_message_human_idx`);
  }
}
