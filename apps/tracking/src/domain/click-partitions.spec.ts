import { dayPartitionName, planClickPartitions } from './click-partitions';

const at = (iso: string) => new Date(iso);

describe('daily partitions of clicks', () => {
  const now = at('2026-12-05T15:30:00Z');

  it('creates today and the days ahead that no partition covers, named by day', () => {
    const plan = planClickPartitions(now, [
      { name: 'clicks_legacy', to: at('2026-12-07T00:00:00Z') },
      { name: 'clicks_p20261207', from: at('2026-12-07T00:00:00Z'), to: at('2026-12-08T00:00:00Z') },
    ], 120, 4);
    expect(plan.create.map((c) => c.name)).toEqual(['clicks_p20261208', 'clicks_p20261209']);
    expect(plan.create[0]).toEqual({ name: 'clicks_p20261208', from: at('2026-12-08T00:00:00Z'), to: at('2026-12-09T00:00:00Z') });
    expect(plan.drop).toEqual([]);
  });

  it('with nothing yet, creates today through the last day ahead', () => {
    expect(planClickPartitions(now, [], 120, 2).create.map((c) => c.name)).toEqual(['clicks_p20261205', 'clicks_p20261206', 'clicks_p20261207']);
  });

  it('drops partitions whose every row is past the retention, the legacy one too, never one still in it', () => {
    const plan = planClickPartitions(now, [
      { name: 'clicks_legacy', to: at('2026-08-01T00:00:00Z') },
      { name: 'clicks_p20260806', from: at('2026-08-06T00:00:00Z'), to: at('2026-08-07T00:00:00Z') },
      // 120 days before now is 2026-08-07T15:30Z: this one still holds rows inside the retention.
      { name: 'clicks_p20260807', from: at('2026-08-07T00:00:00Z'), to: at('2026-08-08T00:00:00Z') },
      { name: 'clicks_default', isDefault: true },
    ], 120, 0);
    expect(plan.drop).toEqual(['clicks_legacy', 'clicks_p20260806']);
    expect(plan.create.map((c) => c.name)).toEqual(['clicks_p20261205']);
  });

  it('names a partition by its UTC day', () => {
    expect(dayPartitionName(at('2027-01-09T00:00:00Z'))).toBe('clicks_p20270109');
  });
});
