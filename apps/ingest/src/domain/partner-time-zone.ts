/**
 * A partner's time zone: TUNE's {datetime} (and, once a partner names its zone, any "YYYY-MM-DD HH:MM:SS" without an
 * offset) is a wall-clock time in the partner's account zone. Pure: Intl's IANA database, no clock.
 */

// The zone's name is checked by the kernel's canonicalTimeZone (one spelling for every service).

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Offset of `zone` from UTC at instant `ms`, in ms (positive east of Greenwich). */
function offsetAt(ms: number, zone: string): number {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
    formatters.set(zone, f);
  }
  const p = Object.fromEntries(f.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  const asUtc = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute), Number(p.second));
  return asUtc - (ms - (ms % 1000 + 1000) % 1000);
}

/**
 * The instant a wall-clock time in `zone` names. `wallAsUtc` is that wall time read as if it were UTC. A time that
 * occurs twice (clocks set back) is the first; one in a gap (clocks set forward) is read with the offset before.
 */
export function zonedWallTimeToInstant(wallAsUtc: Date, zone: string): Date {
  const wall = wallAsUtc.getTime();
  const before = offsetAt(wall - DAY_MS, zone);
  const after = offsetAt(wall + DAY_MS, zone);
  const valid = [wall - before, wall - after].filter((t) => t + offsetAt(t, zone) === wall);
  return new Date(valid.length ? Math.min(...valid) : wall - before);
}

const DAY_MS = 86_400_000;
