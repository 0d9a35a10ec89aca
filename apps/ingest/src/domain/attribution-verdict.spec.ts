import { Attribution, AttributionOutcome, AttributionType, UnattributedReason } from '@trackly/contracts/attribution/v1/attribution';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { attributedVerdict, correctedVerdict, unattributedVerdict } from './attribution-verdict';

const attribution = (over: Partial<Attribution> = {}): Attribution => ({
  partnerId: 'acme',
  conversionId: 'conv-1',
  conversionRef: '0b6a3f1e-8c1d-4d55-9a57-0e3c1b2a4f60',
  ruleVersion: 'first-click/1',
  test: false, source: 0, payoutDefaulted: false, overCap: false, holdUntil: undefined,
  outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED,
  reason: UnattributedReason.UNATTRIBUTED_REASON_UNSPECIFIED,
  type: AttributionType.ATTRIBUTION_TYPE_CLICK_THROUGH,
  reportedClickId: 'clk',
  creditedClickId: 'clk',
  messageId: 'msg-a',
  contactId: 'contact-1',
  offerId: 'summer',
  campaignId: 'camp-1',
  creativeId: 'cr-1',
  payout: { currencyCode: 'USD', amountMicros: '24990000' },
  status: ConversionStatus.CONVERSION_STATUS_APPROVED,
  occurredAt: new Date('2026-11-02T10:00:00Z'),
  creditedClickedAt: new Date('2026-11-02T09:00:00Z'),
  windowDays: 30,
  decidedAt: new Date('2026-11-02T10:00:01Z'),
  explanation: 'first click within 30 days',
  ...over,
});

describe('attribution verdicts', () => {
  it('keeps the credited message of an attributed conversion', () => {
    expect(attributedVerdict(attribution())).toEqual({
      partnerId: 'acme',
      conversionId: 'conv-1',
      state: 'ATTRIBUTED',
      reason: null,
      creditedMessageId: 'msg-a',
    });
  });

  it('keeps the reason code of an unattributed conversion', () => {
    expect(
      unattributedVerdict(attribution({ outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_UNATTRIBUTED, reason: UnattributedReason.UNATTRIBUTED_REASON_OUTSIDE_WINDOW, messageId: '' })),
    ).toEqual({ partnerId: 'acme', conversionId: 'conv-1', state: 'UNATTRIBUTED', reason: 'OUTSIDE_WINDOW', creditedMessageId: null });
  });

  it('fails on a decision that does not name its conversion', () => {
    expect(() => attributedVerdict(undefined)).toThrow(/without partner_id/);
    expect(() => unattributedVerdict(attribution({ conversionId: '' }))).toThrow(/without partner_id/);
  });
});

describe('correctedVerdict', () => {
  it('follows the corrected decision', () => {
    expect(correctedVerdict(attribution({ outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_UNATTRIBUTED, reason: UnattributedReason.UNATTRIBUTED_REASON_REJECTED }))).toMatchObject({
      state: 'UNATTRIBUTED', reason: 'REJECTED', creditedMessageId: null,
    });
    expect(correctedVerdict(attribution({ messageId: 'msg-9' }))).toMatchObject({ state: 'ATTRIBUTED', creditedMessageId: 'msg-9' });
  });

  it('leaves a conversion pending again untouched', () => {
    expect(correctedVerdict(attribution({ outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_PENDING }))).toBeUndefined();
  });

  it('refuses a correction without its subject', () => {
    expect(() => correctedVerdict(undefined)).toThrow(/partner_id/);
  });
});
