import { activityDeltas, revenueDeltas } from './rollup-deltas';

const d1 = { campaignId: 'c1', creativeId: 'cr1', offerId: 'o1' };
const d2 = { campaignId: 'c1', creativeId: 'cr2', offerId: 'o1' };

describe('rollup deltas of a batch', () => {
  it('sums events per rollup key at every grain, and per bucket across dimensions for the totals', () => {
    const a = activityDeltas();
    a.at(new Date('2026-05-05T10:01:00Z'), d1, { sends: 1n, taps: 0n, engagements: 0n });
    a.at(new Date('2026-05-05T10:14:00Z'), d1, { sends: 1n, taps: 0n, engagements: 0n });
    a.at(new Date('2026-05-05T10:20:00Z'), d2, { sends: 0n, taps: 1n, engagements: 1n });
    const rows = a.list();
    // 15-min: two buckets; 60, 1440, 10080: one bucket each for each of the two dimension sets.
    expect(rows).toHaveLength(2 + 3 * 2);
    expect(rows.find((r) => r.grain === 15 && r.dims.creativeId === 'cr1')?.delta).toEqual({ sends: 2n, taps: 0n, engagements: 0n });
    const totals = a.totals();
    expect(totals.filter((t) => t.grain === 60)).toEqual([
      expect.objectContaining({ bucket: new Date('2026-05-05T10:00:00Z'), delta: { sends: 2n, taps: 1n, engagements: 1n } }),
    ]);
  });

  it('drops rows whose deltas cancel out (an engagement moved within the same bucket)', () => {
    const a = activityDeltas();
    a.at(new Date('2026-05-05T10:01:00Z'), d1, { sends: 0n, taps: 0n, engagements: -1n });
    a.at(new Date('2026-05-05T10:02:00Z'), d1, { sends: 0n, taps: 1n, engagements: 1n });
    expect(a.list().every((r) => r.delta.engagements === 0n && r.delta.taps === 1n)).toBe(true);
    const r = revenueDeltas();
    r.at(new Date('2026-05-05T10:01:00Z'), d1, { conversions: 1n, reversedConversions: 0n, approvedMicros: 5n, pendingMicros: 0n, reversedMicros: 0n }, 'USD');
    r.at(new Date('2026-05-05T10:01:00Z'), d1, { conversions: -1n, reversedConversions: 0n, approvedMicros: -5n, pendingMicros: 0n, reversedMicros: 0n }, 'USD');
    expect(r.list()).toEqual([]);
    expect(r.totals()).toEqual([]);
  });

  it('keeps conversions of two partners on the same creative apart, and sums them in the per-bucket totals', () => {
    const r = revenueDeltas();
    const delta = { conversions: 1n, reversedConversions: 0n, approvedMicros: 5n, pendingMicros: 0n, reversedMicros: 0n };
    r.at(new Date('2026-05-05T10:01:00Z'), { ...d1, partnerId: 'tune' }, delta, 'USD');
    r.at(new Date('2026-05-05T10:02:00Z'), { ...d1, partnerId: 'everflow' }, delta, 'USD');
    expect(r.list().filter((x) => x.grain === 15).map((x) => [x.dims.partnerId, x.delta.approvedMicros])).toEqual([['tune', 5n], ['everflow', 5n]]);
    expect(r.totals().filter((x) => x.grain === 15).map((x) => x.delta.approvedMicros)).toEqual([10n]);
  });
});
