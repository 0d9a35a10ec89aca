import { addDays, daysBetween, dividedMicros, exactAmount, exactRatio, formatCount, formatInstant, formatMoney, formatRatio, toCsv, zonedMidnight } from '../src/format';
import { figures } from '../src/metrics';

describe('how the console writes numbers', () => {
  it('writes money with the currency symbol, two decimals and separators, rounding half away from zero; exact for hovers and CSV', () => {
    expect(formatMoney('USD', 1_152_000_000n)).toBe('$1,152.00');
    expect(formatMoney('USD', 12_495_000n)).toBe('$12.50');
    expect(formatMoney('USD', 12_494_999n)).toBe('$12.49');
    expect(formatMoney('EUR', -44_980_000n)).toBe('-€44.98');
    expect(formatMoney('USD', 1_234_567_890_123_456_789n)).toBe('$1,234,567,890,123.46');
    expect(exactAmount(115_200n)).toBe('0.1152');
    expect(exactAmount(1n)).toBe('0.000001');
    expect(exactAmount(-24_990_000n)).toBe('-24.99');
  });

  it('counts int64 strings exactly, beyond 2^53', () => {
    expect(formatCount('9007199254740993')).toBe('9,007,199,254,740,993');
    expect(formatCount(undefined)).toBe('0');
  });

  it('writes ratios as percentages rounded to hundredths, and exact decimals for CSV', () => {
    expect(formatRatio(2n, 3n)).toBe('66.67%');
    expect(formatRatio(1200n, 10_000n)).toBe('12.00%');
    expect(formatRatio(3n, 1n)).toBe('300.00%');
    expect(formatRatio(1n, 0n)).toBe('–');
    expect(exactRatio(2n, 3n)).toBe('0.666667');
    expect(exactRatio(1n, 0n)).toBe('');
    expect(dividedMicros(24_990_000n, 3n)).toBe(8_330_000n);
    expect(dividedMicros(24_990_000n, 2n)).toBe(12_495_000n);
    expect(dividedMicros(1n, 0n)).toBeUndefined();
  });

  it('writes instants in the chosen zone and cuts days there', () => {
    expect(formatInstant('2026-05-01T23:30:00Z', 'UTC')).toBe('May 1, 2026, 23:30:00');
    expect(formatInstant('2026-05-01T23:30:00Z', 'Asia/Tokyo')).toBe('May 2, 2026, 08:30:00');
    expect(zonedMidnight('2026-03-08', 'America/New_York').toISOString()).toBe('2026-03-08T05:00:00.000Z');
    expect(zonedMidnight('2026-03-09', 'America/New_York').toISOString()).toBe('2026-03-09T04:00:00.000Z');
    expect(zonedMidnight('2026-05-01', 'Asia/Kathmandu').toISOString()).toBe('2026-04-30T18:15:00.000Z');
    expect(daysBetween('2026-02-27', '2026-03-01')).toEqual(['2026-02-27', '2026-02-28', '2026-03-01']);
    expect(addDays('2026-01-01', -1)).toBe('2025-12-31');
  });

  it('writes CSV per RFC 4180 and keeps spreadsheet formulas from running', () => {
    expect(toCsv([['a,b', '=1+1', '-5', 'say "hi"', 3n, undefined]])).toBe('"a,b",\'=1+1,-5,"say ""hi""",3,\r\n');
  });
});

describe('the performance figures', () => {
  it('counts an engagement per message (not per tap) and derives CTR, EPC and revenue per send from integers, per currency', () => {
    const f = figures({
      // Reporting's clicks are engagements; taps every person's tap.
      sends: '3', clicks: '2', uniqueClicks: '2', taps: '3', conversions: '1',
      revenue: [
        { revenue: { currencyCode: 'USD', amountMicros: '24990000' } },
        { revenue: { currencyCode: 'EUR', amountMicros: '10000000' }, pendingRevenue: { currencyCode: 'EUR', amountMicros: '5000000' } },
      ],
    });
    expect([f.sends, f.engagements, f.taps, f.conversions]).toEqual([3n, 2n, 3n, 1n]);
    expect(f.money).toEqual([
      { currency: 'EUR', approved: 10_000_000n, pending: 5_000_000n, reversed: 0n, perSend: 3_333_333n, epc: 5_000_000n, viewThrough: 0n, capped: 0n, held: 0n },
      { currency: 'USD', approved: 24_990_000n, pending: 0n, reversed: 0n, perSend: 8_330_000n, epc: 12_495_000n, viewThrough: 0n, capped: 0n, held: 0n },
    ]);
    expect(figures(undefined)).toMatchObject({ sends: 0n, engagements: 0n, money: [] });
  });
});
