import { compareCounts } from './drift';

const c = (day: string, eventType: string, count: number) => ({ day, eventType, count: String(count) });

describe('compareCounts', () => {
  it('compares each read model with the producer of each event type, per day, and lists only the differences', () => {
    const { drifts, compared } = compareCounts([
      { service: 'tracking', produced: [c('2026-12-01', 'MessageSent', 10), c('2026-12-02', 'MessageSent', 5), c('2026-12-01', 'ClickRecorded', 3)], applied: [] },
      { service: 'attribution', produced: [], applied: [c('2026-12-01', 'MessageSent', 10), c('2026-12-02', 'MessageSent', 4), c('2026-12-01', 'ClickRecorded', 3)] },
      // Reporting lacks a day of sends entirely, and holds a day of clicks the producer does not have.
      { service: 'reporting', produced: [], applied: [c('2026-12-01', 'MessageSent', 10), c('2026-12-01', 'ClickRecorded', 3), c('2026-12-03', 'ClickRecorded', 1)] },
    ]);
    expect(compared).toBe(7);
    expect(drifts).toEqual([
      { day: '2026-12-02', eventType: 'MessageSent', producer: 'tracking', produced: 5, readModel: 'attribution', applied: 4 },
      { day: '2026-12-02', eventType: 'MessageSent', producer: 'tracking', produced: 5, readModel: 'reporting', applied: 0 },
      { day: '2026-12-03', eventType: 'ClickRecorded', producer: 'tracking', produced: 0, readModel: 'reporting', applied: 1 },
    ]);
  });

  it('counts a type a read model applies but holds none of as drift (emptied, or a reset not yet caught up)', () => {
    const tracking = { service: 'tracking', produced: [c('2026-12-01', 'MessageSent', 10), c('2026-12-01', 'ClickRecorded', 3)], applied: [] };
    const attribution = { service: 'attribution', produced: [], applied: [c('2026-12-01', 'MessageSent', 10)] };
    // Known only from its rows, the clicks' type is missing from the read model, and nothing looks wrong.
    expect(compareCounts([tracking, attribution]).drifts).toEqual([]);
    const { drifts, compared } = compareCounts([tracking, { ...attribution, appliedTypes: ['MessageSent', 'ClickRecorded'] }]);
    expect(compared).toBe(2);
    expect(drifts).toEqual([{ day: '2026-12-01', eventType: 'ClickRecorded', producer: 'tracking', produced: 3, readModel: 'attribution', applied: 0 }]);
  });

  it('ignores event types nobody produces in the answer, and says when nothing was compared', () => {
    const { drifts, compared } = compareCounts([{ service: 'reporting', produced: [], applied: [c('2026-12-01', 'MessageSent', 2)] }]);
    expect(drifts).toEqual([]);
    expect(compared).toBe(0);
  });
});
