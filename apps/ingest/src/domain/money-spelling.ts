/**
 * How partners spell a payout: "25", "24.99", "24,99", "$25", "25.00 USD", "USD 25", "€19,99", "£5", "1,234.56",
 * "1.234,56". Pure. Only spellings with one possible reading are accepted; the rest are refused with the reason,
 * because a wrong guess (19,999 read as 19999 instead of 19.999) is money paid wrongly.
 */
import { parseDecimalMicros } from '@trackly/kernel';
import { isIsoCurrency } from './conversion.rules';

/** Symbols that name exactly one currency. "$" is not one of them: it is USD only where USD is the context. */
const SYMBOLS: ReadonlyMap<string, string> = new Map([
  ['€', 'EUR'],
  ['£', 'GBP'],
]);

export interface MoneyContext {
  /** The currency the postback's own currency parameter named (already validated), when it named one. */
  currencyParam?: string;
  /** The partner's default currency: what a bare amount is in. */
  defaultCurrency: string;
  /** The parameter name the amount came in (for messages). */
  field: string;
}

export type SpelledMoney = { ok: true; micros: bigint; currency: string } | { ok: false; problem: string };

const AMOUNT = /^[-+]?[0-9][0-9.,]*$/;
const CODE_PREFIX = /^([A-Za-z]{3})\s*(.+)$/;
const CODE_SUFFIX = /^(.+?)\s*([A-Za-z]{3})$/;

/**
 * Reads a payout spelling. The currency comes from, in order: a symbol or ISO code written with the amount, the
 * currency parameter, the partner's default; a symbol or code that contradicts the currency parameter is refused.
 */
export function parseMoneySpelling(text: string, ctx: MoneyContext): SpelledMoney {
  let rest = text.trim();
  let written: string | undefined;
  let dollar = false;
  const first = rest[0];
  const last = rest[rest.length - 1];
  if (first === '$' || last === '$') {
    dollar = true;
    rest = (first === '$' ? rest.slice(1) : rest.slice(0, -1)).trim();
  } else if (SYMBOLS.has(first) || SYMBOLS.has(last)) {
    const symbol = SYMBOLS.has(first) ? first : last;
    written = SYMBOLS.get(symbol);
    rest = (symbol === first ? rest.slice(1) : rest.slice(0, -1)).trim();
  } else {
    const prefix = CODE_PREFIX.exec(rest);
    const suffix = prefix ? null : CODE_SUFFIX.exec(rest);
    if (prefix && AMOUNT.test(prefix[2].trim())) {
      written = prefix[1].toUpperCase();
      rest = prefix[2].trim();
    } else if (suffix && AMOUNT.test(suffix[1].trim())) {
      written = suffix[2].toUpperCase();
      rest = suffix[1].trim();
    }
  }
  // Only the 3 letters A-Z count as a code: "uſd" upper-cases to USD.
  if (written && (!/^[A-Z]{3}$/.test(written) || !isIsoCurrency(written))) {
    return { ok: false, problem: `must be a decimal amount, optionally with an ISO 4217 code or €/£/$, got "${short(text)}"` };
  }

  const context = ctx.currencyParam ?? ctx.defaultCurrency;
  if (dollar) {
    if (context !== 'USD') {
      return {
        ok: false,
        problem: `"$" could be any dollar and this postback's currency is ${context}: send the amount without "$" (or currency=USD)`,
      };
    }
    written = 'USD';
  }
  if (written && ctx.currencyParam && written !== ctx.currencyParam) {
    return { ok: false, problem: `says ${written} but the currency parameter says ${ctx.currencyParam}` };
  }

  const decimal = normaliseSeparators(rest);
  if (typeof decimal !== 'string' || !AMOUNT.test(rest)) {
    return { ok: false, problem: typeof decimal === 'object' ? decimal.problem : `must be a decimal amount like 24.99, got "${short(text)}"` };
  }
  try {
    return { ok: true, micros: parseDecimalMicros(decimal, { field: ctx.field }), currency: written ?? context };
  } catch (e) {
    const fields = (e as { fields?: Record<string, string> }).fields;
    const message = fields?.[ctx.field];
    if (message) return { ok: false, problem: message };
    throw e;
  }
}

/**
 * The amount with "." as its only separator, or why it cannot be read. A comma alone is decimal unless it is
 * followed by exactly 3 digits ("19,99" = 19.99, "1,234" and "19,999" are either thousands or 3 decimals: refused);
 * several commas with no dot group thousands ("1,234,567"); both separators: the last one is the decimal one and the
 * other must group thousands properly ("1,234.56", "1.234,56").
 */
function normaliseSeparators(s: string): string | { problem: string } {
  const commas = count(s, ',');
  const dots = count(s, '.');
  if (!commas) return s;
  if (!dots) {
    if (commas === 1) {
      const [, frac] = s.split(',');
      if (frac.length === 3) return { problem: `"${s}" is ambiguous: thousands or 3 decimals? Send it with a "." for decimals (e.g. 1234 or 1.234)` };
      return s.replace(',', '.');
    }
    return grouped(s, ',') ? s.replace(/,/g, '') : { problem: `"${s}" is not a grouping of thousands` };
  }
  const lastComma = s.lastIndexOf(',');
  const lastDot = s.lastIndexOf('.');
  const [group, dec] = lastDot > lastComma ? [',', '.'] : ['.', ','];
  const cut = Math.max(lastComma, lastDot);
  const whole = s.slice(0, cut);
  if (count(s, dec) !== 1 || !grouped(whole, group)) return { problem: `"${s}" mixes "," and "." in a way that cannot be read as one amount` };
  return `${whole.split(group).join('')}.${s.slice(cut + 1)}`;
}

/** "1,234,567": 1-3 digits, then groups of exactly 3. */
function grouped(s: string, sep: string): boolean {
  const parts = s.replace(/^[-+]/, '').split(sep);
  return parts.length > 1 && /^\d{1,3}$/.test(parts[0]) && parts.slice(1).every((p) => /^\d{3}$/.test(p));
}

function count(s: string, ch: string): number {
  return s.split(ch).length - 1;
}

function short(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
