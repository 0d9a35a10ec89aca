/**
 * A batch's changes to the rollups, summed per rollup key before they are written: each rollup row (and each
 * per-bucket total) gets one upsert per batch whatever the number of events that moved it.
 */
import { Dimensions, GRAINS, Grain, RevenueDelta, rollupBuckets } from './facts';

/** What one event adds to an activity rollup row: sends, taps (people's clicks), engagements (first taps). */
export interface ActivityDelta {
  sends: bigint;
  taps: bigint;
  engagements: bigint;
}

export interface RollupRow<D> {
  grain: Grain;
  bucket: Date;
  dims: Dimensions;
  currency: string;
  delta: D;
}

const KEY_SEP = '\u0000';

/** Sums deltas per (grain, bucket, dimensions with the partner, currency); `total` sums them per (grain, bucket, currency). */
export class RollupDeltas<D extends object> {
  private readonly rows = new Map<string, RollupRow<D>>();

  constructor(
    private readonly zero: () => D,
    private readonly add: (into: D, d: D) => void,
    private readonly isZero: (d: D) => boolean,
  ) {}

  /** The delta at the instant's bucket of every grain. */
  at(at: Date, dims: Dimensions, delta: D, currency = ''): void {
    const { buckets } = rollupBuckets(at);
    GRAINS.forEach((grain, i) => {
      const bucket = buckets[i];
      const partnerId = dims.partnerId ?? '';
      const key = [grain, bucket.getTime(), dims.campaignId, dims.creativeId, dims.offerId, partnerId, currency].join(KEY_SEP);
      let row = this.rows.get(key);
      if (!row) {
        this.rows.set(key, (row = { grain, bucket, dims: { campaignId: dims.campaignId, creativeId: dims.creativeId, offerId: dims.offerId, partnerId }, currency, delta: this.zero() }));
      }
      this.add(row.delta, delta);
    });
  }

  /** The dimensional rows that moved (rows whose deltas cancelled out are left alone). */
  list(): RollupRow<D>[] {
    return [...this.rows.values()].filter((r) => !this.isZero(r.delta));
  }

  /** The same deltas summed across dimensions: the per-bucket totals. */
  totals(): RollupRow<D>[] {
    const out = new Map<string, RollupRow<D>>();
    for (const r of this.list()) {
      const key = [r.grain, r.bucket.getTime(), r.currency].join(KEY_SEP);
      let t = out.get(key);
      if (!t) out.set(key, (t = { grain: r.grain, bucket: r.bucket, dims: { campaignId: '', creativeId: '', offerId: '' }, currency: r.currency, delta: this.zero() }));
      this.add(t.delta, r.delta);
    }
    return [...out.values()].filter((r) => !this.isZero(r.delta));
  }
}

export function activityDeltas(): RollupDeltas<ActivityDelta> {
  return new RollupDeltas<ActivityDelta>(
    () => ({ sends: 0n, taps: 0n, engagements: 0n }),
    (a, d) => {
      a.sends += d.sends;
      a.taps += d.taps;
      a.engagements += d.engagements;
    },
    (d) => !d.sends && !d.taps && !d.engagements,
  );
}

export function revenueDeltas(): RollupDeltas<RevenueDelta> {
  return new RollupDeltas<RevenueDelta>(
    () => ({ conversions: 0n, reversedConversions: 0n, approvedMicros: 0n, pendingMicros: 0n, reversedMicros: 0n }),
    (a, d) => {
      a.conversions += d.conversions;
      a.reversedConversions += d.reversedConversions;
      a.approvedMicros += d.approvedMicros;
      a.pendingMicros += d.pendingMicros;
      a.reversedMicros += d.reversedMicros;
    },
    (d) => !d.conversions && !d.reversedConversions && !d.approvedMicros && !d.pendingMicros && !d.reversedMicros,
  );
}
