import * as pg from 'pg';
import { textArray } from './array-literal';

// pg's own conversion of a parameter (exported untyped): what it would send for the array.
const { prepareValue } = (pg as unknown as { utils: { prepareValue(v: unknown): unknown } }).utils;

describe('array literals of the batch statements', () => {
  it('quote and escape text exactly as pg would send the array', () => {
    const cases: (string | null)[][] = [
      [],
      ['a'],
      ['a', null, ''],
      ['with "quotes"', 'back\\slash', '\\"', 'NULL', 'comma,brace}{', ' spaced ', 'é€😀'],
      ['{"json":"text","n":1}', '[1,2]'],
    ];
    for (const values of cases) expect(textArray(values)).toBe(prepareValue(values));
  });
});
