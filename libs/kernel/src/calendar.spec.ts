import { addDays, canonicalTimeZone, epochDay, localDay } from './calendar';

describe('calendar', () => {
  it.each([['utc', 'UTC'], ['europe/berlin', 'Europe/Berlin'], ['Etc/GMT+5', 'Etc/GMT+5'], ['america/new_york', 'America/New_York']])(
    'names %p canonically as %p',
    (name, canonical) => expect(canonicalTimeZone(name)).toBe(canonical),
  );

  it.each(['', '+05:30', 'EST5EDT,M3.2.0,M11.1.0', 'Mars/Olympus', 'Europe/../etc', 'Europe/ Paris', 'a'.repeat(80)])('refuses %p', (name) =>
    expect(canonicalTimeZone(name)).toBeUndefined());

  it('counts real calendar days only', () => {
    expect(epochDay('1970-01-01')).toBe(0);
    expect(epochDay('2024-03-01')! - epochDay('2024-02-28')!).toBe(2);
    for (const bad of ['2025-02-29', '2026-13-01', '2026-1-1', '0000-01-01', '2026-01-01T00:00:00Z']) expect(epochDay(bad)).toBeUndefined();
  });

  it('finds the local day and moves across month and year ends', () => {
    expect(localDay(new Date('2026-01-01T03:00:00Z'), 'America/Los_Angeles')).toBe('2025-12-31');
    expect(addDays('2026-03-01', -1)).toBe('2026-02-28');
  });
});
