/** Re-attribution: which re-run decisions count as changed, and what they do to credited revenue. */
import { Money } from '@trackly/kernel';

/** What of a decision matters to revenue and to whom it is credited. */
export interface CreditLine {
  outcome: 'ATTRIBUTED' | 'UNATTRIBUTED';
  reason: string | null;
  type: string | null;
  creditedClickId: string | null;
  messageId: string | null;
  offerId: string | null;
  windowDays: number;
  status: string;
  payout: Money;
}

/** A re-run changes a decision when its verdict, reason, type, credited touch or window moves (not its wording). */
export function decisionChanged(before: CreditLine, after: CreditLine): boolean {
  return (
    before.outcome !== after.outcome ||
    (before.reason ?? null) !== (after.reason ?? null) ||
    (before.type ?? null) !== (after.type ?? null) ||
    (before.creditedClickId ?? null) !== (after.creditedClickId ?? null) ||
    (before.messageId ?? null) !== (after.messageId ?? null) ||
    before.windowDays !== after.windowDays
  );
}

export interface RevenueTotals {
  key: string;
  currency: string;
  approvedBefore: bigint;
  approvedAfter: bigint;
  pendingBefore: bigint;
  pendingAfter: bigint;
}

/**
 * Credited revenue per key (offer or message) and currency, before and after; only keys whose revenue moves.
 * Approved and pending are kept apart; rejected and reversed conversions credit nothing.
 */
export function revenueDiff(pairs: { before: CreditLine; after: CreditLine }[], keyOf: (l: CreditLine) => string | null): RevenueTotals[] {
  const totals = new Map<string, RevenueTotals>();
  const add = (line: CreditLine, side: 'Before' | 'After') => {
    if (line.outcome !== 'ATTRIBUTED' || (line.status !== 'APPROVED' && line.status !== 'PENDING')) return;
    const key = keyOf(line);
    if (!key) return;
    const id = `${key}\u0000${line.payout.currency}`;
    const t = totals.get(id) ?? { key, currency: line.payout.currency, approvedBefore: 0n, approvedAfter: 0n, pendingBefore: 0n, pendingAfter: 0n };
    t[`${line.status === 'APPROVED' ? 'approved' : 'pending'}${side}`] += line.payout.micros;
    totals.set(id, t);
  };
  for (const p of pairs) {
    add(p.before, 'Before');
    add(p.after, 'After');
  }
  return [...totals.values()]
    .filter((t) => t.approvedBefore !== t.approvedAfter || t.pendingBefore !== t.pendingAfter)
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.currency < b.currency ? -1 : a.currency > b.currency ? 1 : 0));
}
