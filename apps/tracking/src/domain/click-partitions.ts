/**
 * Which daily partitions of tracking.clicks to create and which to drop, from the partitions that exist (their
 * ranges) and the clock: pure, so the rules are tested with a frozen clock (click-partitions.spec.ts).
 */
const DAY_MS = 86_400_000;

export interface PartitionRange {
  name: string;
  /** Inclusive lower bound; undefined = MINVALUE (the legacy partition). */
  from?: Date;
  /** Exclusive upper bound; undefined = MAXVALUE. */
  to?: Date;
  /** The DEFAULT partition (rows no range takes): neither covers a day nor is ever dropped. */
  isDefault?: boolean;
}

export interface PartitionPlan {
  /** Days (UTC midnight) to create a partition for, each [day, day + 1). */
  create: { name: string; from: Date; to: Date }[];
  /** Partitions wholly older than the retention (their upper bound at or before now − retention). */
  drop: string[];
}

export function dayPartitionName(day: Date): string {
  return `clicks_p${day.toISOString().slice(0, 10).replace(/-/g, '')}`;
}

/**
 * Partitions for today and `aheadDays` after it that no existing range covers; partitions (the legacy one included)
 * whose every row is older than `retentionDays`. A day some range already covers (the legacy partition's span) is
 * never created: it would overlap.
 */
export function planClickPartitions(now: Date, existing: PartitionRange[], retentionDays: number, aheadDays: number): PartitionPlan {
  const today = new Date(Math.floor(now.getTime() / DAY_MS) * DAY_MS);
  const ranges = existing.filter((p) => !p.isDefault);
  const covered = (from: Date, to: Date) =>
    ranges.some((p) => (p.from === undefined || p.from.getTime() < to.getTime()) && (p.to === undefined || p.to.getTime() > from.getTime()));
  const create: PartitionPlan['create'] = [];
  for (let d = 0; d <= aheadDays; d++) {
    const from = new Date(today.getTime() + d * DAY_MS);
    const to = new Date(from.getTime() + DAY_MS);
    if (!covered(from, to)) create.push({ name: dayPartitionName(from), from, to });
  }
  const horizon = now.getTime() - retentionDays * DAY_MS;
  const drop = ranges.filter((p) => p.to !== undefined && p.to.getTime() <= horizon).map((p) => p.name).sort();
  return { create, drop };
}
