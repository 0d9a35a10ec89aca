import * as pg from 'pg';
import { boolArray, textArray, timeArray } from './array-literal';

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

  it('writes instants in UTC and booleans as t/f, null as NULL', () => {
    expect(timeArray([new Date(Date.UTC(2026, 11, 6, 5, 1, 2, 345)), null])).toBe('{"2026-12-06T05:01:02.345Z",NULL}');
    expect(boolArray([true, false, null])).toBe('{t,f,NULL}');
    expect(timeArray([])).toBe('{}');
  });
});
