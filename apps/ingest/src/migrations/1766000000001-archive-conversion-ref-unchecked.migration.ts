import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The raw archive's conversion_ref loses its foreign key. The archive is an append-only log: a row naming a conversion
 * is written by the same statement as the conversion (a new one) or in the same transaction as the read that found it
 * (a repeat), and conversions are never deleted, so the reference holds by construction. The key's check cost each
 * archive row a lookup and a FOR KEY SHARE lock of its conversion (a second write of the row just inserted): a
 * sixth of a postback batch's Postgres time and over a quarter of its time in the database. The ingest bench checks
 * that no archive row names a missing conversion.
 */
export class IngestArchiveConversionRefUnchecked1766000000001 implements MigrationInterface {
  name = 'IngestArchiveConversionRefUnchecked1766000000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "ingest".postback_requests DROP CONSTRAINT IF EXISTS postback_requests_conversion_ref_fkey`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "ingest".postback_requests ADD CONSTRAINT postback_requests_conversion_ref_fkey FOREIGN KEY (conversion_ref) REFERENCES "ingest".conversions (id)`);
  }
}
