/**
 * How people read numbers here: currency symbols, two decimals and thousands separators (the exact decimal the API
 * sent stays available for hovers and CSV), counts with separators, ratios as percentages, instants in the chosen
 * time zone. Amounts arrive as exact decimal strings and int64 counts as decimal strings: arithmetic is done on
 * integers (BigInt micros), never on floats.
 */

/** proto3 JSON money as the gateway sends it: `amount` is the exact decimal of `amountMicros`. */
export interface Money {
  currencyCode: string;
  amountMicros?: string;
  amount?: string;
}

const LOCALE = 'en-US';
const currencyFormats = new Map<string, Intl.NumberFormat>();

function currencyFormat(code: string): Intl.NumberFormat {
  let f = currencyFormats.get(code);
  if (!f) {
    try {
      f = new Intl.NumberFormat(LOCALE, { style: 'currency', currency: code, minimumFractionDigits: 2, maximumFractionDigits: 2 });
    } catch {
      f = new Intl.NumberFormat(LOCALE, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    }
    currencyFormats.set(code, f);
  }
  return f;
}

export const micros = (m: Money | undefined): bigint => BigInt(m?.amountMicros || '0');

/** Exact decimal of micros: 24990000n -> "24.99", 1n -> "0.000001" (at least two decimals). */
export function exactAmount(v: bigint): string {
  const neg = v < 0n;
  const abs = neg ? -v : v;
  let frac = (abs % 1_000_000n).toString().padStart(6, '0').replace(/0+$/, '');
  if (frac.length < 2) frac = frac.padEnd(2, '0');
  return `${neg ? '-' : ''}${abs / 1_000_000n}.${frac}`;
}

/** Micros rounded half away from zero to cents, then formatted: "$1,152.00". */
export function formatMoney(currency: string, v: bigint): string {
  const cents = (v < 0n ? v - 5_000n : v + 5_000n) / 10_000n;
  const neg = cents < 0n;
  const abs = neg ? -cents : cents;
  const parts = currencyFormat(currency).formatToParts(0);
  const whole = new Intl.NumberFormat(LOCALE).format(abs / 100n);
  const text = parts
    .map((p) => (p.type === 'integer' ? whole : p.type === 'fraction' ? (abs % 100n).toString().padStart(2, '0') : p.value))
    .join('');
  return neg ? `-${text}` : text;
}

/** "1,234,567" from an int64 decimal string (or bigint); absent = 0 (proto3 JSON omits zeros). */
export function formatCount(v: string | bigint | number | undefined): string {
  return new Intl.NumberFormat(LOCALE).format(BigInt(v ?? 0));
}

/** num/den as a percentage with two decimals ("12.00%"); "–" without a denominator. */
export function formatRatio(num: bigint, den: bigint): string {
  if (den === 0n) return '–';
  // Hundredths of a percent, rounded half up: exact for any int64 counts.
  const neg = num < 0n !== den < 0n && num !== 0n;
  const [n, d] = [num < 0n ? -num : num, den < 0n ? -den : den];
  const scaled = (n * 10_000n + d / 2n) / d;
  return `${neg ? '-' : ''}${new Intl.NumberFormat(LOCALE).format(scaled / 100n)}.${(scaled % 100n).toString().padStart(2, '0')}%`;
}

/** Exact num/den as a decimal string for CSV (6 decimals). */
export function exactRatio(num: bigint, den: bigint): string {
  if (den === 0n) return '';
  return exactAmount((num * 1_000_000n + den / 2n) / den);
}

/** Micros divided by a count, rounded half away from zero (revenue per send, EPC). */
export function dividedMicros(v: bigint, by: bigint): bigint | undefined {
  if (by === 0n) return undefined;
  const q = (v * 2n + (v < 0n ? -by : by)) / (2n * by);
  return q;
}

const dateTimeFormats = new Map<string, Intl.DateTimeFormat>();

/** An instant in the chosen zone: "May 1, 2026, 10:05:00" (24-hour clock). */
export function formatInstant(iso: string | undefined, timeZone: string): string {
  if (!iso) return '–';
  let f = dateTimeFormats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat(LOCALE, { timeZone, year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
    dateTimeFormats.set(timeZone, f);
  }
  return f.format(new Date(iso));
}

/** The local calendar day of an instant in a zone, YYYY-MM-DD. */
export function localDay(at: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(at);
  const get = (t: string) => parts.find((p) => p.type === t)!.value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}

export function addDays(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
}

/** Every day from `from` to `to`, inclusive. */
export function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let d = from; d <= to && out.length < 1000; d = addDays(d, 1)) out.push(d);
  return out;
}

/** The instant local midnight of `day` falls on in `timeZone` (the start of that local day). */
export function zonedMidnight(day: string, timeZone: string): Date {
  const guess = Date.parse(`${day}T00:00:00Z`);
  const offset = (at: number) => {
    const p = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' }).formatToParts(new Date(at));
    const g = (t: string) => Number(p.find((x) => x.type === t)!.value);
    return Date.UTC(g('year'), g('month') - 1, g('day'), g('hour'), g('minute'), g('second')) - at;
  };
  let at = guess - offset(guess);
  at = guess - offset(at);
  return new Date(at);
}

/** RFC 4180 CSV; a text cell starting with = + - @ gets a leading apostrophe so spreadsheets never run it. */
export function toCsv(rows: (string | number | bigint | null | undefined)[][]): string {
  const cell = (v: string | number | bigint | null | undefined) => {
    if (v === undefined || v === null) return '';
    let s = String(v);
    if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s) && !/^-?\d+(\.\d+)?$/.test(s)) s = `'${s}`;
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return rows.map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n';
}

/** The items of a list typed as text, separated by commas, spaces or new lines. */
export const splitList = (text: string): string[] => text.split(/[\s,]+/).filter(Boolean);

/** "Name (id)", or the id alone when the name is missing or is the id. */
export const named = (id: string | undefined, name?: string): string => (name && name !== id ? `${name} (${id})` : (id ?? ''));
