import { buildCohortMaturity } from './maturity';

const usd = (m: number) => ({ currencyCode: 'USD', amountMicros: String(m) });

describe('buildCohortMaturity', () => {
  it('divides cumulative approved revenue by the cohort sends at day 1, 7, 30 and 90', () => {
    const r = buildCohortMaturity(
      [{ key: 'cr-1', sends: 10_000n }, { key: 'cr-2', sends: 3n }],
      [
        { key: 'cr-1', currency: 'USD', withinDays: [240_000_000n, 960_000_000n, 1_152_000_000n, 1_152_000_000n] },
        { key: 'cr-2', currency: 'EUR', withinDays: [0n, 1n, 1n, 2n] },
      ],
      new Map([['cr-1', 'Summer Sale 20%']]),
      'UTC',
      true,
    );
    expect(r.rows[0]).toEqual({
      key: 'cr-1', name: 'Summer Sale 20%', sends: '10000',
      points: [
        { days: 1, revenue: [usd(240_000_000)], revenuePerSend: [usd(24_000)], immature: false, maturesAt: undefined },
        { days: 7, revenue: [usd(960_000_000)], revenuePerSend: [usd(96_000)], immature: false, maturesAt: undefined },
        { days: 30, revenue: [usd(1_152_000_000)], revenuePerSend: [usd(115_200)], immature: false, maturesAt: undefined },
        { days: 90, revenue: [usd(1_152_000_000)], revenuePerSend: [usd(115_200)], immature: false, maturesAt: undefined },
      ],
    });
    // The total keeps currencies apart and divides by all the cohort's sends.
    expect(r.total!.sends).toBe('10003');
    expect(r.total!.points[3].revenuePerSend).toEqual([{ currencyCode: 'EUR', amountMicros: '0' }, usd(115_165)]);
  });

  it('answers only the total without a grouping', () => {
    const r = buildCohortMaturity([{ key: '', sends: 5n }], [], new Map(), 'Asia/Tokyo', false);
    expect(r.rows).toEqual([]);
    expect(r.total).toMatchObject({ sends: '5', points: [{ days: 1, revenue: [] }, { days: 7 }, { days: 30 }, { days: 90 }] });
    expect(r.timeZone).toBe('Asia/Tokyo');
  });

  it('leaves points younger than the cohort empty and marked immature, never repeating the latest value', () => {
    const cohortEnd = new Date('2026-05-08T00:00:00Z');
    const r = buildCohortMaturity([{ key: '', sends: 10n }], [{ key: '', currency: 'USD', withinDays: [5n, 9n, 9n, 9n] }], new Map(), 'UTC', false, {
      cohortEnd,
      now: new Date('2026-05-20T00:00:00Z'),
    });
    expect(r.total!.points.map((p) => [p.days, p.immature, p.revenue.map((m) => m.amountMicros), p.maturesAt?.toISOString().slice(0, 10)])).toEqual([
      [1, false, ['5'], '2026-05-09'],
      [7, false, ['9'], '2026-05-15'],
      [30, true, [], '2026-06-07'],
      [90, true, [], '2026-08-06'],
    ]);
  });
});
