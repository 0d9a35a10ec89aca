import { DomainError } from '@trackly/kernel';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { Attribution, AttributionOutcome, AttributionType, UnattributedReason } from '@trackly/contracts/attribution/v1/attribution';
import { Conversion } from '@trackly/contracts/ingest/v1/ingest';
import {
  adjustedFact,
  attributedFact,
  BUCKET_MS,
  clickFact,
  correctionFact,
  creativeName,
  creditStatus,
  messageFact,
  offerName,
  receivedFact,
  receivedFacts,
  revenueDelta,
  rollupBucket,
  rollupBuckets,
  unattributedFact,
} from './facts';

function attribution(over: Partial<Attribution> = {}): Attribution {
  return {
    partnerId: 'p1',
    conversionId: 'conv-1',
    conversionRef: 'ref',
    ruleVersion: 'first-click/1',
    test: false, source: 0, payoutDefaulted: false, overCap: false, holdUntil: undefined,
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
        occurredAt: new Date('2026-03-10T12:00:00Z'), type: 'CLICK_THROUGH', test: false, source: '', overCap: false, holdUntil: undefined,
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
      payout: { currency: 'EUR', micros: 7_000_000n }, status: 'pending', occurredAt: new Date('2026-03-10T12:00:00Z'), test: false, source: '',
    });
  });
});

describe('corrections, click classes and received conversions', () => {
  const base = Attribution.fromPartial({
    partnerId: 'p1', conversionId: 'X1', outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED, messageId: 'm1',
    campaignId: 'camp', creativeId: 'cr', offerId: 'off', payout: { currencyCode: 'usd', amountMicros: '12500000' },
    status: ConversionStatus.CONVERSION_STATUS_APPROVED, occurredAt: new Date('2026-05-05T12:00:00Z'),
  });

  it('reads a correction as the decision that now stands', () => {
    const c = correctionFact({ previous: base, current: { ...base, status: ConversionStatus.CONVERSION_STATUS_REVERSED }, cause: 'adjustment', correctionId: 'c1' });
    expect(c).toMatchObject({ correctionId: 'c1', cause: 'adjustment', partnerId: 'p1', conversionId: 'X1', next: { kind: 'credited', fact: { status: 'reversed' } } });
    const rejected = correctionFact({ previous: base, current: { ...base, status: ConversionStatus.CONVERSION_STATUS_REJECTED }, cause: 'adjustment', correctionId: 'c2' });
    expect(rejected.next).toMatchObject({ kind: 'unattributed', fact: { reason: 'REJECTED' } });
    const unattributed = correctionFact({
      previous: base, cause: 'reattribution', correctionId: 'c3',
      current: { ...base, outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_UNATTRIBUTED, reason: UnattributedReason.UNATTRIBUTED_REASON_OUTSIDE_WINDOW },
    });
    expect(unattributed.next).toMatchObject({ kind: 'unattributed', fact: { reason: 'OUTSIDE_WINDOW' } });
  });

  it('refuses a correction without id, without current, or naming two conversions', () => {
    expect(() => correctionFact({ previous: base, current: base, cause: '', correctionId: '' })).toThrow(/correction_id/);
    expect(() => correctionFact({ previous: base, current: undefined, cause: '', correctionId: 'c' })).toThrow(/current/);
    expect(() => correctionFact({ previous: { ...base, conversionId: 'X2' }, current: base, cause: '', correctionId: 'c' })).toThrow(/another conversion/);
  });

  it('undoes exactly what it adds: a delta and its negation sum to zero for every status', () => {
    for (const status of ['approved', 'pending', 'reversed'] as const) {
      const f = { status, payout: { currency: 'USD', micros: 12_345_678n } };
      const plus = revenueDelta(f, 1);
      const minus = revenueDelta(f, -1);
      for (const k of Object.keys(plus) as (keyof typeof plus)[]) expect(plus[k] + minus[k]).toBe(0n);
    }
    expect(revenueDelta({ status: 'reversed', payout: { currency: 'USD', micros: 5n } }, 1)).toEqual({
      conversions: 0n, reversedConversions: 1n, approvedMicros: 0n, pendingMicros: 0n, reversedMicros: 5n,
    });
  });

  it('keeps every grain of a rollup bucket', () => {
    expect(rollupBuckets(new Date('2026-05-05T10:37:12Z')).buckets.map((d) => d.toISOString())).toEqual([
      '2026-05-05T10:30:00.000Z', '2026-05-05T10:00:00.000Z', '2026-05-05T00:00:00.000Z', '2026-04-30T00:00:00.000Z',
    ]);
  });

  it('reads a received conversion and an adjustment', () => {
    const conversion = Conversion.fromPartial({
      partnerId: 'p1', conversionId: 'X1', payout: { currencyCode: 'USD', amountMicros: '2000000' }, status: ConversionStatus.CONVERSION_STATUS_PENDING,
      occurredAt: new Date('2026-05-05T16:00:00Z'),
    });
    expect(receivedFact({ conversion })).toEqual({
      partnerId: 'p1', conversionId: 'X1', payout: { currency: 'USD', micros: 2_000_000n }, status: 'pending',
      occurredAt: new Date('2026-05-05T16:00:00Z'), receivedAt: new Date('2026-05-05T16:00:00Z'), test: false, source: 'INGEST',
    });
    expect(() => adjustedFact({ conversion, previousStatus: 0, previousPayout: undefined, adjustmentId: '', cause: '' })).toThrow(/adjustment_id/);
  });

  it('reads each conversion of a run as its ConversionReceived, in order, and refuses an empty run or a bad member', () => {
    const conversion = (conversionId: string, status: ConversionStatus, test?: boolean) =>
      Conversion.fromPartial({
        partnerId: 'p1', conversionId, payout: { currencyCode: 'eur', amountMicros: '1500000' }, status, occurredAt: new Date('2026-05-05T16:00:00Z'),
        receivedAt: new Date('2026-05-05T16:00:03Z'), test,
      });
    const run = [conversion('X2', ConversionStatus.CONVERSION_STATUS_APPROVED, true), conversion('X1', ConversionStatus.CONVERSION_STATUS_REVERSED)];
    expect(receivedFacts({ conversions: run })).toEqual(run.map((c) => receivedFact({ conversion: c })));
    expect(receivedFacts({ conversions: run }).map((f) => [f.conversionId, f.status, f.test, f.payout.currency, f.receivedAt])).toEqual([
      ['X2', 'approved', true, 'EUR', new Date('2026-05-05T16:00:03Z')],
      ['X1', 'reversed', false, 'EUR', new Date('2026-05-05T16:00:03Z')],
    ]);
    expect(() => receivedFacts({ conversions: [] })).toThrow(DomainError);
    expect(() => receivedFacts({ conversions: [] })).toThrow(/conversions is empty/);
    expect(() => receivedFacts({ conversions: [run[0], { ...run[1], conversionId: '' }] })).toThrow(/conversion_id/);
  });
});
