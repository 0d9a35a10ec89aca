import { csvCell, performanceCsv, toCsv } from './csv';
import { PerformanceRow, RevenueTotal } from '@trackly/contracts/reporting/v1/reporting_service';

const m = (currencyCode: string, amountMicros: string) => ({ currencyCode, amountMicros });
const total = (c: string, approved: string, conversions: string): RevenueTotal =>
  RevenueTotal.fromPartial({ revenue: m(c, approved), revenuePerSend: m(c, String(Number(approved) / 4)), conversions });
const row = (key: string, revenue: RevenueTotal[]): PerformanceRow =>
  PerformanceRow.fromPartial({ key, sends: '4', clicks: '2', uniqueClicks: '2', taps: '3', conversions: '2', revenue });


describe('csv', () => {
  it('quotes commas, quotes and line breaks, and writes CRLF lines', () => {
    expect(toCsv(['a', 'b'], [['x,y', 'say "hi"'], ['line\nbreak', 7n]])).toBe('a,b\r\n"x,y","say ""hi"""\r\n"line\nbreak",7\r\n');
  });

  it('keeps text cells from being read as formulas, but not numbers', () => {
    expect(['=SUM(A1)', '+1***1234', '@cmd', '-2+3', '-12.50', '12'].map(csvCell)).toEqual(["'=SUM(A1)", "'+1***1234", "'@cmd", "'-2+3", '-12.50', '12']);
  });

  it('writes absent values as empty cells', () => {
    expect([undefined, null, '', false].map(csvCell)).toEqual(['', '', '', 'false']);
  });
});

describe('performance CSV', () => {
  it('prints a row with two currencies once: counts once, each currency in columns of its own', () => {
    const csv = performanceCsv({
      rows: [row('cr-1', [total('EUR', '10000000', '1'), total('USD', '20000000', '1')]), row('cr-2', [])],
      total: row('', [total('EUR', '10000000', '1'), total('USD', '20000000', '1')]),
      timeZone: 'UTC', thenBy: 0, dateBasis: 0,
    }).split('\r\n');
    expect(csv).toHaveLength(5); // header, two groups, TOTAL, trailing empty
    const header = csv[0].split(',');
    const cells = (line: string) => Object.fromEntries(line.split(',').map((v, i) => [header[i], v]));
    expect(cells(csv[1])).toMatchObject({ key: 'cr-1', sends: '4', clicks: '2', taps: '3', revenue_EUR: '10.00', revenue_USD: '20.00', revenue_per_send_USD: '5.00' });
    expect(cells(csv[2])).toMatchObject({ key: 'cr-2', sends: '4', revenue_EUR: '0.00', conversions_USD: '0' });
    expect(cells(csv[3])).toMatchObject({ key: 'TOTAL', sends: '4' });
  });

  it('adds the converted view after the original columns when a reporting currency was asked for', () => {
    const converted = {
      revenue: m('USD', '30843000'), pendingRevenue: m('USD', '0'), reversed: m('USD', '0'), conversions: '2', firstRateDay: '2026-03-01', lastRateDay: '2026-03-03',
      fxMissing: [{ amount: m('GBP', '4000000'), conversions: '1', firstDay: '2026-03-02', lastDay: '2026-03-02' }],
    };
    const withConverted = (r: PerformanceRow) => ({ ...r, converted });
    const csv = performanceCsv({
      rows: [withConverted(row('cr-1', [total('EUR', '10000000', '1'), total('USD', '20000000', '1')]))],
      total: withConverted(row('', [total('EUR', '10000000', '1'), total('USD', '20000000', '1')])),
      timeZone: 'UTC', thenBy: 0, dateBasis: 0,
    }).split('\r\n');
    const header = csv[0].split(',');
    expect(header.slice(-8)).toEqual([
      'converted_revenue_USD', 'converted_pending_revenue_USD', 'converted_reversed_revenue_USD', 'converted_conversions',
      'fx_first_rate_day', 'fx_last_rate_day', 'fx_missing_conversions', 'fx_missing',
    ]);
    const cells = Object.fromEntries(csv[1].split(',').map((v, i) => [header[i], v]));
    expect(cells).toMatchObject({
      revenue_EUR: '10.00', revenue_USD: '20.00', converted_revenue_USD: '30.843', converted_conversions: '2',
      fx_first_rate_day: '2026-03-01', fx_last_rate_day: '2026-03-03', fx_missing_conversions: '1', fx_missing: 'GBP 4.00 x1 2026-03-02..2026-03-02',
    });
  });
});
