import { textArray } from './array-literal';

/**
 * A text[] parameter (event ids, short codes, a batch's text columns): Postgres's array literal built with two joins
 * when no element is null or holds a quote or a backslash, the common case; otherwise element by element (textArray).
 */
export function textArrayParam(values: readonly (string | null | undefined)[]): string {
  if (!values.length) return '{}';
  if (values.some((v) => v == null) || /["\\]/.test(values.join(''))) return textArray(values);
  return `{"${values.join('","')}"}`;
}
