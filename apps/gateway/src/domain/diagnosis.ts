/**
 * The troubleshooting questions of the product guide, answered for one conversion from what ingest stored and what
 * attribution decided: does the click id match? was it a person's click? was the click inside the window? was it
 * already attributed? `null` means "cannot tell" (no decision yet, or the decision did not get that far).
 *
 * Every answer follows from the decision through one table keyed by the outcome and reason code (CHECKLIST), so the
 * checklist can never contradict attribution's own explanation: the rules in apps/attribution decide in a fixed order
 * (rejected status, no click id, unknown click, offer mismatch, window and class, too fast, duplicate, credit), and
 * each reason code says how far a conversion got. A test runs the real rules for every reason and checks both agree.
 */
import {
  Attribution,
  AttributionOutcome,
  AttributionType,
  UnattributedReason,
  unattributedReasonFromJSON,
  unattributedReasonToJSON,
} from '@trackly/contracts/attribution/v1/attribution';
import type { CandidateClick } from '@trackly/contracts/attribution/v1/attribution_service';
import { AttributionState, Conversion } from '@trackly/contracts/ingest/v1/ingest';
import { MS_PER_DAY } from '@trackly/kernel';

export interface ConversionDiagnosis {
  /** PENDING until attribution has decided. */
  outcome: 'ATTRIBUTED' | 'UNATTRIBUTED' | 'PENDING';
  /** Whether the click id the partner reported matches a recorded click (false also when it reported none). */
  clickIdMatched: boolean | null;
  /** Whether that click was a person's (not a link preview or a bot). */
  humanClick: boolean | null;
  /** Whether the click lies inside the offer's window before the conversion. */
  clickInWindow: boolean | null;
  /**
   * Whether the sale is credited: to this conversion (ATTRIBUTED), or already to another conversion of the same
   * partner with the same click, second and payout (DUPLICATE).
   */
  alreadyAttributed: boolean;
  /** Message credited (for a DUPLICATE, the message the earlier conversion of the same sale was credited to). */
  creditedTo: string | null;
  /** Why it got no credit, e.g. UNKNOWN_CLICK_ID. */
  reason: string | null;
  /** Attribution's own explanation. */
  explanation: string | null;
}

/**
 * How an answer is found for a decision of one kind: a fixed answer; `reported` = whether the partner reported a
 * click id (one that did not match would have been UNKNOWN_CLICK_ID); `touch` = whether the reported click is known
 * (the decision recorded it as its touch); `{ ifClick }` = that answer when a click id was reported (the traced click,
 * when given, tells instead), null without one; `times` = from the traced click or the click and conversion times.
 */
type Rule = boolean | null | 'reported' | 'touch' | 'times' | { ifClick: boolean };
interface Row {
  clickIdMatched: Rule;
  humanClick: Rule;
  clickInWindow: Rule;
  alreadyAttributed: boolean;
  /** Whether the decision's message is the one credited (to this conversion or its twin). */
  credited: boolean;
}

/** The decision kinds: ATTRIBUTED by type, UNATTRIBUTED by reason. Every reason code has a row (a test checks it). */
export const CHECKLIST: Record<string, Row> = {
  ATTRIBUTED: { clickIdMatched: true, humanClick: true, clickInWindow: true, alreadyAttributed: true, credited: true },
  // Credited to a send with no person's click: a reported click id can only have been a preview or bot fetch.
  ATTRIBUTED_VIEW_THROUGH: { clickIdMatched: 'reported', humanClick: { ifClick: false }, clickInWindow: null, alreadyAttributed: true, credited: true },
  UNKNOWN_CLICK_ID: { clickIdMatched: false, humanClick: null, clickInWindow: null, alreadyAttributed: false, credited: false },
  OUTSIDE_WINDOW: { clickIdMatched: true, humanClick: null, clickInWindow: false, alreadyAttributed: false, credited: false },
  CLICK_AFTER_CONVERSION: { clickIdMatched: true, humanClick: null, clickInWindow: false, alreadyAttributed: false, credited: false },
  // The first human click in the window was found; the conversion came faster than the offer's minimum after it.
  TOO_FAST: { clickIdMatched: true, humanClick: true, clickInWindow: true, alreadyAttributed: false, credited: false },
  OFFER_MISMATCH: { clickIdMatched: true, humanClick: null, clickInWindow: null, alreadyAttributed: false, credited: false },
  // Checked first, before anything about the click.
  REJECTED: { clickIdMatched: 'touch', humanClick: 'times', clickInWindow: 'times', alreadyAttributed: false, credited: false },
  // Every check passed, and the same sale is already credited under another dedupe key (by click, or by view).
  DUPLICATE: { clickIdMatched: 'reported', humanClick: { ifClick: true }, clickInWindow: { ifClick: true }, alreadyAttributed: true, credited: true },
  // No click id (and no view to credit), or a click id that matched only a link preview or bot fetch in the window.
  NO_CLICK_NO_VIEW: { clickIdMatched: 'reported', humanClick: { ifClick: false }, clickInWindow: { ifClick: true }, alreadyAttributed: false, credited: false },
  // Every attribution check passed (by click, or by view), but the offer's cap for the period was reached and the
  // offer refuses conversions over it.
  OVER_CAP: { clickIdMatched: 'reported', humanClick: { ifClick: true }, clickInWindow: { ifClick: true }, alreadyAttributed: false, credited: false },
};

const REASON_PREFIX = 'UNATTRIBUTED_REASON_';

/**
 * @param attribution attribution's decision, or null when it has none (yet).
 * @param matchedClick the reported click as ExplainConversion traced it, when known (class and window of that click).
 */
export function diagnose(conversion: Conversion, attribution: Attribution | null, matchedClick?: CandidateClick): ConversionDiagnosis {
  // Without attribution's record, ingest's copy of the verdict (heard from attribution's events) is the next best.
  const a = attribution && attribution.outcome !== AttributionOutcome.ATTRIBUTION_OUTCOME_UNSPECIFIED ? attribution : fromIngest(conversion);
  const reported = (a?.reportedClickId || conversion.clickId) !== '';
  if (!a || a.outcome === AttributionOutcome.ATTRIBUTION_OUTCOME_PENDING) {
    // Not decided, or parked by attribution: the click id is not known yet, and may still arrive before the horizon.
    return {
      outcome: 'PENDING',
      clickIdMatched: reported ? null : false,
      humanClick: null,
      clickInWindow: null,
      alreadyAttributed: false,
      creditedTo: null,
      reason: null,
      explanation: a?.explanation || null,
    };
  }
  const attributed = a.outcome === AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED;
  const reason = attributed ? null : reasonText(a, attribution, conversion);
  const row = rowFor(a, reason);
  if (!row) {
    // A reason code this gateway does not know yet: say so rather than guess.
    return { outcome: 'UNATTRIBUTED', clickIdMatched: null, humanClick: null, clickInWindow: null, alreadyAttributed: false, creditedTo: null, reason, explanation: a.explanation || null };
  }
  const known = a.messageId !== '' || a.creditedClickId !== '';
  const answer = (rule: Rule, traced: boolean | null): boolean | null => {
    if (rule === 'reported') return reported;
    // Ingest's copy of a verdict carries no touch: it cannot tell a known click from an unknown one.
    if (rule === 'touch') return reported ? (a === attribution ? known : null) : false;
    if (rule === 'times') return reported ? traced : null;
    if (rule !== null && typeof rule === 'object') return reported ? (traced ?? rule.ifClick) : null;
    return rule;
  };
  return {
    outcome: attributed ? 'ATTRIBUTED' : 'UNATTRIBUTED',
    clickIdMatched: answer(row.clickIdMatched, null),
    humanClick: answer(row.humanClick, matchedClick ? matchedClick.clickClass === 'HUMAN' : null),
    clickInWindow: answer(row.clickInWindow, matchedClick ? matchedClick.inWindow : inWindowByTimes(a)),
    alreadyAttributed: row.alreadyAttributed,
    creditedTo: row.credited ? a.messageId || conversion.creditedMessageId || null : null,
    reason,
    explanation: a.explanation || null,
  };
}

function rowFor(a: Attribution, reason: string | null): Row | undefined {
  if (a.outcome === AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED) {
    return a.type === AttributionType.ATTRIBUTION_TYPE_VIEW_THROUGH ? CHECKLIST.ATTRIBUTED_VIEW_THROUGH : CHECKLIST.ATTRIBUTED;
  }
  return reason && Object.hasOwn(CHECKLIST, reason) && !reason.startsWith('ATTRIBUTED') ? CHECKLIST[reason] : undefined;
}

/** The reason code without its prefix, from attribution's record or, without one, from ingest's copy. */
function reasonText(a: Attribution, attribution: Attribution | null, conversion: Conversion): string | null {
  if (a.reason !== UnattributedReason.UNATTRIBUTED_REASON_UNSPECIFIED && a.reason !== UnattributedReason.UNRECOGNIZED) {
    const name = unattributedReasonToJSON(a.reason);
    return name.startsWith(REASON_PREFIX) ? name.slice(REASON_PREFIX.length) : name;
  }
  return a === attribution ? null : conversion.attributionReason || null;
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

function inWindowByTimes(a: Attribution): boolean | null {
  if (!a.creditedClickedAt || !a.occurredAt || !a.windowDays) return null;
  const age = a.occurredAt.getTime() - a.creditedClickedAt.getTime();
  return age >= 0 && age <= a.windowDays * MS_PER_DAY;
}
