import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Dated FX rates loaded by operators, for reports in a reporting currency. Stored amounts are never converted:
 * a report converts each conversion at the latest rate on or before its day.
 */
export class ReportingFxRates1765430000000 implements MigrationInterface {
  name = 'ReportingFxRates1765430000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "reporting".fx_rates (
      day date NOT NULL,
      currency char(3) NOT NULL,
      quote char(3) NOT NULL,
      rate_micros bigint NOT NULL CHECK (rate_micros > 0),
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (day, currency, quote),
      CHECK (currency <> quote)
    )`);
    // "Latest on or before a day" per pair, and listing by quote over a range.
    await q.query(`CREATE INDEX "IDX_reporting_fx_rates_quote_currency_day" ON "reporting".fx_rates (quote, currency, day)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "reporting".fx_rates`);
  }
}
