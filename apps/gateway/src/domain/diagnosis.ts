/**
 * The troubleshooting questions of the product guide, answered for one conversion from what ingest stored and what
 * attribution decided: does the click id match? was the click inside the window? was it already attributed?
 * `null` means "cannot tell yet" (no decision, or the decision did not get that far).
 */
import {
  Attribution,
  AttributionOutcome,
  UnattributedReason,
  unattributedReasonFromJSON,
  unattributedReasonToJSON,
} from '@trackly/contracts/attribution/v1/attribution';
import { AttributionState, Conversion } from '@trackly/contracts/ingest/v1/ingest';
import { MS_PER_DAY } from '@trackly/kernel';

export interface ConversionDiagnosis {
  /** PENDING until attribution has decided. */
  outcome: 'ATTRIBUTED' | 'UNATTRIBUTED' | 'PENDING';
  /** Whether the click id the partner reported matches a recorded click. */
  clickIdMatched: boolean | null;
  /** Whether that click lies inside the offer's window before the conversion. */
  clickInWindow: boolean | null;
  /** Whether the conversion is credited (to `creditedTo`), so it cannot be credited again. */
  alreadyAttributed: boolean;
  /** Message credited. */
  creditedTo: string | null;
  /** Why it got no credit, e.g. UNKNOWN_CLICK_ID. */
  reason: string | null;
  /** Attribution's own explanation. */
  explanation: string | null;
}

const REASON_PREFIX = 'UNATTRIBUTED_REASON_';
/** Reasons attribution only reaches after finding the reported click. */
const AFTER_MATCH = new Set([
  UnattributedReason.UNATTRIBUTED_REASON_OUTSIDE_WINDOW,
  UnattributedReason.UNATTRIBUTED_REASON_CLICK_AFTER_CONVERSION,
  UnattributedReason.UNATTRIBUTED_REASON_TOO_FAST,
  UnattributedReason.UNATTRIBUTED_REASON_OFFER_MISMATCH,
]);
const NO_MATCH = new Set([
  UnattributedReason.UNATTRIBUTED_REASON_UNKNOWN_CLICK_ID,
  UnattributedReason.UNATTRIBUTED_REASON_NO_CLICK_NO_VIEW,
]);

/** @param attribution attribution's decision, or null when it has none (yet). */
export function diagnose(conversion: Conversion, attribution: Attribution | null): ConversionDiagnosis {
  // Without attribution's record, ingest's copy of the verdict (heard from attribution's events) is the next best.
  const a = attribution && attribution.outcome !== AttributionOutcome.ATTRIBUTION_OUTCOME_UNSPECIFIED ? attribution : fromIngest(conversion);
  if (!a) {
    return {
      outcome: 'PENDING',
      clickIdMatched: conversion.clickId === '' ? false : null,
      clickInWindow: null,
      alreadyAttributed: false,
      creditedTo: null,
      reason: null,
      explanation: null,
    };
  }
  if (a.outcome === AttributionOutcome.ATTRIBUTION_OUTCOME_PENDING) {
    // Parked by attribution: the click id is not known yet, and may still arrive before the horizon.
    return {
      outcome: 'PENDING',
      clickIdMatched: null,
      clickInWindow: null,
      alreadyAttributed: false,
      creditedTo: null,
      reason: null,
      explanation: a.explanation || null,
    };
  }
  const attributed = a.outcome === AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED;
  return {
    outcome: attributed ? 'ATTRIBUTED' : 'UNATTRIBUTED',
    clickIdMatched: clickIdMatched(a, attributed),
    clickInWindow: clickInWindow(a, attributed),
    alreadyAttributed: attributed,
    creditedTo: attributed ? a.messageId || conversion.creditedMessageId || null : null,
    reason: attributed
      ? null
      : a.reason !== UnattributedReason.UNATTRIBUTED_REASON_UNSPECIFIED
        ? reasonName(a.reason)
        : a === attribution
          ? null
          : conversion.attributionReason || null,
    explanation: a.explanation || null,
  };
}

function fromIngest(c: Conversion): Attribution | null {
  const outcome =
    c.attributionState === AttributionState.ATTRIBUTION_STATE_ATTRIBUTED
      ? AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED
      : c.attributionState === AttributionState.ATTRIBUTION_STATE_UNATTRIBUTED
        ? AttributionOutcome.ATTRIBUTION_OUTCOME_UNATTRIBUTED
        : undefined;
  if (outcome === undefined) return null;
  const reason = c.attributionReason ? unattributedReasonFromJSON(`${REASON_PREFIX}${c.attributionReason}`) : UnattributedReason.UNATTRIBUTED_REASON_UNSPECIFIED;
  return Attribution.fromPartial({
    outcome,
    reason: reason === UnattributedReason.UNRECOGNIZED ? UnattributedReason.UNATTRIBUTED_REASON_UNSPECIFIED : reason,
    reportedClickId: c.clickId,
    messageId: c.creditedMessageId,
    occurredAt: c.occurredAt,
  });
}

function clickIdMatched(a: Attribution, attributed: boolean): boolean | null {
  if (attributed) return true;
  if (NO_MATCH.has(a.reason)) return false;
  if (AFTER_MATCH.has(a.reason)) return true;
  return a.creditedClickId !== '' ? true : null;
}

function clickInWindow(a: Attribution, attributed: boolean): boolean | null {
  if (attributed) return true;
  if (
    a.reason === UnattributedReason.UNATTRIBUTED_REASON_OUTSIDE_WINDOW ||
    a.reason === UnattributedReason.UNATTRIBUTED_REASON_CLICK_AFTER_CONVERSION
  ) {
    return false;
  }
  if (NO_MATCH.has(a.reason)) return null;
  if (!a.creditedClickedAt || !a.occurredAt || !a.windowDays) return null;
  const age = a.occurredAt.getTime() - a.creditedClickedAt.getTime();
  return age >= 0 && age <= a.windowDays * MS_PER_DAY;
}

function reasonName(reason: UnattributedReason): string {
  const name = unattributedReasonToJSON(reason);
  return name.startsWith(REASON_PREFIX) ? name.slice(REASON_PREFIX.length) : name;
}
