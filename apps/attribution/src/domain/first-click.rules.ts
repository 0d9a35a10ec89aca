/**
 * First-click attribution. A conversion names a click; the credit goes to the FIRST click of that contact on that
 * offer inside the window before the conversion — not necessarily the named one (Monday A, Wednesday B, Friday
 * converts with B's click id: A is credited). Clicks after the conversion never get credit.
 */
import { Money, MS_PER_DAY } from '@trackly/kernel';

/** Recorded on every decision, so a later rule change can tell which decisions it would alter. */
export const RULE_VERSION = 'first-click/1';

export type ConversionStatus = 'APPROVED' | 'PENDING' | 'REJECTED' | 'REVERSED';
export type AttributionType = 'DIRECT' | 'CLICK_THROUGH';
export type UnattributedReason =
  | 'UNKNOWN_CLICK_ID'
  | 'OUTSIDE_WINDOW'
  | 'CLICK_AFTER_CONVERSION'
  | 'REJECTED'
  | 'NO_CLICK_NO_VIEW';

export interface ClickFact {
  clickId: string;
  messageId: string;
  contactId: string;
  offerId: string;
  campaignId: string;
  creativeId: string;
  clickedAt: Date;
}

export interface ConversionFacts {
  partnerId: string;
  conversionId: string;
  /** Click id the partner echoed back; empty when none. */
  reportedClickId: string;
  occurredAt: Date;
  status: ConversionStatus;
  payout: Money;
}

export interface AttributionPolicy {
  /** Lookback when the offer sets none. */
  defaultWindowDays: number;
  /** A conversion this soon after the credited click is DIRECT rather than CLICK_THROUGH. */
  directSessionMs: number;
}

export const DEFAULT_POLICY: AttributionPolicy = { defaultWindowDays: 90, directSessionMs: 30 * 60_000 };

export type Decision =
  | {
      outcome: 'ATTRIBUTED';
      type: AttributionType;
      credited: ClickFact;
      windowDays: number;
      explanation: string;
    }
  | {
      outcome: 'UNATTRIBUTED';
      reason: UnattributedReason;
      /** The click the partner named, when it is known. */
      named?: ClickFact;
      windowDays: number;
      explanation: string;
    };

/** Earliest click first; ties broken by click id so every replica and every replay decides the same. */
export function compareClicks(a: ClickFact, b: ClickFact): number {
  return a.clickedAt.getTime() - b.clickedAt.getTime() || (a.clickId < b.clickId ? -1 : a.clickId > b.clickId ? 1 : 0);
}

/** The interval of click times that can earn credit for a conversion at `occurredAt`: [from, occurredAt]. */
export function lookback(occurredAt: Date, windowDays: number): { from: Date; to: Date } {
  return { from: new Date(occurredAt.getTime() - windowDays * MS_PER_DAY), to: occurredAt };
}

/**
 * Decides one conversion.
 * @param named the click with the reported click id, if it exists
 * @param contactClicks clicks of the named click's contact on the named click's offer (any superset is fine: the
 *   window and the order are applied here)
 * @param offerWindowDays the offer's click_window_days, or null for the policy default
 */
export function decide(
  conversion: ConversionFacts,
  named: ClickFact | undefined,
  contactClicks: ClickFact[],
  offerWindowDays: number | null,
  policy: AttributionPolicy = DEFAULT_POLICY,
): Decision {
  const windowDays = offerWindowDays ?? policy.defaultWindowDays;
  const at = conversion.occurredAt.toISOString();
  if (conversion.status === 'REJECTED') {
    return { outcome: 'UNATTRIBUTED', reason: 'REJECTED', named, windowDays, explanation: 'The partner reported the conversion as rejected; rejected conversions earn no credit.' };
  }
  if (!conversion.reportedClickId) {
    return { outcome: 'UNATTRIBUTED', reason: 'NO_CLICK_NO_VIEW', windowDays, explanation: 'The postback carried no click id, and view-through attribution is off.' };
  }
  if (!named) {
    return {
      outcome: 'UNATTRIBUTED',
      reason: 'UNKNOWN_CLICK_ID',
      windowDays,
      explanation: `Click id "${conversion.reportedClickId}" does not match any recorded click: check that the partner passes our click_id back unchanged.`,
    };
  }
  const { from, to } = lookback(conversion.occurredAt, windowDays);
  const eligible = [named, ...contactClicks]
    .filter((c) => c.contactId === named.contactId && c.offerId === named.offerId)
    .filter((c) => c.clickedAt.getTime() >= from.getTime() && c.clickedAt.getTime() <= to.getTime())
    .sort(compareClicks);
  const credited = eligible[0];
  if (!credited) {
    if (named.clickedAt.getTime() > to.getTime()) {
      return {
        outcome: 'UNATTRIBUTED',
        reason: 'CLICK_AFTER_CONVERSION',
        named,
        windowDays,
        explanation: `Click ${named.clickId} matched, but it happened at ${named.clickedAt.toISOString()}, after the conversion at ${at}; a later click cannot have caused it.`,
      };
    }
    const ageDays = (conversion.occurredAt.getTime() - named.clickedAt.getTime()) / MS_PER_DAY;
    return {
      outcome: 'UNATTRIBUTED',
      reason: 'OUTSIDE_WINDOW',
      named,
      windowDays,
      explanation: `Click ${named.clickId} matched, but it is ${ageDays.toFixed(1)} days older than the conversion, outside the offer's ${windowDays}-day window.`,
    };
  }
  const sinceClickMs = conversion.occurredAt.getTime() - credited.clickedAt.getTime();
  const type: AttributionType = sinceClickMs <= policy.directSessionMs ? 'DIRECT' : 'CLICK_THROUGH';
  const which =
    credited.clickId === named.clickId
      ? `the reported click ${named.clickId} is the contact's first click on offer ${named.offerId} inside the ${windowDays}-day window`
      : `the reported click ${named.clickId} (message ${named.messageId}) matched, but the contact's first click on offer ${named.offerId} inside the ${windowDays}-day window was ${credited.clickId} (message ${credited.messageId}) at ${credited.clickedAt.toISOString()}: first click wins`;
  return {
    outcome: 'ATTRIBUTED',
    type,
    credited,
    windowDays,
    explanation: `Credited to message ${credited.messageId}: ${which}; conversion ${formatDuration(sinceClickMs)} after that click (${type === 'DIRECT' ? 'direct' : 'click-through'}).`,
  };
}

function formatDuration(ms: number): string {
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < MS_PER_DAY) return `${(ms / 3_600_000).toFixed(1)} h`;
  return `${(ms / MS_PER_DAY).toFixed(1)} days`;
}
