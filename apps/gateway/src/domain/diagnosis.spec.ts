import {
  Attribution,
  AttributionOutcome,
  AttributionType,
  UnattributedReason,
} from '@trackly/contracts/attribution/v1/attribution';
import { AttributionState, Conversion } from '@trackly/contracts/ingest/v1/ingest';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { diagnose } from './diagnosis';

const occurredAt = new Date('2026-05-10T12:00:00Z');
const DAY = 86_400_000;

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

const attributed = Attribution.fromPartial({
  partnerId: 'tune-1',
  conversionId: 'tx-1',
  outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED,
  type: AttributionType.ATTRIBUTION_TYPE_CLICK_THROUGH,
  reportedClickId: 'clickB',
  creditedClickId: 'clickA',
  messageId: 'msg-a',
  occurredAt,
  creditedClickedAt: new Date(occurredAt.getTime() - 4 * DAY),
  windowDays: 30,
  explanation: 'Credited to message msg-a: first click wins',
});

const unattributed = (reason: UnattributedReason, over: Partial<Attribution> = {}) =>
  Attribution.fromPartial({
    partnerId: 'tune-1',
    conversionId: 'tx-1',
    outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_UNATTRIBUTED,
    reason,
    reportedClickId: 'clickB',
    occurredAt,
    windowDays: 7,
    explanation: `because ${reason}`,
    ...over,
  });

describe('diagnose', () => {
  it('answers every question for an attributed conversion, naming the credited message', () => {
    expect(diagnose(conversion(), attributed)).toEqual({
      outcome: 'ATTRIBUTED',
      clickIdMatched: true,
      clickInWindow: true,
      alreadyAttributed: true,
      creditedTo: 'msg-a',
      reason: null,
      explanation: 'Credited to message msg-a: first click wins',
    });
  });

  it('says the click id did not match for UNKNOWN_CLICK_ID, and leaves the window open', () => {
    expect(diagnose(conversion(), unattributed(UnattributedReason.UNATTRIBUTED_REASON_UNKNOWN_CLICK_ID))).toEqual({
      outcome: 'UNATTRIBUTED',
      clickIdMatched: false,
      clickInWindow: null,
      alreadyAttributed: false,
      creditedTo: null,
      reason: 'UNKNOWN_CLICK_ID',
      explanation: 'because 1',
    });
  });

  it('says the click matched but was outside the window for OUTSIDE_WINDOW, even without the click time', () => {
    expect(diagnose(conversion(), unattributed(UnattributedReason.UNATTRIBUTED_REASON_OUTSIDE_WINDOW))).toMatchObject({
      clickIdMatched: true,
      clickInWindow: false,
      alreadyAttributed: false,
      reason: 'OUTSIDE_WINDOW',
    });
  });

  it('treats a click after the conversion as matched but not in the window', () => {
    expect(diagnose(conversion(), unattributed(UnattributedReason.UNATTRIBUTED_REASON_CLICK_AFTER_CONVERSION))).toMatchObject({
      clickIdMatched: true,
      clickInWindow: false,
      reason: 'CLICK_AFTER_CONVERSION',
    });
  });

  it('computes the window from the click time when the reason is about something else', () => {
    const rejected = (clickAgeDays: number) =>
      unattributed(UnattributedReason.UNATTRIBUTED_REASON_REJECTED, {
        creditedClickId: 'clickB',
        creditedClickedAt: new Date(occurredAt.getTime() - clickAgeDays * DAY),
      });
    expect(diagnose(conversion(), rejected(2))).toMatchObject({ clickIdMatched: true, clickInWindow: true, reason: 'REJECTED' });
    expect(diagnose(conversion(), rejected(8))).toMatchObject({ clickIdMatched: true, clickInWindow: false });
    expect(diagnose(conversion(), unattributed(UnattributedReason.UNATTRIBUTED_REASON_REJECTED))).toMatchObject({
      clickIdMatched: null,
      clickInWindow: null,
    });
  });

  it('says no click id matched when the postback carried none', () => {
    expect(diagnose(conversion({ clickId: '' }), unattributed(UnattributedReason.UNATTRIBUTED_REASON_NO_CLICK_NO_VIEW))).toMatchObject({
      clickIdMatched: false,
      reason: 'NO_CLICK_NO_VIEW',
    });
  });

  it('is PENDING with unknowns while nobody has decided', () => {
    expect(diagnose(conversion(), null)).toEqual({
      outcome: 'PENDING',
      clickIdMatched: null,
      clickInWindow: null,
      alreadyAttributed: false,
      creditedTo: null,
      reason: null,
      explanation: null,
    });
    expect(diagnose(conversion({ clickId: '' }), null).clickIdMatched).toBe(false);
    expect(diagnose(conversion(), Attribution.fromPartial({})).outcome).toBe('PENDING');
  });

  it("falls back to ingest's copy of the verdict when attribution has no record", () => {
    expect(
      diagnose(conversion({ attributionState: AttributionState.ATTRIBUTION_STATE_ATTRIBUTED, creditedMessageId: 'msg-a' }), null),
    ).toEqual({
      outcome: 'ATTRIBUTED',
      clickIdMatched: true,
      clickInWindow: true,
      alreadyAttributed: true,
      creditedTo: 'msg-a',
      reason: null,
      explanation: null,
    });
    expect(
      diagnose(conversion({ attributionState: AttributionState.ATTRIBUTION_STATE_UNATTRIBUTED, attributionReason: 'UNKNOWN_CLICK_ID' }), null),
    ).toMatchObject({ outcome: 'UNATTRIBUTED', clickIdMatched: false, reason: 'UNKNOWN_CLICK_ID', alreadyAttributed: false });
    expect(
      diagnose(conversion({ attributionState: AttributionState.ATTRIBUTION_STATE_UNATTRIBUTED, attributionReason: 'SOMETHING_NEW' }), null),
    ).toMatchObject({ outcome: 'UNATTRIBUTED', clickIdMatched: null, reason: 'SOMETHING_NEW' });
  });

  it("prefers attribution's decision over ingest's possibly stale copy", () => {
    const staleIngest = conversion({ attributionState: AttributionState.ATTRIBUTION_STATE_PENDING });
    expect(diagnose(staleIngest, attributed).outcome).toBe('ATTRIBUTED');
  });
});

describe('diagnose a parked conversion', () => {
  it('reports PENDING, not UNATTRIBUTED, while attribution waits for the click', () => {
    const parked = diagnose(
      conversion(),
      Attribution.fromPartial({ ...attributed, outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_PENDING, creditedClickId: '', messageId: '', explanation: 'parked: click not seen yet' }),
    );
    expect(parked).toMatchObject({ outcome: 'PENDING', clickIdMatched: null, alreadyAttributed: false, reason: null, explanation: 'parked: click not seen yet' });
  });
});
