/**
 * Money as integer micros (millionths of the major unit) plus an ISO 4217 code. Never a float: partners send
 * decimal strings, which are parsed digit by digit.
 */
import { InvalidArgumentError } from './errors';

export interface Money {
  readonly currency: string;
  readonly micros: bigint;
}

export const MICROS_PER_UNIT = 1_000_000n;
/** Larger amounts are a partner's bug (or an attack), not revenue: 10^12 units of any currency. */
export const MAX_ABS_MICROS = 1_000_000_000_000n * MICROS_PER_UNIT;

const CURRENCY = /^[A-Z]{3}$/;
const DECIMAL = /^(-)?(\d{1,13})(?:[.,](\d{1,6}))?$/;

export function assertCurrency(code: string, field = 'currency'): string {
  if (!CURRENCY.test(code)) throw new InvalidArgumentError(field, `must be a 3-letter ISO 4217 code in upper case, got "${code}"`);
  return code;
}

/** Normalises a currency code as partners send it ("usd", " USD ") or fails. */
export function normaliseCurrency(code: string, field = 'currency'): string {
  const trimmed = code.trim();
  // Upper-casing first would let look-alikes through: "ıdr" (dotless i) and "uſd" (long s) become IDR and USD.
  if (!/^[A-Za-z]{3}$/.test(trimmed)) return assertCurrency(trimmed, field);
  return assertCurrency(trimmed.toUpperCase(), field);
}

export interface ParseDecimalOptions {
  field?: string;
  allowNegative?: boolean;
}

/** Parses "24.99", "24,99", "0.000001" into micros. Rejects exponents, hex, blanks, >6 decimals, absurd sizes. */
export function parseDecimalMicros(text: string, opts: ParseDecimalOptions = {}): bigint {
  const field = opts.field ?? 'amount';
  const m = DECIMAL.exec(text.trim());
  if (!m) throw new InvalidArgumentError(field, `must be a decimal number with at most 6 decimals, got "${truncate(text)}"`);
  const [, sign, whole, frac = ''] = m;
  const micros = BigInt(whole) * MICROS_PER_UNIT + BigInt(frac.padEnd(6, '0'));
  const value = sign ? -micros : micros;
  // "-0" and "-0.00" too: a minus sign where none is allowed means the mapping is wrong, whatever the digits.
  if (sign && !opts.allowNegative) throw new InvalidArgumentError(field, 'must not be negative');
  if (value > MAX_ABS_MICROS || -value > MAX_ABS_MICROS) throw new InvalidArgumentError(field, 'is too large to be an amount');
  return value;
}

export function money(currency: string, micros: bigint): Money {
  return { currency: assertCurrency(currency), micros };
}

/** Formats micros as a plain decimal with at least 2 decimals: 24990000n -> "24.99", 1n -> "0.000001". */
export function formatMicros(micros: bigint): string {
  const neg = micros < 0n;
  const abs = neg ? -micros : micros;
  const whole = abs / MICROS_PER_UNIT;
  let frac = (abs % MICROS_PER_UNIT).toString().padStart(6, '0').replace(/0+$/, '');
  if (frac.length < 2) frac = frac.padEnd(2, '0');
  return `${neg ? '-' : ''}${whole}.${frac}`;
}

/** Sums amounts per currency; never converts between currencies. */
export function sumByCurrency(amounts: Iterable<Money>): Money[] {
  const totals = new Map<string, bigint>();
  for (const a of amounts) totals.set(a.currency, (totals.get(a.currency) ?? 0n) + a.micros);
  return [...totals.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([currency, micros]) => ({ currency, micros }));
}

/** Integer division rounding half away from zero; ratios such as revenue per send stay in micros. */
export function divideRounded(micros: bigint, divisor: bigint): bigint {
  if (divisor === 0n) return 0n;
  const q = micros / divisor;
  const r = micros % divisor;
  const twice = (r < 0n ? -r : r) * 2n;
  const d = divisor < 0n ? -divisor : divisor;
  if (twice >= d) return micros < 0n !== divisor < 0n ? q - 1n : q + 1n;
  return q;
}

function truncate(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
