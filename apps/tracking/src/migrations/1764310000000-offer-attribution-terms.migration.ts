import { MigrationInterface, QueryRunner } from 'typeorm';

/** Per-offer anti-fraud minimum and view-through window, published with the offer for attribution. */
export class OfferAttributionTerms1764310000000 implements MigrationInterface {
  name = 'OfferAttributionTerms1764310000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "tracking".offers
      ADD COLUMN min_conversion_seconds int CHECK (min_conversion_seconds BETWEEN 0 AND 86400),
      ADD COLUMN view_through_window_days int CHECK (view_through_window_days BETWEEN 1 AND 90)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "tracking".offers DROP COLUMN min_conversion_seconds, DROP COLUMN view_through_window_days`);
  }
}
