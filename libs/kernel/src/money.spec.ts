import { divideRounded, formatMicros, normaliseCurrency, parseDecimalMicros, sumByCurrency } from './money';
import { DomainError } from './errors';

describe('parseDecimalMicros', () => {
  it.each([
    ['24.99', 24_990_000n],
    ['24,99', 24_990_000n],
    ['0', 0n],
    ['0.000001', 1n],
    ['1000000', 1_000_000_000_000n],
    [' 7.5 ', 7_500_000n],
  ])('parses %p exactly', (text, micros) => {
    expect(parseDecimalMicros(text)).toBe(micros);
  });

  it.each(['', ' ', 'NaN', 'Infinity', '1e3', '0x10', '12abc', '1.2345678', '.5', '5.', '1,000.00', '--1', '+1', '１２'])(
    'rejects %p',
    (text) => {
      expect(() => parseDecimalMicros(text, { field: 'payout' })).toThrow(DomainError);
    },
  );

  it('rejects negatives unless allowed', () => {
    expect(() => parseDecimalMicros('-1.00')).toThrow(/must not be negative/);
    expect(() => parseDecimalMicros('-0')).toThrow(/must not be negative/);
    expect(() => parseDecimalMicros('-0.00')).toThrow(/must not be negative/);
    expect(parseDecimalMicros('-0', { allowNegative: true })).toBe(0n);
    expect(parseDecimalMicros('-1.00', { allowNegative: true })).toBe(-1_000_000n);
  });

  it('rejects absurd magnitudes', () => {
    expect(() => parseDecimalMicros('99999999999999')).toThrow(DomainError);
    expect(() => parseDecimalMicros('1000000000001')).toThrow(/too large/);
  });
});

describe('money helpers', () => {
  it('formats micros without floats', () => {
    expect(formatMicros(24_990_000n)).toBe('24.99');
    expect(formatMicros(1n)).toBe('0.000001');
    expect(formatMicros(-5_000_000n)).toBe('-5.00');
    expect(formatMicros(0n)).toBe('0.00');
  });

  it('sums per currency without converting', () => {
    expect(sumByCurrency([
      { currency: 'USD', micros: 1n }, { currency: 'EUR', micros: 2n }, { currency: 'USD', micros: 3n },
    ])).toEqual([{ currency: 'EUR', micros: 2n }, { currency: 'USD', micros: 4n }]);
  });

  it('divides with half-away-from-zero rounding', () => {
    expect(divideRounded(10n, 4n)).toBe(3n);
    expect(divideRounded(10n, 3n)).toBe(3n);
    expect(divideRounded(-10n, 4n)).toBe(-3n);
    expect(divideRounded(5n, 0n)).toBe(0n);
  });

  it('normalises currency codes', () => {
    expect(normaliseCurrency(' usd ')).toBe('USD');
    expect(() => normaliseCurrency('US')).toThrow(DomainError);
    expect(() => normaliseCurrency('\u0131dr')).toThrow(DomainError);
    expect(() => normaliseCurrency('u\u017Fd')).toThrow(DomainError);
    expect(() => normaliseCurrency('\uFF35\uFF33\uFF24')).toThrow(DomainError);
  });
});
