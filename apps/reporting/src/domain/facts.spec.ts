import { DomainError } from '@trackly/kernel';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { Attribution, AttributionOutcome, AttributionType, UnattributedReason } from '@trackly/contracts/attribution/v1/attribution';
import {
  attributedFact,
  BUCKET_MS,
  clickFact,
  creativeName,
  creditStatus,
  messageFact,
  offerName,
  rollupBucket,
  unattributedFact,
} from './facts';

function attribution(over: Partial<Attribution> = {}): Attribution {
  return {
    partnerId: 'p1',
    conversionId: 'conv-1',
    conversionRef: 'ref',
    ruleVersion: 'first-click/1',
    outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED,
    reason: UnattributedReason.UNATTRIBUTED_REASON_UNSPECIFIED,
    type: AttributionType.ATTRIBUTION_TYPE_CLICK_THROUGH,
    reportedClickId: 'click-9',
    creditedClickId: 'click-1',
    messageId: 'msg-1',
    contactId: 'contact-1',
    offerId: 'offer-1',
    campaignId: 'camp-1',
    creativeId: 'cr-1',
    payout: { currencyCode: 'usd', amountMicros: '24990000' },
    status: ConversionStatus.CONVERSION_STATUS_APPROVED,
    occurredAt: new Date('2026-03-10T12:00:00Z'),
    creditedClickedAt: new Date('2026-03-10T11:00:00Z'),
    windowDays: 30,
    decidedAt: new Date('2026-03-10T12:00:01Z'),
    explanation: '',
    ...over,
  };
}

describe('rollupBucket', () => {
  it('floors to the 15-minute UTC bucket', () => {
    expect(rollupBucket(new Date('2026-03-10T10:14:59.999Z'))).toEqual(new Date('2026-03-10T10:00:00Z'));
    expect(rollupBucket(new Date('2026-03-10T10:15:00Z'))).toEqual(new Date('2026-03-10T10:15:00Z'));
    expect(rollupBucket(new Date('2026-03-10T23:59:59Z'))).toEqual(new Date('2026-03-10T23:45:00Z'));
    expect(rollupBucket(new Date('1969-12-31T23:50:00Z'))).toEqual(new Date('1969-12-31T23:45:00Z'));
  });

  it('puts a half-hour and a 45-minute zone midnight on a bucket boundary', () => {
    // 00:00 in Asia/Kolkata (+05:30) and Asia/Kathmandu (+05:45).
    for (const midnight of ['2026-03-10T18:30:00Z', '2026-03-10T18:15:00Z']) {
      const at = new Date(midnight);
      expect(rollupBucket(at)).toEqual(at);
      expect(rollupBucket(new Date(at.getTime() - 1)).getTime()).toBe(at.getTime() - BUCKET_MS);
    }
  });
});

describe('catalog names', () => {
  it('keeps id, name and time; a missing time loses to any dated version', () => {
    const at = new Date('2026-03-01T00:00:00Z');
    expect(creativeName({ creative: { creativeId: 'cr-1', name: 'Summer', updatedAt: at } })).toEqual({ kind: 'creative', id: 'cr-1', name: 'Summer', updatedAt: at });
    expect(creativeName({ creative: { creativeId: 'cr-1', name: 'Summer', updatedAt: undefined } }).updatedAt).toEqual(new Date(0));
  });

  it('rejects an event without its entity', () => {
    expect(() => offerName({ offer: undefined })).toThrow(/offer is missing/);
  });
});

describe('messageFact and clickFact', () => {
  it('copies the dimensions', () => {
    const sentAt = new Date('2026-03-10T12:00:00Z');
    expect(messageFact({ messageId: 'm', contactId: 'c', phoneMasked: '+1***1234', campaignId: 'ca', creativeId: 'cr', offerId: 'o', sentAt })).toEqual({
      messageId: 'm', contactId: 'c', phoneMasked: '+1***1234', campaignId: 'ca', creativeId: 'cr', offerId: 'o', sentAt,
    });
  });

  it('refuses events that cannot be placed in time', () => {
    expect(() => messageFact({ messageId: 'm', contactId: 'c', phoneMasked: '', campaignId: '', creativeId: '', offerId: '', sentAt: undefined })).toThrow(/sent_at/);
    expect(() => clickFact({ click: undefined })).toThrow(/click is missing/);
    expect(() =>
      clickFact({
        click: {
          clickId: 'k', messageId: 'm', contactId: 'c', offerId: 'o', campaignId: 'ca', creativeId: 'cr',
          clickedAt: new Date('invalid'), firstClickOnMessage: true, userAgent: '', messageSentAt: undefined,
          clickClass: 0, classificationReason: '', classifierVersion: '',
        },
      }),
    ).toThrow(/clicked_at/);
  });
});

describe('attributedFact', () => {
  it('credits with normalised currency, exact micros and the type name', () => {
    const r = attributedFact({ attribution: attribution() });
    expect(r).toEqual({
      kind: 'credited',
      fact: {
        partnerId: 'p1', conversionId: 'conv-1', messageId: 'msg-1', clickId: 'click-1', contactId: 'contact-1',
        offerId: 'offer-1', campaignId: 'camp-1', creativeId: 'cr-1',
        payout: { currency: 'USD', micros: 24_990_000n }, status: 'approved',
        occurredAt: new Date('2026-03-10T12:00:00Z'), type: 'CLICK_THROUGH',
      },
    });
  });

  it('keeps int64 payouts beyond double precision exact', () => {
    const r = attributedFact({ attribution: attribution({ payout: { currencyCode: 'EUR', amountMicros: '9007199254740993' } }) });
    expect(r.kind === 'credited' && r.fact.payout.micros).toBe(9_007_199_254_740_993n);
  });

  it('files a rejected conversion as unattributed, never as revenue', () => {
    const r = attributedFact({ attribution: attribution({ status: ConversionStatus.CONVERSION_STATUS_REJECTED }) });
    expect(r.kind).toBe('unattributed');
    expect(r.fact).toMatchObject({ reason: 'REJECTED', status: 'rejected', reportedClickId: 'click-9' });
  });

  it('refuses a payout that is missing or not an integer', () => {
    expect(() => attributedFact({ attribution: attribution({ payout: undefined }) })).toThrow(/payout/);
    expect(() => attributedFact({ attribution: attribution({ payout: { currencyCode: 'USD', amountMicros: '1.5' } }) })).toThrow(DomainError);
    expect(() => attributedFact({ attribution: attribution({ payout: { currencyCode: 'US', amountMicros: '1' } }) })).toThrow(/currency_code/);
  });
});

describe('creditStatus', () => {
  it.each([
    [ConversionStatus.CONVERSION_STATUS_APPROVED, 'approved'],
    [ConversionStatus.CONVERSION_STATUS_UNSPECIFIED, 'approved'],
    [ConversionStatus.CONVERSION_STATUS_PENDING, 'pending'],
    [ConversionStatus.CONVERSION_STATUS_REVERSED, 'reversed'],
  ])('maps %p to %p', (status, name) => {
    expect(creditStatus(status)).toBe(name);
  });

  it.each([ConversionStatus.CONVERSION_STATUS_REJECTED, ConversionStatus.UNRECOGNIZED, 42])('refuses %p', (status) => {
    expect(() => creditStatus(status)).toThrow(DomainError);
  });
});

describe('unattributedFact', () => {
  it('keeps the reason, reported click, payout and status for reconciliation', () => {
    const f = unattributedFact({
      attribution: attribution({
        outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_UNATTRIBUTED,
        reason: UnattributedReason.UNATTRIBUTED_REASON_UNKNOWN_CLICK_ID,
        status: ConversionStatus.CONVERSION_STATUS_PENDING,
        payout: { currencyCode: 'EUR', amountMicros: '7000000' },
      }),
    });
    expect(f).toEqual({
      partnerId: 'p1', conversionId: 'conv-1', reason: 'UNKNOWN_CLICK_ID', reportedClickId: 'click-9',
      payout: { currency: 'EUR', micros: 7_000_000n }, status: 'pending', occurredAt: new Date('2026-03-10T12:00:00Z'),
    });
  });
});
