import { jsonParam } from './json-param';

describe('jsonParam (a json parameter, a batch as one json_to_recordset parameter)', () => {
  it('is the rows as JSON: nested objects as JSON, dates as ISO instants, nulls kept', () => {
    const rows = [{ id: 'a', raw: { q: 'say "hi"', n: ['1', '2'] }, at: new Date(Date.UTC(2026, 11, 7, 1, 2, 3, 4)), none: null }];
    expect(jsonParam(rows)).toBe('[{"id":"a","raw":{"q":"say \\"hi\\"","n":["1","2"]},"at":"2026-12-07T01:02:03.004Z","none":null}]');
    expect(JSON.parse(jsonParam(rows))[0].raw.q).toBe('say "hi"');
  });

  it('turns lone surrogates in values into U+FFFD, as UTF-8 encoding an array literal did; pairs stay', () => {
    const json = jsonParam([{ a: 'x\ud800y', b: { c: '\udc00' }, d: '😀', e: 'back\\ud800slash' }]);
    expect(JSON.parse(json)).toEqual([{ a: 'x\ufffdy', b: { c: '\ufffd' }, d: '😀', e: 'back\\ud800slash' }]);
  });

  it('writes rows without surrogates in one pass, the same text either way', () => {
    const rows = [{ a: 'plain', e: 'back\\ud800slash' }];
    expect(jsonParam(rows)).toBe(JSON.stringify(rows));
  });

  it('makes any value storable the same way (a jsonb parameter of its own)', () => {
    expect(JSON.parse(jsonParam({ note: '\udbff!', ok: '😀' }))).toEqual({ note: '\ufffd!', ok: '😀' });
    expect(jsonParam({ n: 1, s: 'x' })).toBe('{"n":1,"s":"x"}');
  });
});
