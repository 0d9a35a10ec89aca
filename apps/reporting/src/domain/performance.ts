/**
 * Turns rollup aggregates into the performance report: rows by key, revenue per currency (never converted), and
 * the ratios, which are always computed from summed micros, never summed themselves.
 */
import { divideRounded } from '@trackly/kernel';
import type { Money as WireMoney } from '@trackly/contracts/common/v1/money';
import {
  DateBasis,
  GetPerformanceReportResponse,
  PerformanceRow,
  ReportGrouping,
  RevenueTotal,
} from '@trackly/contracts/reporting/v1/reporting_service';

/** Sends, engagements and taps of one group (domain/engagement.ts says what they are). */
export interface ActivityAggregate {
  key: string;
  /** Second key (then_by), '' without one. */
  key2?: string;
  sends: bigint;
  /** Engagements: first taps of messages. */
  clicks: bigint;
  /** Every person's tap. */
  taps: bigint;
}

/** Credited conversions of one group in one currency. */
export interface RevenueAggregate {
  key: string;
  key2?: string;
  currency: string;
  /** Approved or pending. */
  conversions: bigint;
  reversedConversions?: bigint;
  approvedMicros: bigint;
  pendingMicros: bigint;
  reversedMicros?: bigint;
}

/**
 * What the rollups do not hold, read from the credited facts of the range for one group and currency: the
 * view-through, capped and held parts (held depends on the moment of the report), and test conversions (never in a
 * rollup; added only when the request includes tests).
 */
export interface FactAggregate {
  key: string;
  key2?: string;
  currency: string;
  viewThroughConversions: bigint;
  viewThroughApproved: bigint;
  cappedConversions: bigint;
  capped: bigint;
  heldConversions: bigint;
  held: bigint;
  testConversions: bigint;
  testReversedConversions: bigint;
  testApproved: bigint;
  testPending: bigint;
  testReversed: bigint;
}

interface CurrencyTotals {
  conversions: bigint;
  reversedConversions: bigint;
  approved: bigint;
  pending: bigint;
  reversed: bigint;
  viewThroughConversions: bigint;
  viewThroughApproved: bigint;
  cappedConversions: bigint;
  capped: bigint;
  heldConversions: bigint;
  held: bigint;
  testConversions: bigint;
  testRevenue: bigint;
}

const emptyCurrency = (): CurrencyTotals => ({
  conversions: 0n, reversedConversions: 0n, approved: 0n, pending: 0n, reversed: 0n, viewThroughConversions: 0n, viewThroughApproved: 0n,
  cappedConversions: 0n, capped: 0n, heldConversions: 0n, held: 0n, testConversions: 0n, testRevenue: 0n,
});

interface Totals {
  key: string;
  key2: string;
  sends: bigint;
  clicks: bigint;
  taps: bigint;
  conversions: bigint;
  reversedConversions: bigint;
  byCurrency: Map<string, CurrencyTotals>;
}

export interface ReportLabels {
  timeZone: string;
  thenBy?: ReportGrouping;
  dateBasis?: DateBasis;
  /** Display names of key2's dimension. */
  names2?: ReadonlyMap<string, string>;
  /**
   * Grouped or filtered by partner: sends and taps have no partner, so every row (and the total) says its send- and
   * tap-based figures are not applicable, and leaves revenue per send and EPC unset rather than dividing by nothing.
   */
  activityNotApplicable?: boolean;
}

/** One part per million: ratios (CTR, CVR) are integers in millionths, like money in micros. */
export const PPM = 1_000_000n;

export function buildPerformanceReport(
  activity: readonly ActivityAggregate[],
  revenue: readonly RevenueAggregate[],
  names: ReadonlyMap<string, string>,
  labels: ReportLabels | string,
  facts: readonly FactAggregate[] = [],
): GetPerformanceReportResponse {
  const l = typeof labels === 'string' ? { timeZone: labels } : labels;
  const groups = new Map<string, Totals>();
  const total = emptyTotals('', '');
  const group = (key: string, key2 = '') => {
    const id = `${key}\u0000${key2}`;
    let t = groups.get(id);
    if (!t) groups.set(id, (t = emptyTotals(key, key2)));
    return t;
  };
  for (const a of activity) {
    for (const t of [group(a.key, a.key2), total]) {
      t.sends += a.sends;
      t.clicks += a.clicks;
      t.taps += a.taps;
    }
  }
  for (const r of revenue) {
    for (const t of [group(r.key, r.key2), total]) {
      t.conversions += r.conversions;
      t.reversedConversions += r.reversedConversions ?? 0n;
      const c = t.byCurrency.get(r.currency) ?? emptyCurrency();
      c.conversions += r.conversions;
      c.reversedConversions += r.reversedConversions ?? 0n;
      c.approved += r.approvedMicros;
      c.pending += r.pendingMicros;
      c.reversed += r.reversedMicros ?? 0n;
      t.byCurrency.set(r.currency, c);
    }
  }
  for (const f of facts) {
    for (const t of [group(f.key, f.key2), total]) {
      // Test conversions are in no rollup: included (the query reads them only when asked), they count like any other.
      t.conversions += f.testConversions;
      t.reversedConversions += f.testReversedConversions;
      const c = t.byCurrency.get(f.currency) ?? emptyCurrency();
      c.conversions += f.testConversions;
      c.reversedConversions += f.testReversedConversions;
      c.approved += f.testApproved;
      c.pending += f.testPending;
      c.reversed += f.testReversed;
      c.testConversions += f.testConversions;
      c.testRevenue += f.testApproved + f.testPending;
      c.viewThroughConversions += f.viewThroughConversions;
      c.viewThroughApproved += f.viewThroughApproved;
      c.cappedConversions += f.cappedConversions;
      c.capped += f.capped;
      c.heldConversions += f.heldConversions;
      c.held += f.held;
      t.byCurrency.set(f.currency, c);
    }
  }
  const rows = [...groups.values()].sort((a, b) => compareCodeUnits(a.key, b.key) || compareCodeUnits(a.key2, b.key2));
  const na = l.activityNotApplicable === true;
  return {
    rows: rows.map((t) => toRow(t, names.get(t.key) ?? '', l.names2?.get(t.key2) ?? '', na)),
    total: toRow(total, '', '', na),
    timeZone: l.timeZone,
    thenBy: l.thenBy ?? ReportGrouping.REPORT_GROUPING_UNSPECIFIED,
    dateBasis: l.dateBasis ?? DateBasis.DATE_BASIS_CONVERSION,
  };
}

/** Approved, pending and reversed revenue, revenue per send and per engagement (EPC), for one currency. */
export function revenueTotal(
  currency: string,
  approved: bigint,
  pending: bigint,
  sends: bigint,
  clicks: bigint,
  more: Partial<CurrencyTotals> = {},
): RevenueTotal {
  const vt = more.viewThroughApproved ?? 0n;
  return {
    revenue: wireMoney(currency, approved),
    pendingRevenue: wireMoney(currency, pending),
    // divideRounded answers 0 for a zero divisor: revenue with no sends in range has no meaningful ratio.
    revenuePerSend: wireMoney(currency, divideRounded(approved, sends)),
    epc: wireMoney(currency, divideRounded(approved, clicks)),
    reversed: wireMoney(currency, more.reversed ?? 0n),
    conversions: (more.conversions ?? 0n).toString(),
    reversedConversions: (more.reversedConversions ?? 0n).toString(),
    clickRevenue: wireMoney(currency, approved - vt),
    viewThroughRevenue: wireMoney(currency, vt),
    viewThroughConversions: (more.viewThroughConversions ?? 0n).toString(),
    cappedRevenue: wireMoney(currency, more.capped ?? 0n),
    cappedConversions: (more.cappedConversions ?? 0n).toString(),
    heldRevenue: wireMoney(currency, more.held ?? 0n),
    heldConversions: (more.heldConversions ?? 0n).toString(),
    testRevenue: wireMoney(currency, more.testRevenue ?? 0n),
    testConversions: (more.testConversions ?? 0n).toString(),
  };
}

/** numerator / denominator in millionths, rounded half away from zero; 0 when the denominator is 0. */
export function ratioPpm(numerator: bigint, denominator: bigint): bigint {
  return divideRounded(numerator * PPM, denominator);
}

export function wireMoney(currency: string, micros: bigint): WireMoney {
  return { currencyCode: currency, amountMicros: micros.toString() };
}

function toRow(t: Totals, name: string, name2: string, activityNotApplicable: boolean): PerformanceRow {
  const currencies = [...t.byCurrency.keys()].sort(compareCodeUnits);
  return {
    key: t.key,
    name,
    key2: t.key2,
    name2,
    sends: t.sends.toString(),
    clicks: t.clicks.toString(),
    uniqueClicks: t.clicks.toString(),
    taps: t.taps.toString(),
    conversions: t.conversions.toString(),
    reversedConversions: t.reversedConversions.toString(),
    ctrPpm: ratioPpm(t.clicks, t.sends).toString(),
    cvrPpm: ratioPpm(t.conversions, t.clicks).toString(),
    revenue: currencies.map((c) => {
      const x = t.byCurrency.get(c)!;
      const total = revenueTotal(c, x.approved, x.pending, t.sends, t.clicks, x);
      // No sends or engagements to divide by: unset, never a ratio over zero that reads as "no revenue per send".
      return activityNotApplicable ? { ...total, revenuePerSend: undefined, epc: undefined } : total;
    }),
    // Set by the service when a reporting currency is asked for (domain/fx).
    converted: undefined,
    activityNotApplicable,
  };
}

function emptyTotals(key: string, key2: string): Totals {
  return { key, key2, sends: 0n, clicks: 0n, taps: 0n, conversions: 0n, reversedConversions: 0n, byCurrency: new Map() };
}

/** Plain code-unit order: ids and YYYY-MM-DD keys sort the same on every machine, whatever its locale. */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
