import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A click's foreign key to its message cost every click a look-up and a row lock on the message (FOR KEY SHARE:
 * a WAL record, and a full-page image of the message's page after each checkpoint, across a blast's many messages):
 * most of Postgres's work per click without group commit. It guarded nothing the edge does not: a click is written
 * only for a message the edge has just read from this table (through its cache), and messages are never deleted.
 * Dropping a constraint is compatible with the version still running during a rolling upgrade.
 */
export class ClicksWithoutMessageFk1765100000002 implements MigrationInterface {
  name = 'ClicksWithoutMessageFk1765100000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "tracking".clicks DROP CONSTRAINT clicks_message_id_fkey`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "tracking".clicks ADD CONSTRAINT clicks_message_id_fkey FOREIGN KEY (message_id) REFERENCES "tracking".messages (message_id)`);
  }
}
