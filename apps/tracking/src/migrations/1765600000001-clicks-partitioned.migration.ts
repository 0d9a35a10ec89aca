import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * tracking.clicks becomes a table partitioned by day on clicked_at, so clicks past their retention go by dropping a
 * day's partition (ClickPartitions, click-partitions.job.ts) instead of a DELETE of millions of rows.
 *
 * - The existing table is kept as it is and attached as the partition of everything up to the end of tomorrow (or
 *   of its latest click's day, if later): no row is copied. Its own indexes stay (including the unique first-click
 *   index of rows written before the flag was derived); the parent's indexes are matched on it.
 * - The primary key must hold the partition key: (click_id, clicked_at). Click ids are random 128-bit values issued
 *   by tracking, so they stay unique; look-ups by click_id alone probe each partition's primary key index.
 * - Daily partitions for the next 7 days are created here; the job keeps them 7 days ahead. A DEFAULT partition takes
 *   a click whose clicked_at has no partition (a clock far off), so a click is never refused for want of one.
 * - The table relay's (xid, seq) index and the time index exist on the parent (partitioned indexes), so the relay's
 *   order and re-drive ranges read as before.
 */
export class TrackingClicksPartitioned1765600000001 implements MigrationInterface {
  name = 'TrackingClicksPartitioned1765600000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "tracking".clicks RENAME TO clicks_legacy`);
    await q.query(`ALTER INDEX "tracking".clicks_pkey RENAME TO clicks_legacy_pkey`);
    await q.query(`ALTER INDEX "tracking"."IDX_clicks_message_id" RENAME TO clicks_legacy_message_id_idx`);
    await q.query(`ALTER INDEX "tracking".clicks_relay_order_idx RENAME TO clicks_legacy_relay_order_idx`);
    await q.query(`ALTER INDEX "tracking".clicks_clicked_at_idx RENAME TO clicks_legacy_clicked_at_idx`);
    await q.query(`CREATE TABLE "tracking".clicks (LIKE "tracking".clicks_legacy INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE (clicked_at)`);
    await q.query(`ALTER SEQUENCE "tracking".clicks_seq OWNED BY "tracking".clicks.seq`);
    await q.query(`ALTER TABLE "tracking".clicks ADD CONSTRAINT clicks_pkey PRIMARY KEY (click_id, clicked_at)`);
    await q.query(`CREATE INDEX "IDX_clicks_message_id" ON "tracking".clicks (message_id)`);
    await q.query(`CREATE INDEX clicks_relay_order_idx ON "tracking".clicks (xid, seq) WHERE xid IS NOT NULL`);
    await q.query(`CREATE INDEX clicks_clicked_at_idx ON "tracking".clicks (clicked_at)`);
    // The legacy table's range ends at a day boundary after every row it holds and after tomorrow.
    const [{ upper }]: { upper: string }[] = await q.query(
      `SELECT to_char(greatest(date_trunc('day', now() AT TIME ZONE 'UTC') + interval '2 days',
                               coalesce(date_trunc('day', max(clicked_at) AT TIME ZONE 'UTC') + interval '1 day', '-infinity')), 'YYYY-MM-DD') AS upper
       FROM "tracking".clicks_legacy`,
    );
    // Proven before the attach, which then neither scans the table for the range nor builds the key's index under
    // its lock (on a large table run these two CONCURRENTLY / NOT VALID + VALIDATE ahead of the migration).
    await q.query(`ALTER TABLE "tracking".clicks_legacy ADD CONSTRAINT clicks_legacy_range CHECK (clicked_at < '${upper} 00:00:00+00') NOT VALID`);
    await q.query(`ALTER TABLE "tracking".clicks_legacy VALIDATE CONSTRAINT clicks_legacy_range`);
    await q.query(`CREATE UNIQUE INDEX IF NOT EXISTS clicks_legacy_click_time_key ON "tracking".clicks_legacy (click_id, clicked_at)`);
    // The partition's primary key must be the parent's: (click_id, clicked_at) replaces (click_id), whose index the
    // new key's leading column serves.
    await q.query(`ALTER TABLE "tracking".clicks_legacy DROP CONSTRAINT clicks_legacy_pkey`);
    await q.query(`ALTER TABLE "tracking".clicks_legacy ADD CONSTRAINT clicks_legacy_pkey PRIMARY KEY USING INDEX clicks_legacy_click_time_key`);
    await q.query(`ALTER TABLE "tracking".clicks ATTACH PARTITION "tracking".clicks_legacy FOR VALUES FROM (MINVALUE) TO ('${upper} 00:00:00+00')`);
    for (let d = 0; d < 7; d++) {
      const [{ from, to, name }]: { from: string; to: string; name: string }[] = await q.query(
        `SELECT to_char($1::date + $2::int, 'YYYY-MM-DD') AS from, to_char($1::date + $2::int + 1, 'YYYY-MM-DD') AS to,
                'clicks_p' || to_char($1::date + $2::int, 'YYYYMMDD') AS name`,
        [upper, d],
      );
      await q.query(`CREATE TABLE "tracking".${name} PARTITION OF "tracking".clicks FOR VALUES FROM ('${from} 00:00:00+00') TO ('${to} 00:00:00+00')`);
    }
    await q.query(`CREATE TABLE "tracking".clicks_default PARTITION OF "tracking".clicks DEFAULT`);
  }

  async down(q: QueryRunner): Promise<void> {
    const parts: { name: string }[] = await q.query(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = '"tracking".clicks'::regclass AND c.relname <> 'clicks_legacy'`,
    );
    await q.query(`ALTER TABLE "tracking".clicks DETACH PARTITION "tracking".clicks_legacy`);
    for (const p of parts) await q.query(`INSERT INTO "tracking".clicks_legacy SELECT * FROM "tracking".${p.name}`);
    await q.query(`ALTER SEQUENCE "tracking".clicks_seq OWNED BY "tracking".clicks_legacy.seq`);
    await q.query(`DROP TABLE "tracking".clicks`);
    await q.query(`ALTER TABLE "tracking".clicks_legacy DROP CONSTRAINT clicks_legacy_range`);
    await q.query(`ALTER TABLE "tracking".clicks_legacy DROP CONSTRAINT clicks_legacy_pkey`);
    await q.query(`ALTER TABLE "tracking".clicks_legacy ADD CONSTRAINT clicks_legacy_pkey PRIMARY KEY (click_id)`);
    await q.query(`ALTER TABLE "tracking".clicks_legacy RENAME TO clicks`);
    await q.query(`ALTER INDEX "tracking".clicks_legacy_pkey RENAME TO clicks_pkey`);
    await q.query(`ALTER INDEX "tracking".clicks_legacy_message_id_idx RENAME TO "IDX_clicks_message_id"`);
    await q.query(`ALTER INDEX "tracking".clicks_legacy_relay_order_idx RENAME TO clicks_relay_order_idx`);
    await q.query(`ALTER INDEX "tracking".clicks_legacy_clicked_at_idx RENAME TO clicks_clicked_at_idx`);
  }
}
