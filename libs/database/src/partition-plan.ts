/**
 * Which time-range partitions of a table to create and which to drop, from the partitions that exist (their ranges)
 * and the clock: pure, so the rules are tested with a frozen clock (partition-plan.spec.ts). The keeper
 * (partition-keeper.ts) and the conversion migration helper (partition-migration.ts) both name and bound partitions
 * through these functions, so a partition a migration made is one the keeper recognises.
 */
import { MS_PER_DAY } from '@trackly/kernel';

/** One partition per UTC day or per UTC calendar month. */
export type PartitionGranularity = 'day' | 'month';

export interface PartitionRange {
  name: string;
  /** Inclusive lower bound; undefined = MINVALUE (a legacy or history partition). */
  from?: Date;
  /** Exclusive upper bound; undefined = MAXVALUE. */
  to?: Date;
  /** The DEFAULT partition (rows no range takes): neither covers a period nor is ever dropped. */
  isDefault?: boolean;
}

export interface PartitionPlan {
  /** Periods to create a partition for, each [from, to). */
  create: { name: string; from: Date; to: Date }[];
  /** Partitions wholly older than the retention (their upper bound at or before now − retention). */
  drop: string[];
}

/** The start (UTC) of the day or month holding `t`. */
export function periodStart(t: Date, g: PartitionGranularity): Date {
  if (g === 'day') return new Date(Math.floor(t.getTime() / MS_PER_DAY) * MS_PER_DAY);
  return new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), 1));
}

/** The start of the period `n` periods after the one starting at `start`. */
export function addPeriods(start: Date, n: number, g: PartitionGranularity): Date {
  if (g === 'day') return new Date(start.getTime() + n * MS_PER_DAY);
  return new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + n, 1));
}

/** `clicks_p20261205` for a day, `postback_requests_p202612` for a month. */
export function partitionName(table: string, from: Date, g: PartitionGranularity): string {
  const ymd = from.toISOString().slice(0, 10).replace(/-/g, '');
  return `${table}_p${g === 'day' ? ymd : ymd.slice(0, 6)}`;
}

/** `count` consecutive periods from the one starting at `start`, each named and bounded as a partition of `table`. */
export function periodsFrom(table: string, start: Date, count: number, g: PartitionGranularity): PartitionPlan['create'] {
  const out: PartitionPlan['create'] = [];
  for (let n = 0; n < count; n++) {
    const from = addPeriods(start, n, g);
    out.push({ name: partitionName(table, from, g), from, to: addPeriods(start, n + 1, g) });
  }
  return out;
}

/**
 * Partitions for the current period and `ahead` periods after it that no existing range covers; partitions (a legacy
 * one too) whose every row is older than `retentionDays`. A period some range already covers is never created: it
 * would overlap.
 */
export function planPartitions(p: {
  table: string;
  granularity: PartitionGranularity;
  now: Date;
  existing: PartitionRange[];
  retentionDays: number;
  ahead: number;
}): PartitionPlan {
  const ranges = p.existing.filter((r) => !r.isDefault);
  const covered = (from: Date, to: Date) =>
    ranges.some((r) => (r.from === undefined || r.from.getTime() < to.getTime()) && (r.to === undefined || r.to.getTime() > from.getTime()));
  const create = periodsFrom(p.table, periodStart(p.now, p.granularity), p.ahead + 1, p.granularity).filter((c) => !covered(c.from, c.to));
  const horizon = p.now.getTime() - p.retentionDays * MS_PER_DAY;
  const drop = ranges.filter((r) => r.to !== undefined && r.to.getTime() <= horizon).map((r) => r.name).sort();
  return { create, drop };
}

/** `FOR VALUES FROM ('…') TO ('…')` / `FROM (MINVALUE) …` / `DEFAULT` as pg_get_expr prints it (session in UTC). */
export function parseBound(name: string, bound: string): PartitionRange {
  if (bound.trim() === 'DEFAULT') return { name, isDefault: true };
  const m = /FROM \((.+?)\) TO \((.+?)\)/.exec(bound);
  if (!m) throw new Error(`unexpected partition bound of ${name}: ${bound}`);
  const value = (v: string) => (/^(MINVALUE|MAXVALUE)$/.test(v) ? undefined : new Date(v.replace(/^'|'$/g, '').replace(' ', 'T').replace(/\+00$/, 'Z')));
  return { name, from: value(m[1]), to: value(m[2]) };
}
