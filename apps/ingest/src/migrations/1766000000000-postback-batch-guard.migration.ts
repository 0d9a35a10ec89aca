import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The guard of the postback batch's lockless statement: it fails the statement (SQLSTATE TK001) when a repeat needs
 * the locked path (an adjustment, or a stored row its snapshot did not hold), so the COMMIT sent with it rolls back.
 */
export class IngestPostbackBatchGuard1766000000000 implements MigrationInterface {
  name = 'IngestPostbackBatchGuard1766000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION "ingest".postback_batch_needs_locks(repeats integer) RETURNS boolean LANGUAGE plpgsql AS $$
      BEGIN
        IF repeats > 0 THEN
          RAISE EXCEPTION 'postback batch: % repeat(s) need the locked path', repeats USING ERRCODE = 'TK001';
        END IF;
        RETURN true;
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION "ingest".postback_batch_needs_locks(integer)`);
  }
}
