import { MigrationInterface, QueryRunner } from 'typeorm';
import { tableRelayIndexSql } from '@trackly/messaging';

/**
 * The messages table is the source of its MessageSent events, as the clicks table is of ClickRecorded: a
 * RegisterMessages batch writes its message rows and nothing else (before: as many outbox rows again, each later
 * marked published and deleted by the outbox relay). Each new row carries the id of the transaction that wrote it,
 * an insertion sequence and the request id its event carries (docs/click-edge.md, "Events from the tables").
 *
 * Expand only: rows written before (and by old replicas during a rolling upgrade) keep `xid` NULL and their events
 * go through the outbox, as they did.
 */
export class MessagesEventSource1765100000001 implements MigrationInterface {
  name = 'MessagesEventSource1765100000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE SEQUENCE "tracking".messages_seq`);
    await q.query(`ALTER TABLE "tracking".messages ADD COLUMN xid xid8, ADD COLUMN seq bigint, ADD COLUMN request_id text`);
    await q.query(`ALTER TABLE "tracking".messages ALTER COLUMN seq SET DEFAULT nextval('"tracking".messages_seq')`);
    await q.query(`ALTER SEQUENCE "tracking".messages_seq OWNED BY "tracking".messages.seq`);
    await q.query(tableRelayIndexSql('"tracking".messages', 'messages_relay_order_idx'));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "tracking".messages_relay_order_idx`);
    await q.query(`ALTER TABLE "tracking".messages DROP COLUMN xid, DROP COLUMN seq, DROP COLUMN request_id`);
  }
}
