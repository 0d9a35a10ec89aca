/**
 * The performance report's rows as the console counts them. One place maps reporting's fields: an engagement is the
 * first human click of a message (reporting's `clicks`), taps are every human click (`taps`). CTR, CVR,
 * EPC and revenue per send are computed here from those integers, per currency, so they never count a repeat tap as
 * a new engagement.
 */
import { dividedMicros, Money, micros } from './format';

export interface RevenueTotal {
  revenue?: Money;
  pendingRevenue?: Money;
  reversed?: Money;
  conversions?: string;
  reversedConversions?: string;
  viewThroughRevenue?: Money;
  cappedRevenue?: Money;
  heldRevenue?: Money;
}

export interface PerformanceRow {
  key?: string;
  name?: string;
  key2?: string;
  name2?: string;
  sends?: string;
  clicks?: string;
  uniqueClicks?: string;
  taps?: string;
  conversions?: string;
  reversedConversions?: string;
  revenue?: RevenueTotal[];
}

export interface PerformanceReport {
  rows?: PerformanceRow[];
  total?: PerformanceRow;
  timeZone?: string;
}

export interface CurrencyFigures {
  currency: string;
  approved: bigint;
  pending: bigint;
  reversed: bigint;
  perSend?: bigint;
  epc?: bigint;
  /** Parts of approved (view-through) and pending (capped, held) revenue, shown apart. */
  viewThrough: bigint;
  capped: bigint;
  held: bigint;
}

export interface Figures {
  sends: bigint;
  engagements: bigint;
  taps: bigint;
  conversions: bigint;
  reversedConversions: bigint;
  money: CurrencyFigures[];
}

export function figures(row: PerformanceRow | undefined): Figures {
  const sends = BigInt(row?.sends ?? 0);
  const engagements = BigInt(row?.clicks ?? 0);
  return {
    sends,
    engagements,
    taps: BigInt(row?.taps ?? 0),
    conversions: BigInt(row?.conversions ?? 0),
    reversedConversions: BigInt(row?.reversedConversions ?? 0),
    money: (row?.revenue ?? [])
      .map((t) => {
        const currency = t.revenue?.currencyCode || t.pendingRevenue?.currencyCode || t.reversed?.currencyCode || '';
        const approved = micros(t.revenue);
        return { currency, approved, pending: micros(t.pendingRevenue), reversed: micros(t.reversed), perSend: dividedMicros(approved, sends), epc: dividedMicros(approved, engagements),
          viewThrough: micros(t.viewThroughRevenue), capped: micros(t.cappedRevenue), held: micros(t.heldRevenue) };
      })
      .filter((m) => m.currency)
      .sort((a, b) => a.currency.localeCompare(b.currency)),
  };
}

/** The label of a row's group: "Name (id)", the id alone, or the day. */
export function groupLabel(key: string | undefined, name: string | undefined): string {
  if (!key) return '(none)';
  return name && name !== key ? `${name} (${key})` : key;
}
