import { MigrationInterface, QueryRunner } from 'typeorm';
import { createPartitionedIndexConcurrently } from '@trackly/database';

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
 * Built without blocking the click edge (createPartitionedIndexConcurrently: the parent's index ON ONLY, each
 * partition's CONCURRENTLY and attached, resumable); the old index goes only once the new one is valid, so no read
 * is ever left without one. Partitions created later (the partition job) get it from the parent.
 */
export class TrackingClicksFirstClickIndex1765900000000 implements MigrationInterface {
  name = 'TrackingClicksFirstClickIndex1765900000000';
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    await createPartitionedIndexConcurrently(q, {
      schema: 'tracking', table: 'clicks', index: 'clicks_message_human_idx', suffix: 'message_human_idx',
      definition: `(message_id, xid NULLS FIRST, seq NULLS FIRST) WHERE click_class = 'HUMAN'`,
    });
    await q.query(`DROP INDEX IF EXISTS "tracking"."IDX_clicks_message_id"`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX IF NOT EXISTS "IDX_clicks_message_id" ON "tracking".clicks (message_id)`);
    await q.query(`DROP INDEX IF EXISTS "tracking".clicks_message_human_idx`);
  }
}
