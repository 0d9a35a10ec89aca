/**
 * A value as the text of a `json`/`jsonb` parameter, as JSON.stringify writes it, but storable: Postgres refuses a
 * lone UTF-16 surrogate, which JSON.stringify writes as an escape (`\udXXX`), where the UTF-8 encoding of a text
 * parameter turns it into U+FFFD. A text holding such an escape is written again with every string value made
 * well-formed (U+FFFD), so a partner's stray surrogate in a parameter we keep but do not read is stored, not a failed
 * statement. (An object key holding one is left as it is, and refused.)
 *
 * Also a batch's rows as ONE parameter, for `json_to_recordset($n::json) AS t(column type, …)` in a set-based
 * statement, where `unnest` takes an array literal per column: V8 writes the JSON natively in one pass, as one flat
 * string, and nested values (a partner's raw parameters, headers) go in as JSON, not as JSON text escaped again
 * inside an array literal. Measured on a batch of 30 conversion rows (the ingest edge's): 110–130 µs of Node and
 * 280–300 µs of Postgres per statement, against 250–290 and 380–440 with 19 array parameters. The rows' keys name
 * the columns of the column list.
 */
export function jsonParam(value: unknown): string {
  const json = JSON.stringify(value);
  // "\u" is rare in JSON.stringify's output (control characters, lone surrogates), and a scan for it is a
  // fortieth of the pattern's on a batch. The pattern also matches an escaped backslash followed by "ud8…" as text:
  // that only costs the second pass.
  return json.includes('\\u') && SURROGATE_ESCAPE.test(json) ? JSON.stringify(value, wellFormed) : json;
}

/**
 * A timestamptz from epoch milliseconds, in SQL (`expr` a bigint): how a batch's JSON parameter carries its times.
 * JSON.stringify writes a Date through toISOString, about 1 µs each (half the time of a postback's conversion row);
 * a number it writes at once. Exact for times within ±2^53 µs of 1970 (until the year 2255): Postgres multiplies the
 * interval in double precision.
 */
export function fromEpochMs(expr: string): string {
  return `('epoch'::timestamptz + ${expr} * interval '1 millisecond')`;
}

const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

function wellFormed(_key: string, value: unknown): unknown {
  // String.prototype.toWellFormed is in Node 20 (ES2024), beyond the ES2023 lib the project compiles against.
  return typeof value === 'string' ? (value as string & { toWellFormed(): string }).toWellFormed() : value;
}
