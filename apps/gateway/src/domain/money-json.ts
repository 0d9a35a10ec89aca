/**
 * Dashboards show money: every Money object of a response's proto3 JSON ({ currencyCode, amountMicros }) also
 * gets `amount`, the exact decimal string ("24.99"), so no client ever divides micros as floats.
 */
import { formatMicros } from '@trackly/kernel';

const MONEY_KEYS = new Set(['currencyCode', 'amountMicros']);
const INT64 = /^-?\d{1,19}$/;

/**
 * Returns a copy of `json` where each Money object carries `amount`. proto3 JSON omits zero values, so a zero
 * amount arrives as `{ currencyCode }` alone: it gets `amountMicros: '0'` back, beside `amount: '0.00'`.
 */
export function withMoneyAmounts(json: unknown): unknown {
  if (Array.isArray(json)) return json.map(withMoneyAmounts);
  if (!isPlainObject(json)) return json;
  if (isMoney(json)) {
    const micros = (json.amountMicros as string | undefined) ?? '0';
    return { ...json, amountMicros: micros, amount: formatMicros(BigInt(micros)) };
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(json)) out[k] = withMoneyAmounts(v);
  return out;
}

/** A Money message in proto3 JSON: a currency code, and at most an int64 string amount besides. */
function isMoney(o: Record<string, unknown>): boolean {
  const keys = Object.keys(o);
  if (!keys.length || !keys.every((k) => MONEY_KEYS.has(k))) return false;
  if (typeof o.currencyCode !== 'string' || o.currencyCode === '') return false;
  return o.amountMicros === undefined || (typeof o.amountMicros === 'string' && INT64.test(o.amountMicros));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

/** A response message as the API's JSON: the contract's canonical proto3 JSON plus Money amounts. */
export function apiJson<T>(codec: { toJSON(message: T): unknown }, message: T): unknown {
  return withMoneyAmounts(codec.toJSON(message));
}
