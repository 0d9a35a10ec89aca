import {
  Attribution,
  AttributionOutcome,
  AttributionType,
  UnattributedReason,
  unattributedReasonToJSON,
} from '@trackly/contracts/attribution/v1/attribution';
import { AttributionState, Conversion } from '@trackly/contracts/ingest/v1/ingest';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
// The real rules (a spec may use another app as a collaborator): the checklist must agree with what they decide.
import {
  ClickFact,
  decide,
  Decision,
  DecisionInput,
  NO_OFFER_TERMS,
  SendFact,
} from '../../../attribution/src/domain/first-click.rules';
import { CHECKLIST, ConversionDiagnosis, diagnose } from './diagnosis';

const occurredAt = new Date('2026-05-10T12:00:00Z');
const DAY = 86_400_000;
const ago = (ms: number) => new Date(occurredAt.getTime() - ms);

const conversion = (over: Partial<Conversion> = {}): Conversion =>
  Conversion.fromPartial({
    id: 'c0ffee00-0000-4000-8000-000000000001',
    partnerId: 'tune-1',
    conversionId: 'tx-1',
    clickId: 'clickB',
    payout: { currencyCode: 'USD', amountMicros: '24990000' },
    status: ConversionStatus.CONVERSION_STATUS_APPROVED,
    occurredAt,
    receivedAt: occurredAt,
    attributionState: AttributionState.ATTRIBUTION_STATE_PENDING,
    ...over,
  });

const click = (clickId: string, at: Date, over: Partial<ClickFact> = {}): ClickFact => ({
  clickId, messageId: `msg-${clickId}`, contactId: 'alice', offerId: 'summer', campaignId: 'camp-1', creativeId: 'cr-1', clickedAt: at, clickClass: 'HUMAN', ...over,
});
const send = (messageId: string, at: Date, offerId = 'summer'): SendFact => ({ messageId, contactId: 'alice', offerId, campaignId: 'camp-1', creativeId: 'cr-1', sentAt: at });

/** A decision input for the guide's conversion (reported click id "clickB" unless said otherwise). */
function input(over: Partial<DecisionInput> & { clickId?: string; messageId?: string; status?: 'APPROVED' | 'REJECTED' } = {}): DecisionInput {
  const { clickId = 'clickB', messageId = '', status = 'APPROVED', ...rest } = over;
  return {
    conversion: { partnerId: 'tune-1', conversionId: 'tx-1', reportedClickId: clickId, messageId, occurredAt, status, payout: { currency: 'USD', micros: 24_990_000n } },
    contactClicks: [],
    offer: NO_OFFER_TERMS,
    ...rest,
  };
}

/** The decision as attribution stores and serves it (attribution.service + attribution.mappers). */
function asAttribution(d: Decision, i: DecisionInput): Attribution {
  const credited = d.outcome === 'ATTRIBUTED';
  return Attribution.fromPartial({
    partnerId: 'tune-1',
    conversionId: 'tx-1',
    outcome: credited ? AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED : AttributionOutcome.ATTRIBUTION_OUTCOME_UNATTRIBUTED,
    reason: d.reason ? UnattributedReason[`UNATTRIBUTED_REASON_${d.reason}`] : UnattributedReason.UNATTRIBUTED_REASON_UNSPECIFIED,
    type: d.type ? AttributionType[`ATTRIBUTION_TYPE_${d.type}`] : AttributionType.ATTRIBUTION_TYPE_UNSPECIFIED,
    reportedClickId: i.conversion.reportedClickId,
    creditedClickId: credited && d.touch?.clickId ? d.touch.clickId : '',
    messageId: d.touch?.messageId ?? '',
    occurredAt,
    creditedClickedAt: credited ? d.touch?.at : undefined,
    windowDays: d.windowDays,
    explanation: d.explanation,
  });
}

type Expected = Pick<ConversionDiagnosis, 'outcome' | 'clickIdMatched' | 'humanClick' | 'clickInWindow' | 'alreadyAttributed' | 'reason'> & { creditedTo?: string | null };

/** One scenario per rule the attribution engine can fire, with the checklist a careful reader of its explanation expects. */
const SCENARIOS: { name: string; rule: string; input: DecisionInput; conversion?: Partial<Conversion>; expected: Expected }[] = [
  {
    name: 'the first human click in the window is credited',
    rule: 'FIRST_CLICK',
    input: input({ named: click('clickB', ago(2 * DAY)) }),
    expected: { outcome: 'ATTRIBUTED', clickIdMatched: true, humanClick: true, clickInWindow: true, alreadyAttributed: true, reason: null, creditedTo: 'msg-clickB' },
  },
  {
    name: 'an earlier click of the contact wins (Monday A, Wednesday B)',
    rule: 'FIRST_CLICK',
    input: input({ named: click('clickB', ago(2 * DAY)), contactClicks: [click('clickA', ago(4 * DAY))] }),
    expected: { outcome: 'ATTRIBUTED', clickIdMatched: true, humanClick: true, clickInWindow: true, alreadyAttributed: true, reason: null, creditedTo: 'msg-clickA' },
  },
  {
    name: 'an unknown click id',
    rule: 'UNKNOWN_CLICK',
    input: input({}),
    expected: { outcome: 'UNATTRIBUTED', clickIdMatched: false, humanClick: null, clickInWindow: null, alreadyAttributed: false, reason: 'UNKNOWN_CLICK_ID' },
  },
  {
    name: 'a click older than the window',
    rule: 'OUTSIDE_WINDOW',
    input: input({ named: click('clickB', ago(100 * DAY)) }),
    expected: { outcome: 'UNATTRIBUTED', clickIdMatched: true, humanClick: null, clickInWindow: false, alreadyAttributed: false, reason: 'OUTSIDE_WINDOW' },
  },
  {
    name: 'a click after the conversion',
    rule: 'CLICK_AFTER_CONVERSION',
    input: input({ named: click('clickB', new Date(occurredAt.getTime() + 60_000)) }),
    expected: { outcome: 'UNATTRIBUTED', clickIdMatched: true, humanClick: null, clickInWindow: false, alreadyAttributed: false, reason: 'CLICK_AFTER_CONVERSION' },
  },
  {
    name: "a conversion over the offer's daily cap (refused)",
    rule: 'OVER_CAP',
    input: input({
      named: click('clickB', ago(2 * DAY)),
      rules: { offerId: 'summer', timeZone: 'America/New_York', caps: [{ period: 'DAY', partnerId: '', maxConversions: 1, maxPayout: null }], overCapAction: 'REFUSE', holdDays: 0 },
      usage: new Map([[`summer|*|DAY|${occurredAt.toLocaleDateString('en-CA', { timeZone: 'America/New_York' })}`, { conversions: 1, micros: {} }]]),
    }),
    expected: { outcome: 'UNATTRIBUTED', clickIdMatched: true, humanClick: true, clickInWindow: true, alreadyAttributed: false, reason: 'OVER_CAP' },
  },
  {
    name: 'a conversion faster than the offer minimum',
    rule: 'TOO_FAST',
    input: input({ named: click('clickB', ago(10_000)), offer: { ...NO_OFFER_TERMS, minConversionSeconds: 60 } }),
    expected: { outcome: 'UNATTRIBUTED', clickIdMatched: true, humanClick: true, clickInWindow: true, alreadyAttributed: false, reason: 'TOO_FAST' },
  },
  {
    name: 'click and message on different offers',
    rule: 'OFFER_MISMATCH',
    input: input({ named: click('clickB', ago(DAY)), messageId: 'msg-other', referencedSend: send('msg-other', ago(2 * DAY), 'winter') }),
    expected: { outcome: 'UNATTRIBUTED', clickIdMatched: true, humanClick: null, clickInWindow: null, alreadyAttributed: false, reason: 'OFFER_MISMATCH' },
  },
  {
    name: 'a rejected conversion whose click is known',
    rule: 'REJECTED_STATUS',
    input: input({ named: click('clickB', ago(DAY)), status: 'REJECTED' }),
    expected: { outcome: 'UNATTRIBUTED', clickIdMatched: true, humanClick: null, clickInWindow: null, alreadyAttributed: false, reason: 'REJECTED' },
  },
  {
    name: 'a rejected conversion whose click is unknown',
    rule: 'REJECTED_STATUS',
    input: input({ status: 'REJECTED' }),
    expected: { outcome: 'UNATTRIBUTED', clickIdMatched: false, humanClick: null, clickInWindow: null, alreadyAttributed: false, reason: 'REJECTED' },
  },
  {
    name: 'the same sale under another dedupe key (issue 16: it said alreadyAttributed false)',
    rule: 'DUPLICATE',
    input: input({ named: click('clickB', ago(DAY)), duplicateOf: 'tx-0' }),
    expected: { outcome: 'UNATTRIBUTED', clickIdMatched: true, humanClick: true, clickInWindow: true, alreadyAttributed: true, reason: 'DUPLICATE', creditedTo: 'msg-clickB' },
  },
  {
    name: 'a view-through sale re-sent under another dedupe key',
    rule: 'DUPLICATE',
    input: input({ clickId: '', messageId: 'msg-v', referencedSend: send('msg-v', ago(DAY)), offer: { ...NO_OFFER_TERMS, viewThroughWindowDays: 7 }, duplicateOf: 'tx-0' }),
    conversion: { clickId: '' },
    expected: { outcome: 'UNATTRIBUTED', clickIdMatched: false, humanClick: null, clickInWindow: null, alreadyAttributed: true, reason: 'DUPLICATE', creditedTo: 'msg-v' },
  },
  {
    name: 'a click id that matched a link preview (issue 16: it said clickIdMatched false)',
    rule: 'NO_HUMAN_CLICK',
    input: input({ named: click('clickB', ago(DAY), { clickClass: 'PREVIEW' }) }),
    expected: { outcome: 'UNATTRIBUTED', clickIdMatched: true, humanClick: false, clickInWindow: true, alreadyAttributed: false, reason: 'NO_CLICK_NO_VIEW' },
  },
  {
    name: 'a click id that matched a bot',
    rule: 'NO_HUMAN_CLICK',
    input: input({ named: click('clickB', ago(DAY), { clickClass: 'BOT' }) }),
    expected: { outcome: 'UNATTRIBUTED', clickIdMatched: true, humanClick: false, clickInWindow: true, alreadyAttributed: false, reason: 'NO_CLICK_NO_VIEW' },
  },
  {
    name: 'no click id and no view',
    rule: 'NO_CLICK_NO_VIEW',
    input: input({ clickId: '' }),
    conversion: { clickId: '' },
    expected: { outcome: 'UNATTRIBUTED', clickIdMatched: false, humanClick: null, clickInWindow: null, alreadyAttributed: false, reason: 'NO_CLICK_NO_VIEW' },
  },
  {
    name: 'view-through credit',
    rule: 'VIEW_THROUGH',
    input: input({ clickId: '', messageId: 'msg-v', referencedSend: send('msg-v', ago(DAY)), offer: { ...NO_OFFER_TERMS, viewThroughWindowDays: 7 } }),
    conversion: { clickId: '' },
    expected: { outcome: 'ATTRIBUTED', clickIdMatched: false, humanClick: null, clickInWindow: null, alreadyAttributed: true, reason: null, creditedTo: 'msg-v' },
  },
  {
    name: 'view-through credit after a bot fetched the link',
    rule: 'VIEW_THROUGH',
    input: input({
      named: click('clickB', ago(DAY), { clickClass: 'BOT' }), messageId: 'msg-clickB', referencedSend: send('msg-clickB', ago(2 * DAY)),
      offer: { ...NO_OFFER_TERMS, viewThroughWindowDays: 7 },
    }),
    expected: { outcome: 'ATTRIBUTED', clickIdMatched: true, humanClick: false, clickInWindow: null, alreadyAttributed: true, reason: null, creditedTo: 'msg-clickB' },
  },
];

/** What attribution's explanation says, read as a person would: none of these may contradict the checklist. */
function readExplanation(text: string): Partial<Record<'clickIdMatched' | 'humanClick' | 'alreadyAttributed' | 'clickInWindow', boolean>> {
  const said: ReturnType<typeof readExplanation> = {};
  if (/does not match any recorded click/.test(text)) said.clickIdMatched = false;
  if (/Click \S+ matched|reported click \S+ (?:is|\(message)/.test(text)) said.clickIdMatched = true;
  if (/carried no click id/.test(text)) said.clickIdMatched = false;
  if (/not a person/.test(text)) said.humanClick = false;
  if (/already credited|^Credited/.test(text)) said.alreadyAttributed = true;
  if (/outside the offer's|after the conversion/.test(text)) said.clickInWindow = false;
  return said;
}

describe('diagnose: the checklist follows from the decision', () => {
  it('has a row for every reason code of the contract, and for each kind of credit', () => {
    const reasons = Object.values(UnattributedReason)
      .filter((v): v is UnattributedReason => typeof v === 'number' && v !== UnattributedReason.UNATTRIBUTED_REASON_UNSPECIFIED && v !== UnattributedReason.UNRECOGNIZED)
      .map((r) => unattributedReasonToJSON(r).replace('UNATTRIBUTED_REASON_', ''));
    expect(reasons.length).toBeGreaterThanOrEqual(8);
    expect(Object.keys(CHECKLIST).sort()).toEqual([...reasons, 'ATTRIBUTED', 'ATTRIBUTED_VIEW_THROUGH'].sort());
    // ...and the scenarios below reach every one of them through the real rules.
    const reached = new Set(SCENARIOS.map((s) => decide(s.input).reason ?? (decide(s.input).type === 'VIEW_THROUGH' ? 'ATTRIBUTED_VIEW_THROUGH' : 'ATTRIBUTED')));
    expect([...reached].sort()).toEqual(Object.keys(CHECKLIST).sort());
  });

  it.each(SCENARIOS)('$rule: $name', ({ rule, input: i, conversion: over, expected }) => {
    const decision = decide(i);
    expect(decision.rule).toBe(rule);
    const d = diagnose(conversion(over), asAttribution(decision, i));
    expect(d).toEqual({ creditedTo: null, ...expected, explanation: decision.explanation });
    // The answers never contradict the explanation printed next to them.
    for (const [question, answer] of Object.entries(readExplanation(decision.explanation))) {
      expect([question, d[question as keyof ConversionDiagnosis]]).toEqual([question, answer]);
    }
  });

  it("uses the traced click's class and window when ExplainConversion gave them (a rejected conversion)", () => {
    const i = input({ named: click('clickB', ago(DAY), { clickClass: 'BOT' }), status: 'REJECTED' });
    const a = asAttribution(decide(i), i);
    const traced = { clickId: 'clickB', messageId: 'msg-clickB', clickedAt: ago(DAY), clickClass: 'BOT', inWindow: true, credited: false, note: 'bot: never a first click' };
    expect(diagnose(conversion(), a, traced)).toMatchObject({ clickIdMatched: true, humanClick: false, clickInWindow: true });
  });

  it('is PENDING with unknowns while nobody has decided, or while attribution has the conversion parked', () => {
    expect(diagnose(conversion(), null)).toEqual({
      outcome: 'PENDING', clickIdMatched: null, humanClick: null, clickInWindow: null, alreadyAttributed: false, creditedTo: null, reason: null, explanation: null,
    });
    expect(diagnose(conversion({ clickId: '' }), null).clickIdMatched).toBe(false);
    expect(diagnose(conversion(), Attribution.fromPartial({})).outcome).toBe('PENDING');
    const parked = Attribution.fromPartial({ outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_PENDING, reportedClickId: 'clickB', explanation: 'parked: click not seen yet' });
    expect(diagnose(conversion(), parked)).toMatchObject({ outcome: 'PENDING', clickIdMatched: null, alreadyAttributed: false, reason: null, explanation: 'parked: click not seen yet' });
  });

  it("falls back to ingest's copy of the verdict when attribution has no record", () => {
    expect(diagnose(conversion({ attributionState: AttributionState.ATTRIBUTION_STATE_ATTRIBUTED, creditedMessageId: 'msg-a' }), null)).toEqual({
      outcome: 'ATTRIBUTED', clickIdMatched: true, humanClick: true, clickInWindow: true, alreadyAttributed: true, creditedTo: 'msg-a', reason: null, explanation: null,
    });
    const unattributed = (attributionReason: string) => diagnose(conversion({ attributionState: AttributionState.ATTRIBUTION_STATE_UNATTRIBUTED, attributionReason }), null);
    expect(unattributed('UNKNOWN_CLICK_ID')).toMatchObject({ outcome: 'UNATTRIBUTED', clickIdMatched: false, reason: 'UNKNOWN_CLICK_ID', alreadyAttributed: false });
    expect(unattributed('DUPLICATE')).toMatchObject({ clickIdMatched: true, alreadyAttributed: true });
    // Ingest's copy has no touch: whether a rejected conversion's click was known cannot be told from it.
    expect(unattributed('REJECTED')).toMatchObject({ clickIdMatched: null, alreadyAttributed: false });
    // A reason this gateway does not know: no guesses.
    expect(unattributed('SOMETHING_NEW')).toMatchObject({ outcome: 'UNATTRIBUTED', clickIdMatched: null, humanClick: null, clickInWindow: null, reason: 'SOMETHING_NEW' });
  });

  it("prefers attribution's decision over ingest's possibly stale copy", () => {
    const i = input({ named: click('clickB', ago(DAY)) });
    expect(diagnose(conversion({ attributionState: AttributionState.ATTRIBUTION_STATE_PENDING }), asAttribution(decide(i), i)).outcome).toBe('ATTRIBUTED');
  });
});
