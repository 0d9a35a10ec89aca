/**
 * Turns rollup aggregates into the performance report: rows by key, revenue per currency (never converted), and
 * the ratios, which are always computed from summed micros, never summed themselves.
 */
import { divideRounded } from '@trackly/kernel';
import type { Money as WireMoney } from '@trackly/contracts/common/v1/money';
import type {
  GetPerformanceReportResponse,
  PerformanceRow,
  RevenueTotal,
} from '@trackly/contracts/reporting/v1/reporting_service';

/** Sends and clicks of one group. */
export interface ActivityAggregate {
  key: string;
  sends: bigint;
  clicks: bigint;
  uniqueClicks: bigint;
}

/** Credited conversions of one group in one currency. */
export interface RevenueAggregate {
  key: string;
  currency: string;
  conversions: bigint;
  approvedMicros: bigint;
  pendingMicros: bigint;
}

interface Totals {
  sends: bigint;
  clicks: bigint;
  uniqueClicks: bigint;
  conversions: bigint;
  byCurrency: Map<string, { approved: bigint; pending: bigint }>;
}

export function buildPerformanceReport(
  activity: readonly ActivityAggregate[],
  revenue: readonly RevenueAggregate[],
  names: ReadonlyMap<string, string>,
  timeZone: string,
): GetPerformanceReportResponse {
  const groups = new Map<string, Totals>();
  const total = emptyTotals();
  const group = (key: string) => {
    let t = groups.get(key);
    if (!t) groups.set(key, (t = emptyTotals()));
    return t;
  };
  for (const a of activity) {
    for (const t of [group(a.key), total]) {
      t.sends += a.sends;
      t.clicks += a.clicks;
      t.uniqueClicks += a.uniqueClicks;
    }
  }
  for (const r of revenue) {
    for (const t of [group(r.key), total]) {
      t.conversions += r.conversions;
      const c = t.byCurrency.get(r.currency) ?? { approved: 0n, pending: 0n };
      c.approved += r.approvedMicros;
      c.pending += r.pendingMicros;
      t.byCurrency.set(r.currency, c);
    }
  }
  const keys = [...groups.keys()].sort(compareCodeUnits);
  return {
    rows: keys.map((key) => toRow(key, names.get(key) ?? '', groups.get(key)!)),
    total: toRow('', '', total),
    timeZone,
  };
}

/** Approved revenue, pending revenue, revenue per send and per click, for one currency. */
export function revenueTotal(currency: string, approved: bigint, pending: bigint, sends: bigint, clicks: bigint): RevenueTotal {
  return {
    revenue: wireMoney(currency, approved),
    pendingRevenue: wireMoney(currency, pending),
    // divideRounded answers 0 for a zero divisor: revenue with no sends in range has no meaningful ratio.
    revenuePerSend: wireMoney(currency, divideRounded(approved, sends)),
    epc: wireMoney(currency, divideRounded(approved, clicks)),
  };
}

export function wireMoney(currency: string, micros: bigint): WireMoney {
  return { currencyCode: currency, amountMicros: micros.toString() };
}

function toRow(key: string, name: string, t: Totals): PerformanceRow {
  const currencies = [...t.byCurrency.keys()].sort(compareCodeUnits);
  return {
    key,
    name,
    sends: t.sends.toString(),
    clicks: t.clicks.toString(),
    uniqueClicks: t.uniqueClicks.toString(),
    conversions: t.conversions.toString(),
    revenue: currencies.map((c) => {
      const { approved, pending } = t.byCurrency.get(c)!;
      return revenueTotal(c, approved, pending, t.sends, t.clicks);
    }),
  };
}

function emptyTotals(): Totals {
  return { sends: 0n, clicks: 0n, uniqueClicks: 0n, conversions: 0n, byCurrency: new Map() };
}

/** Plain code-unit order: ids and YYYY-MM-DD keys sort the same on every machine, whatever its locale. */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
