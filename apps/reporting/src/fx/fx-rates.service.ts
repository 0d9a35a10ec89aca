import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { epochDay, InvalidArgumentError } from '@trackly/kernel';
import { ListFxRatesResponse, UpsertFxRatesResponse } from '@trackly/contracts/reporting/v1/reporting_service';
import { FxRate, FxRateInput, validateFxRates } from '../domain/fx';

const CODE = /^[A-Z]{3}$/;
/** A batch is an operator's file or request, not a bulk load: bounded so one call is one short transaction. */
export const MAX_FX_BATCH = 10_000;
const MAX_LIST = 10_000;

/** Stores and lists dated FX rates (reporting's own table; nothing else reads or converts stored amounts). */
@Injectable()
export class FxRatesService {
  constructor(private readonly ds: DataSource) {}

  /** All or nothing: any refused row means nothing is stored, and every refused row is named. */
  async upsert(rows: readonly FxRateInput[]): Promise<UpsertFxRatesResponse> {
    if (rows.length === 0) throw new InvalidArgumentError('rates', 'must hold at least one rate');
    if (rows.length > MAX_FX_BATCH) throw new InvalidArgumentError('rates', `must hold at most ${MAX_FX_BATCH} rates per call, got ${rows.length}`);
    const { rates, errors } = validateFxRates(rows);
    if (errors.length > 0) return { stored: 0, errors };
    await this.ds.query(
      `INSERT INTO "reporting".fx_rates (day, currency, quote, rate_micros)
       SELECT * FROM unnest($1::date[], $2::char(3)[], $3::char(3)[], $4::bigint[])
       ON CONFLICT (day, currency, quote) DO UPDATE SET rate_micros = EXCLUDED.rate_micros, updated_at = now()`,
      [rates.map((r) => r.day), rates.map((r) => r.currency), rates.map((r) => r.quote), rates.map((r) => r.rateMicros.toString())],
    );
    return { stored: rates.length, errors: [] };
  }

  async list(input: { quote: string; currency: string; fromDate: string; toDate: string }): Promise<ListFxRatesResponse> {
    const fields: Record<string, string> = {};
    if (input.quote && !CODE.test(input.quote)) fields.quote = 'must be a 3-letter ISO 4217 code in upper case';
    if (input.currency && !CODE.test(input.currency)) fields.currency = 'must be a 3-letter ISO 4217 code in upper case';
    if (input.fromDate && epochDay(input.fromDate) === undefined) fields.from_date = 'must be a real calendar day YYYY-MM-DD';
    if (input.toDate && epochDay(input.toDate) === undefined) fields.to_date = 'must be a real calendar day YYYY-MM-DD';
    if (!fields.from_date && !fields.to_date && input.fromDate && input.toDate && input.fromDate > input.toDate) fields.to_date = 'must not be before from_date';
    if (Object.keys(fields).length) throw InvalidArgumentError.of(fields);
    const rows: { day: string; currency: string; quote: string; rate_micros: string }[] = await this.ds.query(
      `SELECT to_char(day, 'YYYY-MM-DD') AS day, currency, quote, rate_micros::text AS rate_micros FROM "reporting".fx_rates
       WHERE ($1 = '' OR quote = $1) AND ($2 = '' OR currency = $2) AND ($3 = '' OR day >= $3::date) AND ($4 = '' OR day <= $4::date)
       ORDER BY quote, currency, day LIMIT ${MAX_LIST}`,
      [input.quote ?? '', input.currency ?? '', input.fromDate ?? '', input.toDate ?? ''],
    );
    return { rates: rows.map((r) => ({ day: r.day, currency: r.currency, quote: r.quote, rateMicros: r.rate_micros })) };
  }
}

/** Every rate into `quote` on or before `lastDay` (a report's rate book; a few thousand rows at most per quote). */
export async function ratesInto(m: EntityManager, quote: string, lastDay: string): Promise<FxRate[]> {
  const rows: { day: string; currency: string; rate_micros: string }[] = await m.query(
    `SELECT to_char(day, 'YYYY-MM-DD') AS day, currency, rate_micros::text AS rate_micros FROM "reporting".fx_rates
     WHERE quote = $1 AND day <= $2::date`,
    [quote, lastDay],
  );
  return rows.map((r) => ({ day: r.day, currency: r.currency, quote, rateMicros: BigInt(r.rate_micros) }));
}
