/**
 * Array parameters of set-based statements (`unnest($n::text[], …)`) as Postgres array literals built here, in one
 * pass per column: pg builds them the same way but runs two regex replacements per element and formats each Date
 * with its local offset, which ingest's edge profile showed per postback (its batch statement sent ~36 arrays; it
 * now takes JSON documents, json-param.ts, cheaper again for a statement of that many columns). Elements are quoted
 * and escaped as pg's arrayString does (so the literal is the one pg would send); null is NULL.
 */
const ESCAPE = /[\\"]/;
const ESCAPED = /[\\"]/g;

/** text[], uuid[], bigint[] (as decimal strings), jsonb[] (as JSON text): the elements quoted. */
export function textArray(values: readonly (string | null | undefined)[]): string {
  return arrayLiteral(values, (v) => (ESCAPE.test(v) ? `"${v.replace(ESCAPED, '\\$&')}"` : `"${v}"`));
}

/** `{e1,e2,…}` with each element written by `element`, null and undefined as NULL. */
function arrayLiteral<T>(values: readonly (T | null | undefined)[], element: (v: T) => string): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i) out += ',';
    const v = values[i];
    out += v === null || v === undefined ? 'NULL' : element(v);
  }
  return out + '}';
}
