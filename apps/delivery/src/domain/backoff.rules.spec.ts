import { backoffStep, DEFAULT_BACKOFF, isSuccess, nextAttemptAt } from './backoff.rules';

const T0 = new Date('2026-12-01T00:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

describe('retry backoff', () => {
  it('doubles from the base up to the cap', () => {
    expect([1, 2, 3, 4].map((n) => backoffStep(DEFAULT_BACKOFF, n))).toEqual([5_000, 10_000, 20_000, 40_000]);
    expect(backoffStep(DEFAULT_BACKOFF, 20)).toBe(6 * 3_600_000);
    expect(backoffStep(DEFAULT_BACKOFF, 1000)).toBe(6 * 3_600_000);
  });

  it('jitters within [step/2, step)', () => {
    expect(nextAttemptAt(DEFAULT_BACKOFF, 3, T0, T0, 0)).toEqual(at(10_000));
    expect(nextAttemptAt(DEFAULT_BACKOFF, 3, T0, T0, 0.999999)!.getTime()).toBeLessThan(at(20_000).getTime());
    expect(nextAttemptAt(DEFAULT_BACKOFF, 3, T0, T0, 0.5)).toEqual(at(15_000));
  });

  it('keeps retrying for 3 days, trying once more at the horizon, then gives up', () => {
    let now = T0;
    let failed = 0;
    const times: Date[] = [];
    for (;;) {
      failed++;
      const next = nextAttemptAt(DEFAULT_BACKOFF, failed, T0, now, 0.5);
      if (!next) break;
      times.push(next);
      now = next;
    }
    const horizon = T0.getTime() + 3 * 86_400_000;
    expect(times[times.length - 1].getTime()).toBe(horizon);
    expect(times.every((t, i) => i === 0 || t > times[i - 1])).toBe(true);
    // 5 s doubling to a 6 h cap (jitter at the midpoint): 13 growing steps (8.5 h), 14 capped ones, one at the
    // horizon — 28 retries after the first attempt; the 29th failure gives up.
    expect(times).toHaveLength(28);
    expect(failed).toBe(29);
  });

  it('counts only 2xx as delivered', () => {
    expect([200, 201, 204, 299].every(isSuccess)).toBe(true);
    expect([0, 199, 301, 400, 410, 429, 500, 503].some(isSuccess)).toBe(false);
  });
});
