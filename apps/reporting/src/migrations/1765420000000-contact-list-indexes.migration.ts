import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * ListContacts pages contacts by id in code point order (COLLATE "C", whatever the database's collation) and searches
 * by id prefix as a range: these indexes let each of the three fact tables answer a page with one ordered range scan
 * that stops at the page's end, merged without sorting the whole contact set.
 */
export class ReportingContactListIndexes1765420000000 implements MigrationInterface {
  name = 'ReportingContactListIndexes1765420000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX "IDX_reporting_messages_contact_c" ON "reporting".messages ((contact_id COLLATE "C"))`);
    await q.query(`CREATE INDEX "IDX_reporting_clicks_contact_c" ON "reporting".clicks ((contact_id COLLATE "C"))`);
    await q.query(`CREATE INDEX "IDX_reporting_credited_contact_c" ON "reporting".credited_conversions ((contact_id COLLATE "C"))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "reporting"."IDX_reporting_credited_contact_c"`);
    await q.query(`DROP INDEX "reporting"."IDX_reporting_clicks_contact_c"`);
    await q.query(`DROP INDEX "reporting"."IDX_reporting_messages_contact_c"`);
  }
}
