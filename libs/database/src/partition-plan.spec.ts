import { addPeriods, parseBound, partitionName, periodStart, periodsFrom, planPartitions } from './partition-plan';

const at = (iso: string) => new Date(iso);

describe('daily partitions', () => {
  const now = at('2026-12-05T15:30:00Z');
  const plan = (existing: Parameters<typeof planPartitions>[0]['existing'], retentionDays: number, ahead: number) =>
    planPartitions({ table: 'clicks', granularity: 'day', now, existing, retentionDays, ahead });

  it('creates today and the days ahead that no partition covers, named by day', () => {
    const p = plan([
      { name: 'clicks_legacy', to: at('2026-12-07T00:00:00Z') },
      { name: 'clicks_p20261207', from: at('2026-12-07T00:00:00Z'), to: at('2026-12-08T00:00:00Z') },
    ], 120, 4);
    expect(p.create.map((c) => c.name)).toEqual(['clicks_p20261208', 'clicks_p20261209']);
    expect(p.create[0]).toEqual({ name: 'clicks_p20261208', from: at('2026-12-08T00:00:00Z'), to: at('2026-12-09T00:00:00Z') });
    expect(p.drop).toEqual([]);
  });

  it('with nothing yet, creates today through the last day ahead', () => {
    expect(plan([], 120, 2).create.map((c) => c.name)).toEqual(['clicks_p20261205', 'clicks_p20261206', 'clicks_p20261207']);
  });

  it('drops partitions whose every row is past the retention, the legacy one too, never one still in it', () => {
    const p = plan([
      { name: 'clicks_legacy', to: at('2026-08-01T00:00:00Z') },
      { name: 'clicks_p20260806', from: at('2026-08-06T00:00:00Z'), to: at('2026-08-07T00:00:00Z') },
      // 120 days before now is 2026-08-07T15:30Z: this one still holds rows inside the retention.
      { name: 'clicks_p20260807', from: at('2026-08-07T00:00:00Z'), to: at('2026-08-08T00:00:00Z') },
      { name: 'clicks_default', isDefault: true },
    ], 120, 0);
    expect(p.drop).toEqual(['clicks_legacy', 'clicks_p20260806']);
    expect(p.create.map((c) => c.name)).toEqual(['clicks_p20261205']);
  });

  it('drops a day exactly when its end reaches the horizon, not a millisecond before', () => {
    const day = { name: 'clicks_p20260806', from: at('2026-08-06T00:00:00Z'), to: at('2026-08-07T00:00:00Z') };
    const keep = planPartitions({ table: 'clicks', granularity: 'day', now: at('2026-12-04T23:59:59.999Z'), existing: [day], retentionDays: 120, ahead: 0 });
    const drop = planPartitions({ table: 'clicks', granularity: 'day', now: at('2026-12-05T00:00:00Z'), existing: [day], retentionDays: 120, ahead: 0 });
    expect(keep.drop).toEqual([]);
    expect(drop.drop).toEqual(['clicks_p20260806']);
  });

  it('names a partition by its UTC day', () => {
    expect(partitionName('clicks', at('2027-01-09T00:00:00Z'), 'day')).toBe('clicks_p20270109');
  });
});

describe('monthly partitions', () => {
  it('creates this month and the months ahead across a year end, named by month', () => {
    const p = planPartitions({ table: 'postback_requests', granularity: 'month', now: at('2026-12-31T23:00:00Z'), existing: [], retentionDays: 400, ahead: 2 });
    expect(p.create).toEqual([
      { name: 'postback_requests_p202612', from: at('2026-12-01T00:00:00Z'), to: at('2027-01-01T00:00:00Z') },
      { name: 'postback_requests_p202701', from: at('2027-01-01T00:00:00Z'), to: at('2027-02-01T00:00:00Z') },
      { name: 'postback_requests_p202702', from: at('2027-02-01T00:00:00Z'), to: at('2027-03-01T00:00:00Z') },
    ]);
  });

  it('drops a month only once its last row is past the retention', () => {
    const months = ['2025-10', '2025-11', '2025-12'].map((m) => ({ name: `t_p${m.replace('-', '')}`, from: at(`${m}-01T00:00:00Z`), to: addPeriods(at(`${m}-01T00:00:00Z`), 1, 'month') }));
    // 400 days before 2027-01-05 is 2025-12-01: November ends exactly there, December still holds rows inside.
    const p = planPartitions({ table: 't', granularity: 'month', now: at('2027-01-05T00:00:00Z'), existing: [...months, { name: 't_history', to: at('2025-10-01T00:00:00Z') }], retentionDays: 400, ahead: 0 });
    expect(p.drop).toEqual(['t_history', 't_p202510', 't_p202511']);
  });

  it('finds the start of a day and of a month in UTC', () => {
    expect(periodStart(at('2026-02-28T23:59:59Z'), 'month')).toEqual(at('2026-02-01T00:00:00Z'));
    expect(periodStart(at('2026-02-28T23:59:59Z'), 'day')).toEqual(at('2026-02-28T00:00:00Z'));
    expect(addPeriods(at('2026-01-01T00:00:00Z'), -2, 'month')).toEqual(at('2025-11-01T00:00:00Z'));
  });
});

describe('partition bounds as Postgres prints them', () => {
  it('reads ranges, MINVALUE and DEFAULT, and refuses anything else', () => {
    expect(parseBound('clicks_legacy', "FOR VALUES FROM (MINVALUE) TO ('2026-12-07 00:00:00+00')")).toEqual({ name: 'clicks_legacy', from: undefined, to: at('2026-12-07T00:00:00Z') });
    expect(parseBound('d', 'DEFAULT')).toEqual({ name: 'd', isDefault: true });
    expect(() => parseBound('x', 'FOR VALUES IN (1)')).toThrow(/unexpected partition bound of x/);
  });
});

describe('periodsFrom', () => {
  it('names and bounds consecutive periods as the keeper does, across a month end', () => {
    expect(periodsFrom('clicks', at('2026-11-29T00:00:00Z'), 3, 'day')).toEqual([
      { name: 'clicks_p20261129', from: at('2026-11-29T00:00:00Z'), to: at('2026-11-30T00:00:00Z') },
      { name: 'clicks_p20261130', from: at('2026-11-30T00:00:00Z'), to: at('2026-12-01T00:00:00Z') },
      { name: 'clicks_p20261201', from: at('2026-12-01T00:00:00Z'), to: at('2026-12-02T00:00:00Z') },
    ]);
    expect(periodsFrom('postback_requests', at('2026-12-01T00:00:00Z'), 2, 'month').map((p) => [p.name, p.to.toISOString()])).toEqual([
      ['postback_requests_p202612', '2027-01-01T00:00:00.000Z'],
      ['postback_requests_p202701', '2027-02-01T00:00:00.000Z'],
    ]);
    expect(periodsFrom('clicks', at('2026-12-01T00:00:00Z'), 0, 'day')).toEqual([]);
  });
});
