import { DateBasis, ReportGrouping } from '@trackly/contracts/reporting/v1/reporting_service';
import { buildPerformanceReport, ratioPpm, revenueTotal } from './performance';

const usd = (micros: number | bigint) => ({ currencyCode: 'USD', amountMicros: String(micros) });
const eur = (micros: number | bigint) => ({ currencyCode: 'EUR', amountMicros: String(micros) });

describe('revenueTotal', () => {
  it('divides approved revenue by sends and by clicks, rounding half away from zero', () => {
    expect(revenueTotal('EUR', 35_000_000n, 1n, 3n, 2n)).toMatchObject({
      revenue: eur(35_000_000),
      pendingRevenue: eur(1),
      revenuePerSend: eur(11_666_667),
      epc: eur(17_500_000),
    });
    expect(revenueTotal('USD', 5n, 0n, 2n, 4n).revenuePerSend).toEqual(usd(3));
    expect(revenueTotal('USD', 5n, 0n, 2n, 4n).epc).toEqual(usd(1));
  });

  it('answers 0 when there is nothing to divide by', () => {
    const r = revenueTotal('USD', 24_990_000n, 0n, 0n, 0n);
    expect(r.revenuePerSend).toEqual(usd(0));
    expect(r.epc).toEqual(usd(0));
    expect(r.revenue).toEqual(usd(24_990_000));
  });
});

describe('buildPerformanceReport', () => {
  const names = new Map([['cr-1', 'Summer Sale 20%']]);

  it('merges activity and revenue by key, ordered by key, with names and per-currency revenue', () => {
    const report = buildPerformanceReport(
      [
        { key: 'cr-2', sends: 2n, clicks: 1n, taps: 1n },
        { key: 'cr-1', sends: 1n, clicks: 1n, taps: 2n },
        { key: 'cr-1', sends: 1n, clicks: 1n, taps: 1n },
      ],
      [
        { key: 'cr-1', currency: 'USD', conversions: 3n, approvedMicros: 24_990_000n, pendingMicros: 10_000_000n },
        { key: 'cr-1', currency: 'EUR', conversions: 2n, approvedMicros: 35_000_000n, pendingMicros: 0n },
        { key: 'cr-2', currency: 'USD', conversions: 1n, approvedMicros: 12_000_000n, pendingMicros: 0n },
      ],
      names,
      'America/New_York',
    );
    expect(report.timeZone).toBe('America/New_York');
    expect(report.rows).toMatchObject([
      {
        // Three taps, two engagements: EPC divides by the engagements, never by the repeat tap.
        key: 'cr-1', name: 'Summer Sale 20%', sends: '2', clicks: '2', uniqueClicks: '2', taps: '3', conversions: '5',
        revenue: [
          { revenue: eur(35_000_000), pendingRevenue: eur(0), revenuePerSend: eur(17_500_000), epc: eur(17_500_000) },
          { revenue: usd(24_990_000), pendingRevenue: usd(10_000_000), revenuePerSend: usd(12_495_000), epc: usd(12_495_000) },
        ],
      },
      {
        key: 'cr-2', name: '', sends: '2', clicks: '1', uniqueClicks: '1', conversions: '1',
        revenue: [{ revenue: usd(12_000_000), pendingRevenue: usd(0), revenuePerSend: usd(6_000_000), epc: usd(12_000_000) }],
      },
    ]);
  });

  it('computes the total row from summed amounts, never by adding ratios', () => {
    const report = buildPerformanceReport(
      [
        { key: 'a', sends: 1n, clicks: 1n, taps: 1n },
        { key: 'b', sends: 3n, clicks: 0n, taps: 0n },
      ],
      [
        { key: 'a', currency: 'USD', conversions: 1n, approvedMicros: 10n, pendingMicros: 0n },
        { key: 'b', currency: 'USD', conversions: 1n, approvedMicros: 10n, pendingMicros: 4n },
      ],
      new Map(),
      'UTC',
    );
    // Per row: a = 10/1 and b = 10/3 -> 3; summing those would say 13. Over the total: 20 / 4 = 5.
    expect(report.total).toMatchObject({
      key: '', name: '', sends: '4', clicks: '1', uniqueClicks: '1', conversions: '2',
      revenue: [{ revenue: usd(20), pendingRevenue: usd(4), revenuePerSend: usd(5), epc: usd(20) }],
    });
    expect(report.rows.map((r) => r.revenue[0].epc)).toEqual([usd(10), usd(0)]);
  });

  it('keeps a group that only has conversions, and orders date keys chronologically', () => {
    const report = buildPerformanceReport(
      [{ key: '2026-03-11', sends: 1n, clicks: 0n, taps: 0n }],
      [{ key: '2026-03-09', currency: 'USD', conversions: 1n, approvedMicros: 0n, pendingMicros: 7n }],
      new Map(),
      'UTC',
    );
    expect(report.rows.map((r) => [r.key, r.sends, r.conversions])).toEqual([
      ['2026-03-09', '0', '1'],
      ['2026-03-11', '1', '0'],
    ]);
  });

  it('answers an empty report with a zero total', () => {
    expect(buildPerformanceReport([], [], new Map(), 'UTC')).toEqual({
      rows: [],
      total: {
        key: '', name: '', key2: '', name2: '', sends: '0', clicks: '0', uniqueClicks: '0', taps: '0', conversions: '0', reversedConversions: '0',
        ctrPpm: '0', cvrPpm: '0', revenue: [], activityNotApplicable: false,
      },
      timeZone: 'UTC',
      thenBy: ReportGrouping.REPORT_GROUPING_UNSPECIFIED,
      dateBasis: DateBasis.DATE_BASIS_CONVERSION,
    });
  });

  it('keys rows by two dimensions with both names, and keeps reversed revenue and counts apart', () => {
    const report = buildPerformanceReport(
      [
        { key: 'cr-1', key2: 'off-2', sends: 3n, clicks: 1n, taps: 1n },
        { key: 'cr-1', key2: 'off-1', sends: 10_000n, clicks: 1_200n, taps: 1_300n },
      ],
      [
        { key: 'cr-1', key2: 'off-1', currency: 'USD', conversions: 48n, reversedConversions: 2n, approvedMicros: 1_152_000_000n, pendingMicros: 0n, reversedMicros: 50_000_000n },
      ],
      new Map([['cr-1', 'Summer Sale 20%']]),
      { timeZone: 'UTC', thenBy: ReportGrouping.REPORT_GROUPING_OFFER, dateBasis: DateBasis.DATE_BASIS_SEND, names2: new Map([['off-1', 'Summer Clearance']]) },
    );
    expect(report.rows.map((r) => [r.key, r.name, r.key2, r.name2])).toEqual([
      ['cr-1', 'Summer Sale 20%', 'off-1', 'Summer Clearance'],
      ['cr-1', 'Summer Sale 20%', 'off-2', ''],
    ]);
    expect(report.rows[0]).toMatchObject({
      conversions: '48', reversedConversions: '2', ctrPpm: '120000', cvrPpm: '40000',
      revenue: [{ revenue: usd(1_152_000_000), revenuePerSend: usd(115_200), epc: usd(960_000), reversed: usd(50_000_000), conversions: '48', reversedConversions: '2' }],
    });
    // 1 / 3 sends = 333,333.33 ppm; no clicks -> CVR 0, not a division error.
    expect(report.rows[1]).toMatchObject({ ctrPpm: '333333', cvrPpm: '0' });
    expect(report).toMatchObject({ thenBy: ReportGrouping.REPORT_GROUPING_OFFER, dateBasis: DateBasis.DATE_BASIS_SEND });
  });
});

describe('by partner (activity not applicable)', () => {
  it('flags every row and the total, and leaves revenue per send and EPC unset instead of dividing by no sends', () => {
    const report = buildPerformanceReport(
      [],
      [
        { key: 'tune', currency: 'USD', conversions: 2n, reversedConversions: 1n, approvedMicros: 30_000_000n, pendingMicros: 5_000_000n, reversedMicros: 4_000_000n },
        { key: 'everflow', currency: 'EUR', conversions: 1n, approvedMicros: 7_000_000n, pendingMicros: 0n },
      ],
      new Map(),
      { timeZone: 'UTC', activityNotApplicable: true },
    );
    expect([...report.rows, report.total!].map((r) => [r.key, r.activityNotApplicable, r.sends, r.clicks, r.conversions])).toEqual([
      ['everflow', true, '0', '0', '1'],
      ['tune', true, '0', '0', '2'],
      ['', true, '0', '0', '3'],
    ]);
    for (const r of [...report.rows, report.total!]) {
      for (const t of r.revenue) expect([t.revenuePerSend, t.epc]).toEqual([undefined, undefined]);
    }
    expect(report.rows[1].revenue[0]).toMatchObject({ revenue: usd(30_000_000), pendingRevenue: usd(5_000_000), reversed: usd(4_000_000), reversedConversions: '1' });
  });
});

describe('ratioPpm', () => {
  it('is a ratio in millionths, rounded half away from zero, 0 for a zero denominator', () => {
    expect(ratioPpm(1_200n, 10_000n)).toBe(120_000n);
    expect(ratioPpm(2n, 3n)).toBe(666_667n);
    expect(ratioPpm(1n, 0n)).toBe(0n);
  });
});
