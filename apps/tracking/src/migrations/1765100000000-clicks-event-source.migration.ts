import { MigrationInterface, QueryRunner } from 'typeorm';
import { dropTableRelayCursorsSql, tableRelayCursorsSql, tableRelayIndexSql } from '@trackly/messaging';

/**
 * One row per click is the click edge's whole synchronous write: the clicks table itself is the source of the
 * ClickRecorded events (TableRelay, docs/click-edge.md), so a click no longer writes an outbox row nor updates its
 * message's counters. Each new click row carries the id of the transaction that wrote it (`xid`) and an insertion
 * sequence (`seq`), read in that order by the relay behind the snapshot's xmin, and the request id its event carries.
 *
 * Expand only: rows written before (and by old replicas during a rolling upgrade) keep `xid` NULL, so the relay never
 * reads them (their events went through the outbox); `first_click_on_message` defaults to false for new rows (the
 * flag is now derived, see click-events.ts); messages.click_count and first_clicked_at are no longer maintained and
 * are dropped in a later release, once no replica of the old version writes them.
 */
export class ClicksEventSource1765100000000 implements MigrationInterface {
  name = 'ClicksEventSource1765100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE SEQUENCE "tracking".clicks_seq`);
    // No default at ADD COLUMN: existing rows stay NULL without rewriting the table.
    await q.query(`ALTER TABLE "tracking".clicks
      ADD COLUMN xid xid8,
      ADD COLUMN seq bigint,
      ADD COLUMN request_id text,
      ALTER COLUMN first_click_on_message SET DEFAULT false`);
    await q.query(`ALTER TABLE "tracking".clicks ALTER COLUMN seq SET DEFAULT nextval('"tracking".clicks_seq')`);
    await q.query(`ALTER SEQUENCE "tracking".clicks_seq OWNED BY "tracking".clicks.seq`);
    await q.query(tableRelayIndexSql('"tracking".clicks', 'clicks_relay_order_idx'));
    for (const sql of tableRelayCursorsSql('tracking')) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const sql of dropTableRelayCursorsSql('tracking')) await q.query(sql);
    await q.query(`DROP INDEX "tracking".clicks_relay_order_idx`);
    await q.query(`ALTER TABLE "tracking".clicks DROP COLUMN xid, DROP COLUMN seq, DROP COLUMN request_id, ALTER COLUMN first_click_on_message DROP DEFAULT`);
  }
}
