/**
 * Revenue-per-send maturity of a send cohort: what the messages sent in a range had earned 1, 7, 30 and 90 days
 * after each send (approved revenue only, per currency, never converted).
 */
import { divideRounded, MS_PER_DAY } from '@trackly/kernel';
import type { CohortMaturityRow, GetCohortMaturityResponse } from '@trackly/contracts/reporting/v1/reporting_service';
import { compareCodeUnits, wireMoney } from './performance';

export const MATURITY_DAYS = [1, 7, 30, 90] as const;

export interface CohortSends {
  key: string;
  sends: bigint;
}

/** Approved revenue of one group and currency within each of MATURITY_DAYS of the send, in that order. */
export interface CohortRevenue {
  key: string;
  currency: string;
  withinDays: readonly bigint[];
}

interface Acc {
  sends: bigint;
  revenue: Map<string, bigint[]>;
}

export function buildCohortMaturity(
  sends: readonly CohortSends[],
  revenue: readonly CohortRevenue[],
  names: ReadonlyMap<string, string>,
  timeZone: string,
  grouped: boolean,
  /** The end of the cohort's last local send day, and the moment of the report: younger points are immature. */
  age?: { cohortEnd: Date; now: Date },
): GetCohortMaturityResponse {
  const groups = new Map<string, Acc>();
  const total: Acc = { sends: 0n, revenue: new Map() };
  const group = (key: string) => {
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { sends: 0n, revenue: new Map() }));
    return g;
  };
  for (const s of sends) for (const acc of [group(s.key), total]) acc.sends += s.sends;
  for (const r of revenue) {
    for (const acc of [group(r.key), total]) {
      const sums = acc.revenue.get(r.currency) ?? MATURITY_DAYS.map(() => 0n);
      r.withinDays.forEach((v, i) => (sums[i] += v));
      acc.revenue.set(r.currency, sums);
    }
  }
  const keys = grouped ? [...groups.keys()].sort(compareCodeUnits) : [];
  return { rows: keys.map((k) => toRow(k, names.get(k) ?? '', groups.get(k)!, age)), total: toRow('', '', total, age), timeZone };
}

/** When a point of `days` is mature: every send of the cohort is at least that old. */
export function maturesAt(cohortEnd: Date, days: number): Date {
  return new Date(cohortEnd.getTime() + days * MS_PER_DAY);
}

function toRow(key: string, name: string, acc: Acc, age: { cohortEnd: Date; now: Date } | undefined): CohortMaturityRow {
  const currencies = [...acc.revenue.keys()].sort(compareCodeUnits);
  return {
    key,
    name,
    sends: acc.sends.toString(),
    points: MATURITY_DAYS.map((days, i) => {
      const at = age ? maturesAt(age.cohortEnd, days) : undefined;
      // A cohort younger than the point has no value for it yet: empty and marked, never the latest value.
      if (at && age!.now.getTime() < at.getTime()) return { days, revenue: [], revenuePerSend: [], immature: true, maturesAt: at };
      return {
        days,
        revenue: currencies.map((c) => wireMoney(c, acc.revenue.get(c)![i])),
        revenuePerSend: currencies.map((c) => wireMoney(c, divideRounded(acc.revenue.get(c)![i], acc.sends))),
        immature: false,
        maturesAt: at,
      };
    }),
  };
}
