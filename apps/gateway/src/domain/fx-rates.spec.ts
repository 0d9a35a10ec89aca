import { parseFxCsv, parseFxJson, rowErrors } from './fx-rates';

describe('FX rates as operators send them', () => {
  it('reads a JSON list: decimal rates to micros without floats, lower-case codes upper-cased', () => {
    const r = parseFxJson([{ day: '2026-03-01', currency: 'eur', quote: 'USD', rate: '1.0843' }, { day: '2026-03-02', currency: 'JPY', quote: 'USD', rate: 0.006543 }]);
    expect(r.errors).toEqual({});
    expect(r.rates).toEqual([
      { day: '2026-03-01', currency: 'EUR', quote: 'USD', rateMicros: '1084300' },
      { day: '2026-03-02', currency: 'JPY', quote: 'USD', rateMicros: '6543' },
    ]);
    expect(parseFxJson({ rates: [{ day: '2026-03-01', currency: 'EUR', quote: 'USD', rate: '1' }] }).rates).toHaveLength(1);
  });

  it('names every bad JSON row by its index', () => {
    const r = parseFxJson([{ day: '2026-03-01', currency: 'EUR', quote: 'USD', rate: '1.0000001' }, { day: '2026-03-01', currency: 'EUR', quote: 'USD', rate: '-1', fx: 1 }, 'x']);
    expect(Object.keys(r.errors).sort()).toEqual(['rates[0].rate', 'rates[1].fx', 'rates[1].rate', 'rates[2]']);
    expect(() => parseFxJson({ rate: [] })).toThrow(/rate is not a field/);
    expect(() => parseFxJson([])).toThrow(/at least one/);
  });

  it('reads a CSV with its header in any order and names bad rows by line number', () => {
    const r = parseFxCsv('\uFEFFrate,day,currency,quote\r\n1.0843,2026-03-01,EUR,USD\r\n\r\nabc,2026-03-02,EUR,USD\n1.1,2026-03-03,EUR\n');
    expect(r.rates[0]).toEqual({ day: '2026-03-01', currency: 'EUR', quote: 'USD', rateMicros: '1084300' });
    expect(r.origins).toEqual(['line 2', 'line 4']);
    expect(Object.keys(r.errors)).toEqual(['line 4.rate', 'line 5']);
    expect(() => parseFxCsv('day,currency,rate\n')).toThrow(/line 1 .*missing: quote/);
  });

  it('maps reporting\'s per-row errors back to where each row came from', () => {
    expect(rowErrors(['line 2', 'line 4'], [{ index: 1, field: 'day', problem: 'must be a real calendar day' }])).toEqual({ 'line 4.day': 'must be a real calendar day' });
  });
});
