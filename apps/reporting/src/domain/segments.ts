/**
 * Splits report ranges into runs of rollup rows: the coarsest grain whose buckets fit entirely inside the range is
 * read, so a 30-day range costs about 3 weekly and 9 daily rows per group plus the hours and quarter hours at its
 * two edges.
 */
import { Grain } from './facts';

export interface Segment {
  grain: Grain;
  /** Inclusive start of the first bucket read, ms since epoch. */
  from: number;
  /** Exclusive end, ms since epoch. */
  to: number;
  /** Local day the rows belong to (date grouping), else ''. */
  day: string;
}

const MINUTE = 60_000;
const QUARTER = 15 * MINUTE;

/** [from, to) as quarter-hour, hour and UTC-day runs; both ends must be quarter-hour aligned. */
export function rangeSegments(from: number, to: number, day = ''): Segment[] {
  if (from % QUARTER !== 0 || to % QUARTER !== 0) throw new Error(`range [${from}, ${to}) is not quarter-hour aligned`);
  const out: Segment[] = [];
  let at = from;
  // Climb: quarter hours to the first whole hour, hours to the first UTC midnight, days to the first week start
  // (weeks are counted from the epoch, a Thursday), whole weeks, then back down.
  const step = (grain: Grain, until: number) => {
    const size = grain * MINUTE;
    const end = Math.min(until, to);
    if (at >= end) return;
    const start = at;
    at = Math.max(at, start + Math.floor((end - start) / size) * size);
    if (at > start) out.push({ grain, from: start, to: at, day });
  };
  step(15, ceilTo(at, 60 * MINUTE));
  step(60, ceilTo(at, 1440 * MINUTE));
  step(1440, ceilTo(at, 10080 * MINUTE));
  step(10080, to);
  step(1440, to);
  step(60, to);
  step(15, to);
  if (at !== to) throw new Error(`range [${from}, ${to}) not covered`);
  return merge(out);
}

/**
 * Segments of consecutive local days, given the instants of their midnights (n days -> n + 1 instants, computed
 * by the database from its zone rules). With byDay, each day is labelled and kept apart; otherwise the whole range
 * is one run.
 */
export function daySegments(midnights: readonly Date[], days: readonly string[], byDay: boolean): Segment[] {
  if (midnights.length !== days.length + 1) throw new Error('need one midnight more than days');
  if (!days.length) return [];
  if (!byDay) return rangeSegments(midnights[0].getTime(), midnights[days.length].getTime());
  return days.flatMap((day, i) => rangeSegments(midnights[i].getTime(), midnights[i + 1].getTime(), day));
}

function ceilTo(t: number, size: number): number {
  return Math.ceil(t / size) * size;
}

/** Adjacent runs of one grain and day become one (fewer index range scans). */
function merge(segments: Segment[]): Segment[] {
  const out: Segment[] = [];
  for (const s of segments) {
    const last = out.at(-1);
    if (last && last.grain === s.grain && last.day === s.day && last.to === s.from) last.to = s.to;
    else out.push({ ...s });
  }
  return out;
}
