/**
 * FX rates as operators send them: a JSON list or a CSV file (day,currency,quote,rate). The rate is a decimal
 * ("1.0843": units of quote per 1 unit of currency, at most 6 decimals), turned into micros digit by digit, never
 * through a float. Reporting checks the rest (real days, ISO codes, positive) and stores all rows or none.
 */
import { DomainError, InvalidArgumentError, parseDecimalMicros } from '@trackly/kernel';
import type { FxRate } from '@trackly/contracts/reporting/v1/reporting_service';

export const FX_FIELDS = ['day', 'currency', 'quote', 'rate'] as const;

/** A parsed row, with where it came from (for errors: `rates[i]` or `line N`). */
export interface ParsedRates {
  rates: FxRate[];
  /** Where each rate came from, same order as rates. */
  origins: string[];
  /** Problems found before reporting saw anything, keyed like `rates[1].rate` or `line 3.rate`. */
  errors: Record<string, string>;
}

function rateMicros(value: unknown, where: string, errors: Record<string, string>): string {
  // A JSON number is accepted by its shortest decimal spelling (1.0843 -> "1.0843"); strings are safer.
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : typeof value === 'string' ? value : undefined;
  if (text === undefined || text.trim() === '') {
    errors[`${where}.rate`] = 'is required: a decimal like 1.0843 (units of quote per 1 unit of currency)';
    return '0';
  }
  try {
    const micros = parseDecimalMicros(text, { field: 'rate' });
    if (micros <= 0n) errors[`${where}.rate`] = 'must be positive';
    return micros.toString();
  } catch (e) {
    errors[`${where}.rate`] = e instanceof DomainError ? e.message.replace(/^rate /, '') : 'is not a decimal';
    return '0';
  }
}

function row(day: unknown, currency: unknown, quote: unknown, rate: unknown, where: string, errors: Record<string, string>): FxRate {
  const text = (v: unknown, field: string) => {
    if (typeof v !== 'string' || v.trim() === '') {
      errors[`${where}.${field}`] = 'is required';
      return '';
    }
    return v.trim();
  };
  return {
    day: text(day, 'day'),
    // "eur" is EUR; anything else is reporting's to refuse with its reason.
    currency: text(currency, 'currency').replace(/^[a-z]{3}$/, (c) => c.toUpperCase()),
    quote: text(quote, 'quote').replace(/^[a-z]{3}$/, (c) => c.toUpperCase()),
    rateMicros: rateMicros(rate, where, errors),
  };
}

export const MAX_FX_ROWS = 10_000;

/** PUT /api/fx-rates: `[{day, currency, quote, rate}]` or `{ "rates": [...] }`. */
export function parseFxJson(body: unknown): ParsedRates {
  const list = Array.isArray(body) ? body : body && typeof body === 'object' && Array.isArray((body as { rates?: unknown }).rates) ? (body as { rates: unknown[] }).rates : undefined;
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    const unknown = Object.keys(body).filter((k) => k !== 'rates');
    if (unknown.length) throw InvalidArgumentError.of({ [unknown[0].slice(0, 64)]: 'is not a field here (known: rates)' });
  }
  if (!list) throw InvalidArgumentError.of({ body: 'must be a JSON list of {day, currency, quote, rate} (or {"rates": [...]})' });
  if (list.length === 0) throw InvalidArgumentError.of({ rates: 'must hold at least one rate' });
  if (list.length > MAX_FX_ROWS) throw InvalidArgumentError.of({ rates: `must hold at most ${MAX_FX_ROWS} rates per request` });
  const errors: Record<string, string> = {};
  const rates: FxRate[] = [];
  const origins: string[] = [];
  list.forEach((item, i) => {
    const where = `rates[${i}]`;
    if (!item || typeof item !== 'object' || Array.isArray(item)) {
      errors[where] = 'must be an object {day, currency, quote, rate}';
      return;
    }
    const o = item as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!(FX_FIELDS as readonly string[]).includes(k)) errors[`${where}.${k.slice(0, 64)}`] = `is not a field here (known: ${FX_FIELDS.join(', ')})`;
    rates.push(row(o.day, o.currency, o.quote, o.rate, where, errors));
    origins.push(where);
  });
  return { rates, origins, errors };
}

/** POST /api/fx-rates/csv: a header naming day,currency,quote,rate (any order), one rate per line; blank lines skipped. */
export function parseFxCsv(text: string): ParsedRates {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const cells = (line: string) => line.split(',').map((c) => c.trim().replace(/^"(.*)"$/, '$1').trim());
  const headerAt = lines.findIndex((l) => l.trim() !== '');
  if (headerAt < 0) throw InvalidArgumentError.of({ body: 'is empty: send a header line day,currency,quote,rate and one rate per line' });
  const header = cells(lines[headerAt]).map((h) => h.toLowerCase());
  const missing = FX_FIELDS.filter((f) => !header.includes(f));
  const extra = header.filter((h) => !(FX_FIELDS as readonly string[]).includes(h));
  if (missing.length || extra.length) {
    throw InvalidArgumentError.of({
      [`line ${headerAt + 1}`]: `the header must name the columns day,currency,quote,rate${missing.length ? ` (missing: ${missing.join(', ')})` : ''}${extra.length ? ` (unknown: ${extra.join(', ')})` : ''}`,
    });
  }
  const col = Object.fromEntries(FX_FIELDS.map((f) => [f, header.indexOf(f)])) as Record<(typeof FX_FIELDS)[number], number>;
  const errors: Record<string, string> = {};
  const rates: FxRate[] = [];
  const origins: string[] = [];
  for (let i = headerAt + 1; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    const where = `line ${i + 1}`;
    const c = cells(lines[i]);
    if (c.length !== header.length) {
      errors[where] = `has ${c.length} cells, the header ${header.length}`;
      continue;
    }
    rates.push(row(c[col.day], c[col.currency], c[col.quote], c[col.rate], where, errors));
    origins.push(where);
    if (rates.length > MAX_FX_ROWS) throw InvalidArgumentError.of({ body: `must hold at most ${MAX_FX_ROWS} rates per file` });
  }
  if (rates.length === 0 && Object.keys(errors).length === 0) throw InvalidArgumentError.of({ body: 'holds no rate after the header' });
  return { rates, origins, errors };
}

/** Reporting's per-row errors (by batch index) as fields keyed by where the row came from. */
export function rowErrors(origins: readonly string[], errors: readonly { index: number; field: string; problem: string }[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of errors) out[`${origins[e.index] ?? `rates[${e.index}]`}.${e.field}`] = e.problem;
  return out;
}

/** Refused rows: nothing stored, every row named. */
export function refused(fields: Record<string, string>): DomainError {
  const n = new Set(Object.keys(fields).map((k) => k.split('.')[0])).size;
  return new DomainError('INVALID_ARGUMENT', `no rate stored: ${n} row${n === 1 ? '' : 's'} refused (${Object.entries(fields).slice(0, 3).map(([f, p]) => `${f} ${p}`).join('; ')})`, fields);
}
