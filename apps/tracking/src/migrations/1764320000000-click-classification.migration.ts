import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every hit on a tracked link is kept with who fetched it (a person, a link preview or a bot), why, and under which
 * version of the rules. Hits recorded before classification existed were all counted as clicks, so they stay HUMAN.
 * At most one first click per message, enforced by the database as well as by the counter lock.
 */
export class ClickClassification1764320000000 implements MigrationInterface {
  name = 'ClickClassification1764320000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "tracking".clicks
      ADD COLUMN click_class text NOT NULL DEFAULT 'HUMAN' CHECK (click_class IN ('HUMAN', 'PREVIEW', 'BOT')),
      ADD COLUMN classification_reason text NOT NULL DEFAULT '',
      ADD COLUMN classifier_version text NOT NULL DEFAULT ''`);
    await q.query(`CREATE UNIQUE INDEX "IDX_clicks_first_click_per_message" ON "tracking".clicks (message_id) WHERE first_click_on_message`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "tracking"."IDX_clicks_first_click_per_message"`);
    await q.query(`ALTER TABLE "tracking".clicks DROP COLUMN click_class, DROP COLUMN classification_reason, DROP COLUMN classifier_version`);
  }
}
