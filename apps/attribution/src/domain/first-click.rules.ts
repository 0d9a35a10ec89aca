/**
 * First-click attribution. A conversion names a click; the credit goes to the FIRST human click of that contact on
 * that offer inside the window before the conversion — not necessarily the named one (Monday A, Wednesday B, Friday
 * converts with B's click id: A is credited). Clicks after the conversion, link previews and bots never get credit.
 * Without a usable click, a conversion that names our message can be credited VIEW_THROUGH when its offer opts in.
 * The checks run in a fixed order (see `decide`), so each conversion gets exactly one rule and one reason code.
 */
import { formatMicros, Money, MS_PER_DAY } from '@trackly/kernel';
import { CapUsage, holdUntil, OfferRules, overCap } from './caps.rules';

/** Recorded on every decision, so a later rule change can tell which decisions it would alter. */
export const RULE_VERSION = 'first-click/2';

export type ConversionStatus = 'APPROVED' | 'PENDING' | 'REJECTED' | 'REVERSED';
export type AttributionType = 'DIRECT' | 'CLICK_THROUGH' | 'VIEW_THROUGH';
export type ClickClass = 'HUMAN' | 'PREVIEW' | 'BOT';
export type UnattributedReason =
  | 'UNKNOWN_CLICK_ID'
  | 'OUTSIDE_WINDOW'
  | 'TOO_FAST'
  | 'DUPLICATE'
  | 'CLICK_AFTER_CONVERSION'
  | 'OFFER_MISMATCH'
  | 'REJECTED'
  | 'NO_CLICK_NO_VIEW'
  | 'OVER_CAP';
/** The rule that settled a decision (more specific than the reason: e.g. NO_HUMAN_CLICK gives NO_CLICK_NO_VIEW). */
export type Rule =
  | 'REJECTED_STATUS'
  | 'UNKNOWN_CLICK'
  | 'OFFER_MISMATCH'
  | 'CLICK_AFTER_CONVERSION'
  | 'OUTSIDE_WINDOW'
  | 'NO_HUMAN_CLICK'
  | 'NO_CLICK_NO_VIEW'
  | 'TOO_FAST'
  | 'DUPLICATE'
  | 'FIRST_CLICK'
  | 'VIEW_THROUGH'
  | 'OVER_CAP';
export type WindowSource = 'OFFER' | 'DEFAULT';

export interface ClickFact {
  clickId: string;
  messageId: string;
  contactId: string;
  offerId: string;
  campaignId: string;
  creativeId: string;
  clickedAt: Date;
  /** Tracking's classification; unclassified clicks are HUMAN. */
  clickClass: ClickClass;
}

export interface SendFact {
  messageId: string;
  contactId: string;
  offerId: string;
  campaignId: string;
  creativeId: string;
  sentAt: Date;
}

/** The offer's attribution settings; null = not set. */
export interface OfferTerms {
  clickWindowDays: number | null;
  minConversionSeconds: number | null;
  /** null = view-through off for this offer (the default). */
  viewThroughWindowDays: number | null;
  /** What a conversion of this offer earns when its postback names no payout; null = not known here. */
  defaultPayout?: Money | null;
}

export const NO_OFFER_TERMS: OfferTerms = { clickWindowDays: null, minConversionSeconds: null, viewThroughWindowDays: null, defaultPayout: null };

export interface ConversionFacts {
  partnerId: string;
  conversionId: string;
  /** Click id the partner echoed back; empty when none. */
  reportedClickId: string;
  /** Our message id the partner echoed back (the contact reference for view-through); empty when none. */
  messageId: string;
  occurredAt: Date;
  status: ConversionStatus;
  payout: Money;
  /** The postback carried no payout: the offer's default payout applies (the decision says so). */
  payoutAbsent?: boolean;
  /** A partner's test conversion: decided like any other, and said to be a test. */
  test?: boolean;
}

export interface AttributionPolicy {
  /** Lookback when the offer sets none. */
  defaultWindowDays: number;
  /** A conversion this soon after the credited click is DIRECT rather than CLICK_THROUGH. */
  directSessionMs: number;
}

export const DEFAULT_POLICY: AttributionPolicy = { defaultWindowDays: 90, directSessionMs: 30 * 60_000 };

/** What a decision points at: a click (click id set) or, for view-through, a send (click id empty). */
export interface Touch {
  clickId: string;
  messageId: string;
  contactId: string;
  offerId: string;
  campaignId: string;
  creativeId: string;
  /** Click time, or send time for a view. */
  at: Date;
}

export interface DecisionInput {
  conversion: ConversionFacts;
  /** The click with the reported click id, when it is known. */
  named?: ClickFact;
  /** Clicks of the named click's contact on its offer (any superset: window, class and order are applied here). */
  contactClicks: ClickFact[];
  /** Terms of the named click's offer, or of the referenced send's offer when there is no click. */
  offer: OfferTerms;
  /** The send the conversion's message_id names, when known. */
  referencedSend?: SendFact;
  /** Sends to the referenced send's contact for its offer (any superset), for view-through. */
  contactSends?: SendFact[];
  /** Another conversion of the partner, already credited, with this one's fingerprint (see `fingerprint`). */
  duplicateOf?: string;
  /** Caps and hold period of the offer (of the named click, else of the referenced send), when it has any. */
  rules?: OfferRules;
  /** What is already credited in the rules' cap periods (shared by a batch, which counts its own credits in). */
  usage?: CapUsage;
}

export interface Decision {
  outcome: 'ATTRIBUTED' | 'UNATTRIBUTED';
  rule: Rule;
  reason?: UnattributedReason;
  type?: AttributionType;
  /** The credited touch (ATTRIBUTED), or the touch the conversion matched (UNATTRIBUTED, for troubleshooting). */
  touch?: Touch;
  windowDays: number;
  windowSource: WindowSource;
  explanation: string;
  /** What the conversion earns: the postback's payout, or the offer's default when the postback had none. */
  payout: Money;
  /** True when `payout` is the offer's default payout. */
  payoutDefaulted: boolean;
  /** The status the decision keeps: the partner's, or PENDING when held (hold period, or over a cap with HOLD). */
  status: ConversionStatus;
  /** Credited although over a cap of the offer (action HOLD): pending until an operator decides. */
  overCap: boolean;
  /** Held by the offer's hold period until then; approved after unless adjusted meanwhile. */
  holdUntil?: Date;
}

/** Earliest click first; ties broken by click id so every replica and every replay decides the same. */
export function compareClicks(a: ClickFact, b: ClickFact): number {
  return a.clickedAt.getTime() - b.clickedAt.getTime() || (a.clickId < b.clickId ? -1 : a.clickId > b.clickId ? 1 : 0);
}

function compareSends(a: SendFact, b: SendFact): number {
  return a.sentAt.getTime() - b.sentAt.getTime() || (a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : 0);
}

/** The interval of touch times that can earn credit for a conversion at `occurredAt`: [from, occurredAt]. */
export function lookback(occurredAt: Date, windowDays: number): { from: Date; to: Date } {
  return { from: new Date(occurredAt.getTime() - windowDays * MS_PER_DAY), to: occurredAt };
}

export function windowOf(offer: OfferTerms, policy: AttributionPolicy): { windowDays: number; windowSource: WindowSource } {
  return offer.clickWindowDays != null
    ? { windowDays: offer.clickWindowDays, windowSource: 'OFFER' }
    : { windowDays: policy.defaultWindowDays, windowSource: 'DEFAULT' };
}

export const isHuman = (c: ClickFact): boolean => c.clickClass === 'HUMAN';

export const clickTouch = (c: ClickFact): Touch => ({
  clickId: c.clickId, messageId: c.messageId, contactId: c.contactId, offerId: c.offerId, campaignId: c.campaignId, creativeId: c.creativeId, at: c.clickedAt,
});

const sendTouch = (s: SendFact): Touch => ({
  clickId: '', messageId: s.messageId, contactId: s.contactId, offerId: s.offerId, campaignId: s.campaignId, creativeId: s.creativeId, at: s.sentAt,
});

/**
 * DUPLICATE key: one sale re-sent by the partner under a new dedupe key carries the same click (or message), the
 * same second and the same payout. Only one credited conversion per partner may hold a fingerprint (a unique index
 * enforces it); a second one is DUPLICATE. Redelivery of the same conversion id is not a duplicate: it gets the
 * first decision back. Null when the conversion names neither a click nor a message.
 */
export function fingerprint(c: ConversionFacts): string | null {
  const ref = c.reportedClickId ? `click:${c.reportedClickId}` : c.messageId ? `message:${c.messageId}` : '';
  if (!ref) return null;
  return `${c.partnerId}|${ref}|${Math.floor(c.occurredAt.getTime() / 1000)}|${c.payout.currency}|${c.payout.micros}`;
}

/**
 * Decides one conversion. Checks, in order: rejected status; no click id (view-through or NO_CLICK_NO_VIEW); unknown
 * click; click and message on different offers; the first human click in the window (none: click after conversion,
 * preview/bot only — view-through may still apply —, or outside the window); too fast; duplicate; credit.
 */
export function decide(input: DecisionInput, policy: AttributionPolicy = DEFAULT_POLICY): Decision {
  const verdict = decideVerdict(input, policy);
  const { conversion, offer } = input;
  const notes: string[] = [];
  let payout = conversion.payout;
  let payoutDefaulted = false;
  if (conversion.payoutAbsent) {
    if (offer.defaultPayout) {
      payout = offer.defaultPayout;
      payoutDefaulted = true;
      notes.push(`The postback carried no payout: the offer's default payout of ${formatMicros(payout.micros)} ${payout.currency} applies.`);
    } else {
      notes.push('The postback carried no payout and no default payout of the offer is known: it counts as zero.');
    }
  }
  if (conversion.test) notes.push("This is the partner's test conversion: it is decided as any other and kept out of revenue.");
  let status = conversion.status;
  let over = false;
  let heldUntil: Date | undefined;
  let final = verdict;
  const rules = input.rules;
  // Test conversions are never capped nor held: they are not revenue.
  if (verdict.outcome === 'ATTRIBUTED' && rules && !conversion.test && rules.offerId === verdict.touch?.offerId) {
    const o = overCap(rules, input.usage ?? new Map(), conversion.partnerId, conversion.occurredAt, payout);
    if (o && rules.overCapAction === 'REFUSE') {
      final = {
        ...verdict,
        outcome: 'UNATTRIBUTED',
        rule: 'OVER_CAP',
        reason: 'OVER_CAP',
        type: undefined,
        explanation: `Not credited: ${o.why} (the offer refuses conversions over its caps). Otherwise: ${verdict.explanation}`,
      };
    } else if (o) {
      over = true;
      if (status === 'APPROVED') status = 'PENDING';
      notes.push(`Held over cap: ${o.why}; credited with status ${status} for an operator to approve or reject.`);
    } else {
      heldUntil = status === 'APPROVED' || status === 'PENDING' ? holdUntil(rules, conversion.occurredAt) : undefined;
      if (heldUntil) {
        status = 'PENDING';
        notes.push(`Held: offer ${rules.offerId} holds credited conversions ${rules.holdDays} day(s): pending until ${heldUntil.toISOString()}, then approved unless adjusted meanwhile.`);
      }
    }
  }
  return { ...final, payout, payoutDefaulted, status, overCap: over, holdUntil: heldUntil, explanation: [final.explanation, ...notes].join(' ') };
}

type Verdict = Omit<Decision, 'payout' | 'payoutDefaulted' | 'status' | 'overCap' | 'holdUntil'>;

function decideVerdict(input: DecisionInput, policy: AttributionPolicy): Verdict {
  const { conversion, named, offer } = input;
  const { windowDays, windowSource } = windowOf(offer, policy);
  const at = conversion.occurredAt.toISOString();
  const unattributed = (rule: Rule, reason: UnattributedReason, explanation: string, touch?: Touch): Verdict => ({
    outcome: 'UNATTRIBUTED', rule, reason, touch, windowDays, windowSource, explanation,
  });

  if (conversion.status === 'REJECTED') {
    return unattributed('REJECTED_STATUS', 'REJECTED', 'The partner reported the conversion as rejected; rejected conversions earn no credit.', named && clickTouch(named));
  }
  if (!conversion.reportedClickId) {
    return viewThrough(input) ?? unattributed('NO_CLICK_NO_VIEW', 'NO_CLICK_NO_VIEW', `The postback carried no click id, and ${noViewBecause(input)}.`);
  }
  if (!named) {
    return unattributed(
      'UNKNOWN_CLICK',
      'UNKNOWN_CLICK_ID',
      `Click id "${conversion.reportedClickId}" does not match any recorded click: check that the partner passes our click_id back unchanged.`,
    );
  }
  const send = input.referencedSend;
  if (conversion.messageId && send && send.offerId !== named.offerId) {
    return unattributed(
      'OFFER_MISMATCH',
      'OFFER_MISMATCH',
      `Click ${named.clickId} is on offer ${named.offerId} but the conversion also names message ${send.messageId}, sent for offer ${send.offerId}: the partner's references contradict each other.`,
      clickTouch(named),
    );
  }
  const { from, to } = lookback(conversion.occurredAt, windowDays);
  const eligible = [named, ...input.contactClicks]
    .filter((c) => c.contactId === named.contactId && c.offerId === named.offerId && isHuman(c))
    .filter((c) => c.clickedAt.getTime() >= from.getTime() && c.clickedAt.getTime() <= to.getTime())
    .sort(compareClicks);
  const credited = eligible[0];
  if (!credited) {
    if (named.clickedAt.getTime() > to.getTime()) {
      return unattributed(
        'CLICK_AFTER_CONVERSION',
        'CLICK_AFTER_CONVERSION',
        `Click ${named.clickId} matched, but it happened at ${named.clickedAt.toISOString()}, after the conversion at ${at}; a later click cannot have caused it.`,
        clickTouch(named),
      );
    }
    if (!isHuman(named) && named.clickedAt.getTime() >= from.getTime()) {
      const what = named.clickClass === 'PREVIEW' ? 'a link preview' : 'a bot';
      return (
        viewThrough(input) ??
        unattributed(
          'NO_HUMAN_CLICK',
          'NO_CLICK_NO_VIEW',
          `Click ${named.clickId} matched, but it was ${what} fetching the link, not a person, and the contact has no human click on offer ${named.offerId} inside the ${windowDays}-day window; ${noViewBecause(input)}.`,
          clickTouch(named),
        )
      );
    }
    const ageDays = (conversion.occurredAt.getTime() - named.clickedAt.getTime()) / MS_PER_DAY;
    return unattributed(
      'OUTSIDE_WINDOW',
      'OUTSIDE_WINDOW',
      `Click ${named.clickId} matched, but it is ${ageDays.toFixed(1)} days older than the conversion, outside the offer's ${windowDays}-day window (${windowSource === 'OFFER' ? "the offer's click_window_days" : 'platform default'}).`,
      clickTouch(named),
    );
  }
  const sinceClickMs = conversion.occurredAt.getTime() - credited.clickedAt.getTime();
  if (offer.minConversionSeconds != null && sinceClickMs < offer.minConversionSeconds * 1000) {
    return unattributed(
      'TOO_FAST',
      'TOO_FAST',
      `The conversion came ${(sinceClickMs / 1000).toFixed(3)} s after the credited click ${credited.clickId}, faster than the offer's minimum of ${offer.minConversionSeconds} s: not credited (anti-fraud rule).`,
      clickTouch(credited),
    );
  }
  if (input.duplicateOf) {
    return unattributed(
      'DUPLICATE',
      'DUPLICATE',
      `Conversion ${input.duplicateOf} of the same partner, with the same click, time (to the second) and payout, is already credited: this one is the same sale under another dedupe key.`,
      clickTouch(credited),
    );
  }
  const type: AttributionType = sinceClickMs <= policy.directSessionMs ? 'DIRECT' : 'CLICK_THROUGH';
  const skipped = [named, ...input.contactClicks].some((c) => !isHuman(c) && c.contactId === named.contactId && c.offerId === named.offerId && compareClicks(c, credited) < 0 && c.clickedAt.getTime() >= from.getTime());
  const which =
    credited.clickId === named.clickId
      ? `the reported click ${named.clickId} is the contact's first human click on offer ${named.offerId} inside the ${windowDays}-day window`
      : `the reported click ${named.clickId} (message ${named.messageId}) matched, but the contact's first human click on offer ${named.offerId} inside the ${windowDays}-day window was ${credited.clickId} (message ${credited.messageId}) at ${credited.clickedAt.toISOString()}: first click wins`;
  return {
    outcome: 'ATTRIBUTED',
    rule: 'FIRST_CLICK',
    type,
    touch: clickTouch(credited),
    windowDays,
    windowSource,
    explanation: `Credited to message ${credited.messageId}: ${which}${skipped ? ' (earlier link previews/bot fetches do not count)' : ''}; conversion ${formatDuration(sinceClickMs)} after that click (${type === 'DIRECT' ? 'direct' : 'click-through'}).`,
  };
}

/** VIEW_THROUGH credit: the first send to the contact for the offer inside the offer's view window, if it opts in. */
function viewThrough(input: DecisionInput): Verdict | undefined {
  const { conversion, referencedSend: send, offer } = input;
  if (!conversion.messageId || !send || offer.viewThroughWindowDays == null) return undefined;
  const { from, to } = lookback(conversion.occurredAt, offer.viewThroughWindowDays);
  const first = [send, ...(input.contactSends ?? [])]
    .filter((s) => s.contactId === send.contactId && s.offerId === send.offerId)
    .filter((s) => s.sentAt.getTime() >= from.getTime() && s.sentAt.getTime() <= to.getTime())
    .sort(compareSends)[0];
  if (!first) return undefined;
  if (input.duplicateOf) {
    // The same sale under another dedupe key is credited once, whichever way it would have been credited.
    return {
      outcome: 'UNATTRIBUTED',
      rule: 'DUPLICATE',
      reason: 'DUPLICATE',
      touch: sendTouch(first),
      windowDays: offer.viewThroughWindowDays,
      windowSource: 'OFFER',
      explanation: `Conversion ${input.duplicateOf} of the same partner, with the same click, time (to the second) and payout, is already credited: this one is the same sale under another dedupe key.`,
    };
  }
  const sinceSendMs = conversion.occurredAt.getTime() - first.sentAt.getTime();
  return {
    outcome: 'ATTRIBUTED',
    rule: 'VIEW_THROUGH',
    type: 'VIEW_THROUGH',
    touch: sendTouch(first),
    windowDays: offer.viewThroughWindowDays,
    windowSource: 'OFFER',
    explanation: `Credited view-through to message ${first.messageId}: no human click, but the conversion names message ${send.messageId} and the contact was sent offer ${send.offerId} ${formatDuration(sinceSendMs)} before converting, inside the offer's ${offer.viewThroughWindowDays}-day view window (reported apart from click revenue).`,
  };
}

function noViewBecause(input: DecisionInput): string {
  const { conversion, referencedSend: send, offer } = input;
  if (!conversion.messageId) return 'it names no message, so view-through cannot apply';
  if (!send) return `message ${conversion.messageId} is not a known send, so view-through cannot apply`;
  if (offer.viewThroughWindowDays == null) return `view-through is off for offer ${send.offerId}`;
  return `message ${send.messageId} was not sent inside offer ${send.offerId}'s ${offer.viewThroughWindowDays}-day view window`;
}

/** How one candidate click fared under the rules, for ExplainConversion. */
export function candidateNote(c: ClickFact, conversion: ConversionFacts, windowDays: number, creditedClickId: string): { inWindow: boolean; note: string } {
  const { from, to } = lookback(conversion.occurredAt, windowDays);
  const t = c.clickedAt.getTime();
  const inWindow = t >= from.getTime() && t <= to.getTime();
  if (c.clickId === creditedClickId) return { inWindow, note: 'credited: first human click inside the window' };
  if (t > to.getTime()) return { inWindow, note: 'after the conversion: never credited' };
  if (!inWindow) return { inWindow, note: `older than the ${windowDays}-day window` };
  if (c.clickClass !== 'HUMAN') return { inWindow, note: `${c.clickClass === 'PREVIEW' ? 'link preview' : 'bot'}: never a first click` };
  return { inWindow, note: creditedClickId ? 'later than the credited click: tracked, not credited' : 'eligible, but the decision credited no click' };
}

/** What an adjustment (status or payout change from the partner) does to a decision. */
export type AdjustmentEffect =
  | { kind: 'NONE' }
  /** Same outcome and touch; status and payout move (reversal keeps the credit, now reversed). */
  | { kind: 'UPDATE'; explanation: string }
  /** Credited conversion rejected: the credit is withdrawn (UNATTRIBUTED, REJECTED). */
  | { kind: 'WITHDRAW'; explanation: string }
  /** A rejected conversion un-rejected: decide it again with the new status. */
  | { kind: 'REDECIDE'; explanation: string };

export function adjustmentEffect(
  current: { outcome: 'ATTRIBUTED' | 'UNATTRIBUTED'; reason: string | null; status: ConversionStatus; payout: Money },
  next: { status: ConversionStatus; payout: Money },
  cause: string,
): AdjustmentEffect {
  const samePayout = current.payout.currency === next.payout.currency && current.payout.micros === next.payout.micros;
  if (current.status === next.status && samePayout) return { kind: 'NONE' };
  const change = `Adjusted (${cause || 'adjustment'}): status ${current.status} -> ${next.status}, payout ${formatMicros(current.payout.micros)} ${current.payout.currency} -> ${formatMicros(next.payout.micros)} ${next.payout.currency}.`;
  if (current.outcome === 'ATTRIBUTED' && next.status === 'REJECTED') return { kind: 'WITHDRAW', explanation: `${change} Rejected conversions earn no credit: the credit is withdrawn.` };
  if (current.outcome === 'UNATTRIBUTED' && current.reason === 'REJECTED' && next.status !== 'REJECTED') return { kind: 'REDECIDE', explanation: change };
  return { kind: 'UPDATE', explanation: change };
}

/**
 * Parked conversions (named click unknown so far) are retried with exponential backoff from `baseMs`, capped at
 * `maxMs`, and never later than the horizon; at the horizon they are settled UNKNOWN_CLICK_ID.
 */
export function nextParkAttempt(now: Date, attempts: number, horizonAt: Date, baseMs = 30_000, maxMs = 3_600_000): Date {
  const delay = Math.min(maxMs, baseMs * 2 ** Math.min(attempts, 20));
  return new Date(Math.min(now.getTime() + delay, horizonAt.getTime()));
}

function formatDuration(ms: number): string {
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < MS_PER_DAY) return `${(ms / 3_600_000).toFixed(1)} h`;
  return `${(ms / MS_PER_DAY).toFixed(1)} days`;
}
