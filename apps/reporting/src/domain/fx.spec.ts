import { RateBook, convertConversions, convertMicros, divideHalfEven, validateFxRates } from './fx';

describe('convertMicros (half-even)', () => {
  it('multiplies in micros and rounds ties to the even neighbour', () => {
    expect(convertMicros(10_000_000n, 1_084_300n)).toBe(10_843_000n); // 10 EUR at 1.0843 = 10.843 USD
    expect(convertMicros(1n, 500_000n)).toBe(0n); // 0.5 micro -> 0 (even)
    expect(convertMicros(3n, 500_000n)).toBe(2n); // 1.5 micro -> 2 (even)
    expect(convertMicros(5n, 500_000n)).toBe(2n); // 2.5 micro -> 2 (even)
    expect(convertMicros(1n, 600_000n)).toBe(1n); // 0.6 -> 1
    expect(convertMicros(-3n, 500_000n)).toBe(-2n); // symmetric for reversals
  });
  it('divides exactly on big amounts (no float)', () => {
    expect(convertMicros(999_999_999_999_999_999n, 1_000_001n)).toBe(1_000_000_999_999_999_999n); // …998.999999 rounds up;
    expect(divideHalfEven(7n, 2n)).toBe(4n);
    expect(divideHalfEven(9n, 2n)).toBe(4n);
  });
});

describe('RateBook.rateOn', () => {
  const book = new RateBook('USD', [
    { day: '2026-03-01', currency: 'EUR', quote: 'USD', rateMicros: 1_080_000n },
    { day: '2026-03-05', currency: 'EUR', quote: 'USD', rateMicros: 1_090_000n },
    { day: '2026-03-03', currency: 'EUR', quote: 'USD', rateMicros: 1_085_000n },
    { day: '2026-03-02', currency: 'EUR', quote: 'GBP', rateMicros: 860_000n },
  ]);
  it('takes the latest rate on or before the day', () => {
    expect(book.rateOn('EUR', '2026-03-01')).toEqual({ day: '2026-03-01', rateMicros: 1_080_000n });
    expect(book.rateOn('EUR', '2026-03-02')).toEqual({ day: '2026-03-01', rateMicros: 1_080_000n });
    expect(book.rateOn('EUR', '2026-03-04')).toEqual({ day: '2026-03-03', rateMicros: 1_085_000n });
    expect(book.rateOn('EUR', '2027-01-01')).toEqual({ day: '2026-03-05', rateMicros: 1_090_000n });
  });
  it('has no rate before the first one, for an unknown currency, or from another quote', () => {
    expect(book.rateOn('EUR', '2026-02-28')).toBeUndefined();
    expect(book.rateOn('GBP', '2026-03-04')).toBeUndefined();
  });
  it('converts the quote currency to itself at 1 without a rate day', () => {
    expect(book.rateOn('USD', '1999-01-01')).toEqual({ day: undefined, rateMicros: 1_000_000n });
  });
});

describe('convertConversions', () => {
  it('converts each conversion at its day, sums per row and total, and names what has no rate', () => {
    const book = new RateBook('USD', [
      { day: '2026-03-01', currency: 'EUR', quote: 'USD', rateMicros: 1_100_000n },
      { day: '2026-03-03', currency: 'EUR', quote: 'USD', rateMicros: 1_200_000n },
    ]);
    const t = convertConversions(book, [
      { key: 'a', day: '2026-03-02', currency: 'EUR', status: 'approved', payoutMicros: 10_000_000n }, // 11.00
      { key: 'a', day: '2026-03-04', currency: 'EUR', status: 'approved', payoutMicros: 10_000_000n }, // 12.00
      { key: 'a', day: '2026-03-04', currency: 'USD', status: 'pending', payoutMicros: 5_000_000n }, // 5.00
      { key: 'b', day: '2026-03-04', currency: 'EUR', status: 'reversed', payoutMicros: 1_000_000n }, // 1.20
      { key: 'b', day: '2026-02-27', currency: 'EUR', status: 'approved', payoutMicros: 7_000_000n }, // no rate
      { key: 'b', day: '2026-03-04', currency: 'GBP', status: 'approved', payoutMicros: 2_000_000n }, // no rate
    ]);
    const a = t.get('a')!;
    expect([a.approvedMicros, a.pendingMicros, a.reversedMicros, a.conversions]).toEqual([23_000_000n, 5_000_000n, 0n, 3]);
    expect([a.firstRateDay, a.lastRateDay, a.missing.size]).toEqual(['2026-03-01', '2026-03-03', 0]);
    const b = t.get('b')!;
    expect([b.approvedMicros, b.reversedMicros, b.conversions]).toEqual([0n, 1_200_000n, 1]);
    expect(b.missing.get('EUR')).toEqual({ conversions: 1, amountMicros: 7_000_000n, firstDay: '2026-02-27', lastDay: '2026-02-27' });
    expect(b.missing.get('GBP')).toEqual({ conversions: 1, amountMicros: 2_000_000n, firstDay: '2026-03-04', lastDay: '2026-03-04' });
    const total = t.get('')!;
    expect([total.approvedMicros, total.pendingMicros, total.reversedMicros, total.conversions]).toEqual([23_000_000n, 5_000_000n, 1_200_000n, 4]);
    expect(total.missing.size).toBe(2);
  });
});

describe('validateFxRates', () => {
  it('accepts good rows and reports every bad one with its index', () => {
    const { rates, errors } = validateFxRates([
      { day: '2026-03-01', currency: 'EUR', quote: 'USD', rateMicros: '1084300' },
      { day: '2026-02-30', currency: 'eur', quote: 'USD', rateMicros: '0' },
      { day: '2026-03-01', currency: 'USD', quote: 'USD', rateMicros: '1.5' },
      { day: '2026-03-01', currency: 'EUR', quote: 'USD', rateMicros: '1084400' },
    ]);
    expect(rates).toHaveLength(1);
    expect(errors.map((e) => [e.index, e.field])).toEqual([
      [1, 'day'], [1, 'currency'], [1, 'rate'],
      [2, 'quote'], [2, 'rate'],
      [3, 'day'],
    ]);
    expect(errors[5].problem).toMatch(/repeats row 1/);
  });
});
