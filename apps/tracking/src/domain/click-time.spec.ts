import { CLICK_TIME_TOLERANCE_MS, earliestClickTime } from './click-time';

describe('earliestClickTime', () => {
  it('is a day before the earlier of registration and send', () => {
    const created = new Date('2026-12-06T10:00:00Z');
    // A scheduled send: registered first.
    expect(earliestClickTime(created, new Date('2026-12-08T09:00:00Z'))).toEqual(new Date('2026-12-05T10:00:00Z'));
    // A backfilled send: sent before it was registered.
    expect(earliestClickTime(created, new Date('2026-11-20T08:00:00Z'))).toEqual(new Date('2026-11-19T08:00:00Z'));
    expect(CLICK_TIME_TOLERANCE_MS).toBe(86_400_000);
  });
});
