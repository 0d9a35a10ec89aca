import { canonicalTimeZone } from '@trackly/kernel';
import { zonedWallTimeToInstant } from './partner-time-zone';

describe('canonicalTimeZone', () => {
  it.each([
    ['America/New_York', 'America/New_York'],
    ['UTC', 'UTC'],
    ['Europe/Berlin', 'Europe/Berlin'],
  ])('accepts %p as %p', (zone, canonical) => expect(canonicalTimeZone(zone)).toBe(canonical));

  it.each(['', 'Mars/Olympus', 'EST5EDT; DROP', 'a'.repeat(80), 'Europe/../etc'])('refuses %p', (zone) => expect(canonicalTimeZone(zone)).toBeUndefined());
});

describe('zonedWallTimeToInstant', () => {
  const at = (wall: string, zone: string) => zonedWallTimeToInstant(new Date(`${wall}Z`), zone).toISOString();

  it.each([
    // wall time, zone, instant
    ['2026-11-01T09:15:42', 'UTC', '2026-11-01T09:15:42.000Z'],
    ['2026-07-01T12:00:00', 'America/New_York', '2026-07-01T16:00:00.000Z'], // EDT, -4
    ['2026-12-01T12:00:00', 'America/New_York', '2026-12-01T17:00:00.000Z'], // EST, -5
    ['2026-07-01T12:00:00', 'Asia/Kolkata', '2026-07-01T06:30:00.000Z'],
    ['2026-03-29T02:30:00', 'Europe/Berlin', '2026-03-29T01:30:00.000Z'], // in the spring gap: offset before (+1)
    ['2026-03-08T02:30:00', 'America/New_York', '2026-03-08T07:30:00.000Z'], // in the spring gap: offset before (-5)
    ['2026-10-25T02:30:00', 'Europe/Berlin', '2026-10-25T00:30:00.000Z'], // happens twice: the first (+2)
  ])('%s in %s is %s', (wall, zone, instant) => expect(at(wall, zone)).toBe(instant));
});
