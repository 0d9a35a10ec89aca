import { CreditLine, decisionChanged, revenueDiff } from './reattribution.rules';

const line = (over: Partial<CreditLine> = {}): CreditLine => ({
  outcome: 'ATTRIBUTED', reason: null, type: 'CLICK_THROUGH', creditedClickId: 'A', messageId: 'msg-A', offerId: 'summer', windowDays: 90,
  status: 'APPROVED', payout: { currency: 'USD', micros: 10_000_000n }, ...over,
});

describe('re-attribution', () => {
  it.each([
    { name: 'identical', after: {}, changed: false },
    { name: 'credit moves to another click', after: { creditedClickId: 'B', messageId: 'msg-B' }, changed: true },
    { name: 'becomes unattributed', after: { outcome: 'UNATTRIBUTED' as const, reason: 'OUTSIDE_WINDOW', type: null, creditedClickId: null }, changed: true },
    { name: 'type changes', after: { type: 'DIRECT' }, changed: true },
    { name: 'window changes', after: { windowDays: 7 }, changed: true },
  ])('$name -> changed: $changed', ({ after, changed }) => {
    expect(decisionChanged(line(), line(after))).toBe(changed);
  });

  it('diffs approved and pending revenue per key and currency, only where it moves', () => {
    const pairs = [
      // Moves from msg-A to msg-B on the same offer.
      { before: line(), after: line({ creditedClickId: 'B', messageId: 'msg-B' }) },
      // Falls out of a 7-day window: the offer loses pending revenue.
      { before: line({ status: 'PENDING', messageId: 'msg-C', payout: { currency: 'USD', micros: 5n } }), after: line({ outcome: 'UNATTRIBUTED', status: 'PENDING', messageId: 'msg-C', payout: { currency: 'USD', micros: 5n } }) },
      // Unchanged, in euros: no row.
      { before: line({ payout: { currency: 'EUR', micros: 7n } }), after: line({ payout: { currency: 'EUR', micros: 7n } }) },
      // Rejected and reversed never count.
      { before: line({ status: 'REJECTED', messageId: 'msg-D' }), after: line({ status: 'REJECTED', messageId: 'msg-E' }) },
      { before: line({ status: 'REVERSED', messageId: 'msg-D' }), after: line({ status: 'REVERSED', messageId: 'msg-E' }) },
    ];
    expect(revenueDiff(pairs, (l) => l.messageId)).toEqual([
      { key: 'msg-A', currency: 'USD', approvedBefore: 10_000_000n, approvedAfter: 0n, pendingBefore: 0n, pendingAfter: 0n },
      { key: 'msg-B', currency: 'USD', approvedBefore: 0n, approvedAfter: 10_000_000n, pendingBefore: 0n, pendingAfter: 0n },
      { key: 'msg-C', currency: 'USD', approvedBefore: 0n, approvedAfter: 0n, pendingBefore: 5n, pendingAfter: 0n },
    ]);
    expect(revenueDiff(pairs, (l) => l.offerId)).toEqual([
      { key: 'summer', currency: 'USD', approvedBefore: 10_000_000n, approvedAfter: 10_000_000n, pendingBefore: 5n, pendingAfter: 0n },
    ]);
  });
});
