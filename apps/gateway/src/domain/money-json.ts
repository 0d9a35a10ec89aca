/**
 * Dashboards show money: every Money object of a response's proto3 JSON ({ currencyCode, amountMicros }) also
 * gets `amount`, the exact decimal string ("24.99"), so no client ever divides micros as floats.
 */
import { formatMicros } from '@trackly/kernel';

const INT64 = /^-?\d{1,19}$/;

/**
 * Adds `amount` to each Money object of `json`, in place, and returns `json`. It is meant for a fresh proto3 JSON
 * value (a codec's toJSON output, owned by the caller): a report of 500 rows holds thousands of objects, and copying
 * each one was most of the gateway's CPU per report read. proto3 JSON omits zero values, so a zero amount arrives as
 * `{ currencyCode }` alone: it gets `amountMicros: '0'` back, beside `amount: '0.00'`.
 */
export function addMoneyAmounts<T>(json: T): T {
  visit(json);
  return json;
}

function visit(v: unknown): void {
  if (typeof v !== 'object' || v === null) return;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) visit(v[i]);
    return;
  }
  if (Object.getPrototypeOf(v) !== Object.prototype) return;
  const o = v as Record<string, unknown>;
  if (isMoney(o)) {
    const micros = (o.amountMicros as string | undefined) ?? '0';
    o.amountMicros = micros;
    o.amount = formatMicros(BigInt(micros));
    return;
  }
  for (const k in o) visit(o[k]);
}

/** A Money message in proto3 JSON: a currency code, and at most an int64 string amount besides. */
function isMoney(o: Record<string, unknown>): boolean {
  // The cheap test first: almost every object walked is not Money.
  if (typeof o.currencyCode !== 'string' || o.currencyCode === '') return false;
  for (const k in o) if (k !== 'currencyCode' && k !== 'amountMicros') return false;
  return o.amountMicros === undefined || (typeof o.amountMicros === 'string' && INT64.test(o.amountMicros));
}

/** A response message as the API's JSON: the contract's canonical proto3 JSON plus Money amounts. */
export function apiJson<T>(codec: { toJSON(message: T): unknown }, message: T): unknown {
  return addMoneyAmounts(codec.toJSON(message));
}
