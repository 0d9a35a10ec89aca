import { parseMoneySpelling } from './money-spelling';

const read = (text: string, defaultCurrency = 'USD', currencyParam?: string) => parseMoneySpelling(text, { field: 'payout', defaultCurrency, currencyParam });

describe('parseMoneySpelling: accepted spellings', () => {
  it.each([
    // text, partner default, currency parameter, currency, micros
    ['25', 'USD', undefined, 'USD', 25_000_000n],
    ['24.99', 'EUR', undefined, 'EUR', 24_990_000n],
    ['24,99', 'EUR', undefined, 'EUR', 24_990_000n],
    ['$25', 'USD', undefined, 'USD', 25_000_000n],
    ['25$', 'USD', undefined, 'USD', 25_000_000n],
    ['$25', 'EUR', 'USD', 'USD', 25_000_000n],
    ['25.00 USD', 'EUR', undefined, 'USD', 25_000_000n],
    ['25USD', 'EUR', undefined, 'USD', 25_000_000n],
    ['USD 25', 'EUR', undefined, 'USD', 25_000_000n],
    ['usd 25', 'EUR', undefined, 'USD', 25_000_000n],
    ['25 usd', 'USD', 'USD', 'USD', 25_000_000n],
    ['€19,99', 'USD', undefined, 'EUR', 19_990_000n],
    ['19,99 €', 'USD', undefined, 'EUR', 19_990_000n],
    ['£5', 'USD', undefined, 'GBP', 5_000_000n],
    ['£5.5', 'GBP', 'GBP', 'GBP', 5_500_000n],
    ['1,234.56', 'USD', undefined, 'USD', 1_234_560_000n],
    ['1.234,56', 'EUR', undefined, 'EUR', 1_234_560_000n],
    ['1,234,567', 'USD', undefined, 'USD', 1_234_567_000_000n],
    ['EUR 1.234,56', 'USD', undefined, 'EUR', 1_234_560_000n],
    ['$1,234.56', 'USD', undefined, 'USD', 1_234_560_000n],
    ['1.234', 'USD', undefined, 'USD', 1_234_000n],
    ['0', 'USD', undefined, 'USD', 0n],
    ['0.000001', 'USD', undefined, 'USD', 1n],
  ] as const)('%p (partner %s, currency=%s) is %s %p micros', (text, def, param, currency, micros) => {
    expect(read(text, def, param)).toEqual({ ok: true, currency, micros });
  });
});

describe('parseMoneySpelling: refused spellings', () => {
  it.each([
    // text, partner default, currency parameter, words the reason must contain
    ['1,234', 'USD', undefined, 'ambiguous'],
    ['19,999', 'EUR', undefined, 'ambiguous'],
    ['$25', 'EUR', undefined, 'could be any dollar'],
    ['$25', 'USD', 'CAD', 'could be any dollar'],
    ['25 USD', 'USD', 'EUR', 'says USD but the currency parameter says EUR'],
    ['€5', 'USD', 'USD', 'says EUR but the currency parameter says USD'],
    ['1,23,4', 'USD', undefined, 'not a grouping of thousands'],
    ['1,234.567,8', 'USD', undefined, 'cannot be read as one amount'],
    ['1.234.56', 'USD', undefined, 'decimal'],
    ['12abc', 'USD', undefined, 'ISO 4217'],
    ['25 XXX', 'USD', undefined, 'ISO 4217'],
    ['NaN', 'USD', undefined, 'decimal'],
    ['1e3', 'USD', undefined, 'decimal'],
    ['0x10', 'USD', undefined, 'decimal'],
    ['-5', 'USD', undefined, 'must not be negative'],
    ['$', 'USD', undefined, 'decimal'],
    ['1.2345678', 'USD', undefined, 'at most 6 decimals'],
    ['99999999999999', 'USD', undefined, 'decimal'],
    ['US$25', 'USD', undefined, 'decimal'],
  ] as const)('%p (partner %s, currency=%s): %s', (text, def, param, reason) => {
    const r = read(text, def, param);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problem).toContain(reason);
  });
});
