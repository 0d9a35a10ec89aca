/**
 * Dated FX rates and conversion into a reporting currency. Pure: integers only (micros), never floats.
 * A rate is "units of `quote` per 1 unit of `currency`" in micros (1.0843 USD per EUR = 1_084_300n).
 */
import { epochDay } from '@trackly/kernel';
import type { ConvertedRevenue } from '@trackly/contracts/reporting/v1/reporting_service';

export interface FxRate {
  /** Calendar day the rate is for, YYYY-MM-DD. */
  readonly day: string;
  readonly currency: string;
  readonly quote: string;
  readonly rateMicros: bigint;
}

/** One row as an operator sends it (rate in micros as a decimal integer string). */
export interface FxRateInput {
  day: string;
  currency: string;
  quote: string;
  rateMicros: string;
}

export interface FxRowError {
  /** 0-based position of the row in the batch. */
  index: number;
  field: string;
  problem: string;
}

const CODE = /^[A-Z]{3}$/;
const MICROS = /^\d{1,19}$/;
/** 10^9 units of quote per unit: far above any real rate (the weakest currencies are ~10^5 per USD). */
const MAX_RATE_MICROS = 1_000_000_000n * 1_000_000n;

/**
 * Checks a batch: ISO codes (upper case, currency ≠ quote), a positive rate, a real calendar day, no (day, currency,
 * quote) twice. Returns every row's problems; the caller stores nothing when there is one (all-or-nothing).
 */
export function validateFxRates(rows: readonly FxRateInput[]): { rates: FxRate[]; errors: FxRowError[] } {
  const errors: FxRowError[] = [];
  const rates: FxRate[] = [];
  const seen = new Map<string, number>();
  rows.forEach((r, index) => {
    const before = errors.length;
    if (epochDay(r.day) === undefined) errors.push({ index, field: 'day', problem: `must be a real calendar day YYYY-MM-DD, got "${String(r.day).slice(0, 40)}"` });
    if (!CODE.test(r.currency ?? '')) errors.push({ index, field: 'currency', problem: `must be a 3-letter ISO 4217 code in upper case, got "${String(r.currency).slice(0, 40)}"` });
    if (!CODE.test(r.quote ?? '')) errors.push({ index, field: 'quote', problem: `must be a 3-letter ISO 4217 code in upper case, got "${String(r.quote).slice(0, 40)}"` });
    else if (r.quote === r.currency) errors.push({ index, field: 'quote', problem: 'must differ from currency (a currency converts to itself at 1 without a rate)' });
    let rate = 0n;
    if (!MICROS.test(r.rateMicros ?? '')) errors.push({ index, field: 'rate', problem: `must be a positive whole number of micros, got "${String(r.rateMicros).slice(0, 40)}"` });
    else {
      rate = BigInt(r.rateMicros);
      if (rate <= 0n) errors.push({ index, field: 'rate', problem: 'must be positive' });
      else if (rate > MAX_RATE_MICROS) errors.push({ index, field: 'rate', problem: 'is too large to be a rate' });
    }
    if (errors.length > before) return;
    const key = `${r.day}|${r.currency}|${r.quote}`;
    const first = seen.get(key);
    if (first !== undefined) {
      errors.push({ index, field: 'day', problem: `repeats row ${first + 1} (${r.currency}→${r.quote} on ${r.day}); send one rate per day and pair` });
      return;
    }
    seen.set(key, index);
    rates.push({ day: r.day, currency: r.currency, quote: r.quote, rateMicros: rate });
  });
  return { rates, errors };
}

/** a*b/10^6 rounded half to even (banker's rounding): no drift when many conversions are summed. */
export function convertMicros(amountMicros: bigint, rateMicros: bigint): bigint {
  return divideHalfEven(amountMicros * rateMicros, 1_000_000n);
}

export function divideHalfEven(n: bigint, d: bigint): bigint {
  if (d <= 0n) throw new Error('divisor must be positive');
  const neg = n < 0n;
  const a = neg ? -n : n;
  let q = a / d;
  const r = a % d;
  const twice = r * 2n;
  if (twice > d || (twice === d && q % 2n === 1n)) q += 1n;
  return neg ? -q : q;
}

/**
 * Rates of one currency into one quote, answering "the latest rate on or before a day". Days compare as
 * YYYY-MM-DD strings (same width, so lexical order is calendar order).
 */
export class RateBook {
  private readonly byCurrency = new Map<string, { day: string; rateMicros: bigint }[]>();

  constructor(readonly quote: string, rates: Iterable<FxRate>) {
    for (const r of rates) {
      if (r.quote !== quote) continue;
      const list = this.byCurrency.get(r.currency) ?? [];
      list.push({ day: r.day, rateMicros: r.rateMicros });
      this.byCurrency.set(r.currency, list);
    }
    for (const list of this.byCurrency.values()) list.sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0));
  }

  /** The rate used for an amount in `currency` on `day`; the quote currency itself is 1 on any day (no rate date). */
  rateOn(currency: string, day: string): { day: string | undefined; rateMicros: bigint } | undefined {
    if (currency === this.quote) return { day: undefined, rateMicros: 1_000_000n };
    const list = this.byCurrency.get(currency);
    if (!list) return undefined;
    let lo = 0;
    let hi = list.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid].day <= day) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? undefined : list[found];
  }
}

/** One credited conversion as the converted totals need it. */
export interface ConversionToConvert {
  /** Row key the conversion belongs to (or '' for a single total). */
  key: string;
  /** Day the rate is taken from: the conversion's day, YYYY-MM-DD (UTC). */
  day: string;
  currency: string;
  status: 'approved' | 'pending' | 'reversed';
  payoutMicros: bigint;
}

/** A row's revenue in the reporting currency and what could not be converted. */
export interface ConvertedTotals {
  currency: string;
  approvedMicros: bigint;
  pendingMicros: bigint;
  reversedMicros: bigint;
  conversions: number;
  /** Earliest and latest rate day used (undefined when no rate was needed or none found). */
  firstRateDay: string | undefined;
  lastRateDay: string | undefined;
  /** Conversions with no rate on or before their day: left out of the sums above, per original currency. */
  missing: Map<string, { conversions: number; amountMicros: bigint; firstDay: string; lastDay: string }>;
}

export function emptyConverted(currency: string): ConvertedTotals {
  return { currency, approvedMicros: 0n, pendingMicros: 0n, reversedMicros: 0n, conversions: 0, firstRateDay: undefined, lastRateDay: undefined, missing: new Map() };
}

/**
 * Converts each conversion at its own day's rate (each rounded half-even, then summed) and totals per key; the
 * '' key is the total over all rows.
 */
export function convertConversions(book: RateBook, conversions: Iterable<ConversionToConvert>): Map<string, ConvertedTotals> {
  const out = new Map<string, ConvertedTotals>();
  const at = (key: string) => {
    let t = out.get(key);
    if (!t) out.set(key, (t = emptyConverted(book.quote)));
    return t;
  };
  for (const c of conversions) {
    const targets = c.key === '' ? [at('')] : [at(c.key), at('')];
    const rate = book.rateOn(c.currency, c.day);
    for (const t of targets) {
      if (!rate) {
        const m = t.missing.get(c.currency) ?? { conversions: 0, amountMicros: 0n, firstDay: c.day, lastDay: c.day };
        m.conversions += 1;
        m.amountMicros += c.payoutMicros;
        if (c.day < m.firstDay) m.firstDay = c.day;
        if (c.day > m.lastDay) m.lastDay = c.day;
        t.missing.set(c.currency, m);
        continue;
      }
      const converted = convertMicros(c.payoutMicros, rate.rateMicros);
      if (c.status === 'approved') t.approvedMicros += converted;
      else if (c.status === 'pending') t.pendingMicros += converted;
      else t.reversedMicros += converted;
      t.conversions += 1;
      if (rate.day !== undefined) {
        if (t.firstRateDay === undefined || rate.day < t.firstRateDay) t.firstRateDay = rate.day;
        if (t.lastRateDay === undefined || rate.day > t.lastRateDay) t.lastRateDay = rate.day;
      }
    }
  }
  return out;
}

/** The wire form of a row's converted totals; missing rates ordered by currency. */
export function wireConverted(t: ConvertedTotals): ConvertedRevenue {
  const m = (micros: bigint) => ({ currencyCode: t.currency, amountMicros: micros.toString() });
  return {
    revenue: m(t.approvedMicros),
    pendingRevenue: m(t.pendingMicros),
    reversed: m(t.reversedMicros),
    conversions: String(t.conversions),
    firstRateDay: t.firstRateDay ?? '',
    lastRateDay: t.lastRateDay ?? '',
    fxMissing: [...t.missing.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([currency, x]) => ({
        amount: { currencyCode: currency, amountMicros: x.amountMicros.toString() },
        conversions: String(x.conversions),
        firstDay: x.firstDay,
        lastDay: x.lastDay,
      })),
  };
}
