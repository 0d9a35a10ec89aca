/**
 * Caps and hold periods of an offer. A cap limits the credited conversions (and/or their payout, in one currency) of
 * an offer, or of one partner on it, per calendar day or month counted in the offer's time zone. A conversion the
 * rules would credit but that does not fit a cap is refused (UNATTRIBUTED, OVER_CAP) or credited and held
 * (over_cap, status PENDING), as the offer says. A hold period keeps every credited conversion PENDING for N days
 * after it occurred; the hold sweeper approves it then unless it was adjusted meanwhile.
 */
import { formatMicros, Money, MS_PER_DAY } from '@trackly/kernel';

export type CapPeriod = 'DAY' | 'MONTH';
export type OverCapAction = 'REFUSE' | 'HOLD';

export interface Cap {
  period: CapPeriod;
  /** '' = the whole offer. */
  partnerId: string;
  /** 0 = no count limit. */
  maxConversions: number;
  maxPayout: Money | null;
}

export interface OfferRules {
  offerId: string;
  /** IANA zone; '' = UTC. */
  timeZone: string;
  caps: Cap[];
  overCapAction: OverCapAction;
  holdDays: number;
}

/** What is already credited (and not over cap) in one cap's period: count, and payout per currency. */
export interface Used {
  conversions: number;
  micros: Record<string, bigint>;
}

/** Usage per cap key (`capKey`). */
export type CapUsage = Map<string, Used>;

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The local calendar date (YYYY-MM-DD) of an instant in a time zone. */
export function localDate(at: Date, timeZone: string): string {
  const tz = timeZone || 'UTC';
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' });
    formatters.set(tz, f);
  }
  return f.format(at);
}

/** Whether the zone is one Intl knows (validation of SetOfferRules). */
export function isTimeZone(timeZone: string): boolean {
  try {
    localDate(new Date(0), timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The first local day of the cap's period containing `at` (YYYY-MM-DD; a month starts on its 1st). */
export function periodStart(cap: Cap, at: Date, timeZone: string): string {
  const day = localDate(at, timeZone);
  return cap.period === 'DAY' ? day : `${day.slice(0, 7)}-01`;
}

/** Identifies one cap's counter for one period: offer, partner ('*' = all), period kind and start. */
export function capKey(offerId: string, cap: Cap, at: Date, timeZone: string): string {
  return `${offerId}|${cap.partnerId || '*'}|${cap.period}|${periodStart(cap, at, timeZone)}`;
}

/** The caps that apply to a conversion of this partner. */
export function capsFor(rules: OfferRules, partnerId: string): Cap[] {
  return rules.caps.filter((c) => !c.partnerId || c.partnerId === partnerId);
}

/** The first cap the conversion would pass, with a sentence naming it; undefined when it fits every cap. */
export function overCap(rules: OfferRules, usage: CapUsage, partnerId: string, at: Date, payout: Money): { cap: Cap; why: string } | undefined {
  for (const cap of capsFor(rules, partnerId)) {
    const used = usage.get(capKey(rules.offerId, cap, at, rules.timeZone)) ?? { conversions: 0, micros: {} };
    const scope = `${cap.partnerId ? `partner ${cap.partnerId} on ` : ''}offer ${rules.offerId}`;
    const when = `${cap.period === 'DAY' ? 'day' : 'month'} starting ${periodStart(cap, at, rules.timeZone)} (${rules.timeZone || 'UTC'})`;
    if (cap.maxConversions > 0 && used.conversions + 1 > cap.maxConversions) {
      return { cap, why: `the ${cap.period === 'DAY' ? 'daily' : 'monthly'} cap of ${cap.maxConversions} conversions for ${scope} is reached for the ${when}` };
    }
    if (cap.maxPayout && payout.currency === cap.maxPayout.currency) {
      const spent = used.micros[payout.currency] ?? 0n;
      if (spent + payout.micros > cap.maxPayout.micros) {
        return {
          cap,
          why: `the ${cap.period === 'DAY' ? 'daily' : 'monthly'} payout cap of ${formatMicros(cap.maxPayout.micros)} ${cap.maxPayout.currency} for ${scope} would be passed (${formatMicros(spent)} credited so far in the ${when})`,
        };
      }
    }
  }
  return undefined;
}

/** Counts a credited (not over-cap) conversion in every cap that applies to it. */
export function recordUsage(rules: OfferRules, usage: CapUsage, partnerId: string, at: Date, payout: Money): void {
  for (const cap of capsFor(rules, partnerId)) {
    const key = capKey(rules.offerId, cap, at, rules.timeZone);
    const used = usage.get(key) ?? { conversions: 0, micros: {} };
    used.conversions++;
    used.micros[payout.currency] = (used.micros[payout.currency] ?? 0n) + payout.micros;
    usage.set(key, used);
  }
}

/** When a held conversion is released: its occurrence plus the hold period (deterministic on replay). */
export function holdUntil(rules: OfferRules, occurredAt: Date): Date | undefined {
  return rules.holdDays > 0 ? new Date(occurredAt.getTime() + rules.holdDays * MS_PER_DAY) : undefined;
}
