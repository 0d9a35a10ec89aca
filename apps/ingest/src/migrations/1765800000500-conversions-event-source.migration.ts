import { MigrationInterface, QueryRunner } from 'typeorm';
import { dropTableRelayCursorsSql, tableRelayCursorsSql } from '@trackly/messaging';

/**
 * The conversions table becomes the source of ConversionReceived (TableRelay, as tracking's clicks): a new
 * conversion no longer writes an outbox row beside it (a second row, its publish mark and its deletion later). Each
 * row written by this version carries the id of the transaction that wrote it (`xid`), an insertion sequence
 * (`seq`), and the event as announced (`received_event`, the encoded ConversionReceived, with `event_headers`):
 * status, payout and the attribution columns change after the insert (adjustments, outcomes), the event must not.
 *
 * Safe on a live table: expand only, no rewrite (columns without a default, the sequence default set afterwards),
 * the index built CONCURRENTLY, so outside a transaction; each step is repeatable if a run stops halfway. Rows written
 * before, and by old replicas during a rolling upgrade, keep `xid` NULL: the relay never reads them, their events
 * went through the outbox.
 */
export class IngestConversionsEventSource1765800000500 implements MigrationInterface {
  name = 'IngestConversionsEventSource1765800000500';
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE SEQUENCE IF NOT EXISTS "ingest".conversions_seq`);
    await q.query(`ALTER TABLE "ingest".conversions
      ADD COLUMN IF NOT EXISTS xid xid8,
      ADD COLUMN IF NOT EXISTS seq bigint,
      ADD COLUMN IF NOT EXISTS received_event bytea,
      ADD COLUMN IF NOT EXISTS event_headers jsonb`);
    await q.query(`ALTER TABLE "ingest".conversions ALTER COLUMN seq SET DEFAULT nextval('"ingest".conversions_seq')`);
    await q.query(`ALTER SEQUENCE "ingest".conversions_seq OWNED BY "ingest".conversions.seq`);
    // A CONCURRENTLY build that failed leaves an invalid index behind: drop it and build again.
    const [idx]: { valid: boolean }[] = await q.query(
      `SELECT i.indisvalid AS valid FROM pg_index i WHERE i.indexrelid = to_regclass('"ingest".conversions_relay_order_idx')`,
    );
    if (idx && !idx.valid) await q.query(`DROP INDEX CONCURRENTLY "ingest".conversions_relay_order_idx`);
    if (!idx?.valid) await q.query(`CREATE INDEX CONCURRENTLY conversions_relay_order_idx ON "ingest".conversions (xid, seq) WHERE xid IS NOT NULL`);
    const [cursors]: { t: string | null }[] = await q.query(`SELECT to_regclass('"ingest".table_relay_cursors')::text AS t`);
    if (!cursors.t) for (const sql of tableRelayCursorsSql('ingest')) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const sql of dropTableRelayCursorsSql('ingest')) await q.query(sql);
    await q.query(`DROP INDEX CONCURRENTLY IF EXISTS "ingest".conversions_relay_order_idx`);
    await q.query(`ALTER TABLE "ingest".conversions DROP COLUMN xid, DROP COLUMN seq, DROP COLUMN received_event, DROP COLUMN event_headers`);
  }
}
