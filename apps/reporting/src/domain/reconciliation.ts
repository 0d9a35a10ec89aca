/**
 * Reconciliation: for each partner, local day (of the conversion) and currency, what the partner posted back and
 * what became of it, so the partner's own totals can be checked on one screen. Amounts never mix currencies.
 */
import type {
  GetReconciliationReportResponse,
  ReconciliationCount,
  ReconciliationRow,
} from '@trackly/contracts/reporting/v1/reporting_service';
import { compareCodeUnits, wireMoney } from './performance';

/** A count and payout sum of one partner, day and currency, in one category. */
export interface ReconciliationAggregate {
  partnerId: string;
  day: string;
  currency: string;
  count: bigint;
  micros: bigint;
}

export interface ReconciliationInput {
  /** Stored by ingest (any status). */
  received: readonly ReconciliationAggregate[];
  /** Of the received, those whose partner status is pending. */
  receivedPendingStatus: readonly ReconciliationAggregate[];
  /** Credited, approved or pending. */
  credited: readonly ReconciliationAggregate[];
  /** Credited, then reversed. */
  reversed: readonly ReconciliationAggregate[];
  unattributed: readonly (ReconciliationAggregate & { reason: string })[];
  /** Received with no decision from attribution yet. */
  pending: readonly ReconciliationAggregate[];
  /** Of the received, those sent straight to attribution (AttributeConversion). */
  receivedDirect?: readonly ReconciliationAggregate[];
  /** Of the credited, those over a cap and held pending. */
  creditedOverCap?: readonly ReconciliationAggregate[];
  /** Of the credited, those pending under a hold period that ends after the report's moment. */
  held?: readonly ReconciliationAggregate[];
  /** Of the received, test conversions (only when the request includes tests). */
  test?: readonly ReconciliationAggregate[];
}

interface Acc {
  partnerId: string;
  day: string;
  currency: string;
  received: [bigint, bigint];
  receivedPendingStatus: [bigint, bigint];
  credited: [bigint, bigint];
  reversed: [bigint, bigint];
  pending: [bigint, bigint];
  receivedDirect: [bigint, bigint];
  creditedOverCap: [bigint, bigint];
  held: [bigint, bigint];
  test: [bigint, bigint];
  unattributed: Map<string, [bigint, bigint]>;
}

type Category = 'received' | 'receivedPendingStatus' | 'credited' | 'reversed' | 'pending' | 'receivedDirect' | 'creditedOverCap' | 'held' | 'test';

export function buildReconciliationReport(input: ReconciliationInput, timeZone: string): GetReconciliationReportResponse {
  const rows = new Map<string, Acc>();
  const row = (a: ReconciliationAggregate): Acc => {
    const id = `${a.partnerId}\u0000${a.day}\u0000${a.currency}`;
    let r = rows.get(id);
    if (!r) {
      const zero = (): [bigint, bigint] => [0n, 0n];
      r = {
        partnerId: a.partnerId, day: a.day, currency: a.currency,
        received: zero(), receivedPendingStatus: zero(), credited: zero(), reversed: zero(), pending: zero(), unattributed: new Map(),
        receivedDirect: zero(), creditedOverCap: zero(), held: zero(), test: zero(),
      };
      rows.set(id, r);
    }
    return r;
  };
  const add = (pair: [bigint, bigint], a: ReconciliationAggregate) => {
    pair[0] += a.count;
    pair[1] += a.micros;
  };
  for (const category of ['received', 'receivedPendingStatus', 'credited', 'reversed', 'pending', 'receivedDirect', 'creditedOverCap', 'held', 'test'] as Category[]) {
    for (const a of input[category] ?? []) add(row(a)[category], a);
  }
  for (const a of input.unattributed) {
    const r = row(a);
    const pair = r.unattributed.get(a.reason) ?? [0n, 0n];
    add(pair, a);
    r.unattributed.set(a.reason, pair);
  }
  const sorted = [...rows.values()].sort(
    (a, b) => compareCodeUnits(a.partnerId, b.partnerId) || compareCodeUnits(a.day, b.day) || compareCodeUnits(a.currency, b.currency),
  );
  return { rows: sorted.map(toRow), timeZone };
}

function toRow(r: Acc): ReconciliationRow {
  const count = ([n, micros]: [bigint, bigint]): ReconciliationCount => ({ count: n.toString(), amount: wireMoney(r.currency, micros) });
  return {
    partnerId: r.partnerId,
    date: r.day,
    currencyCode: r.currency,
    received: count(r.received),
    receivedPendingStatus: count(r.receivedPendingStatus),
    credited: count(r.credited),
    reversed: count(r.reversed),
    pending: count(r.pending),
    receivedDirect: count(r.receivedDirect),
    creditedOverCap: count(r.creditedOverCap),
    held: count(r.held),
    test: count(r.test),
    unattributed: [...r.unattributed.keys()].sort(compareCodeUnits).map((reason) => ({ reason, total: count(r.unattributed.get(reason)!) })),
  };
}
