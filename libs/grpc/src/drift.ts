/** The drift check's comparison: per day and event type, each read model's count against its producer's. */
import type { DailyCount } from '@trackly/contracts/ops/v1/redrive_service';

export interface ServiceCounts {
  service: string;
  produced: DailyCount[];
  applied: DailyCount[];
  /**
   * Every event type the service's read models apply, even those they hold none of (GetDailyCounts'
   * applied_event_types). Without it, a type is known only from the rows present, and a read model holding none
   * of a type its producer counts (emptied, or not yet caught up after a reset) would show no drift.
   */
  appliedTypes?: string[];
}

export interface Drift {
  day: string;
  eventType: string;
  producer: string;
  produced: number;
  readModel: string;
  applied: number;
}

/**
 * Every (day, event type) a producer counts is compared with every read model that counts the same event type
 * (a day a read model lacks is 0 there, and a day only a read model has is compared against 0). Returns the
 * differences, and how many comparisons were made (a check that compared nothing must not pass as "no drift").
 */
export function compareCounts(services: ServiceCounts[]): { drifts: Drift[]; compared: number } {
  const key = (day: string, type: string) => `${day}|${type}`;
  const produced = new Map<string, { service: string; n: number }>();
  const producerOf = new Map<string, string>();
  for (const s of services) {
    for (const c of s.produced) {
      produced.set(key(c.day, c.eventType), { service: s.service, n: Number(c.count) });
      producerOf.set(c.eventType, s.service);
    }
  }
  const drifts: Drift[] = [];
  let compared = 0;
  for (const s of services) {
    const applied = new Map(s.applied.map((c) => [key(c.day, c.eventType), Number(c.count)]));
    const types = new Set([...(s.appliedTypes ?? []), ...s.applied.map((c) => c.eventType)]);
    // Event types this read model holds and some producer counts; its days and the producer's days together.
    const keys = new Set<string>();
    for (const k of applied.keys()) if (producerOf.has(k.split('|')[1])) keys.add(k);
    for (const k of produced.keys()) if (types.has(k.split('|')[1])) keys.add(k);
    for (const k of [...keys].sort()) {
      const [day, eventType] = k.split('|');
      const p = produced.get(k)?.n ?? 0;
      const a = applied.get(k) ?? 0;
      compared++;
      if (p !== a) drifts.push({ day, eventType, producer: producerOf.get(eventType)!, produced: p, readModel: s.service, applied: a });
    }
  }
  return { drifts, compared };
}
