import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { UnattributedReason } from '@trackly/contracts/attribution/v1/attribution';
import { AttributionState } from '@trackly/contracts/ingest/v1/ingest';
import type { SubmitConversionRequest } from '@trackly/contracts/ingest/v1/ingest_service';
import { ManualClock, MS_PER_DAY } from '@trackly/kernel';
import {
  attributionStateFromName,
  attributionStateName,
  ConversionDraft,
  externalIdProblem,
  hiddenCharacterProblem,
  isIsoCurrency,
  partnerIdProblem,
  statusFromName,
  statusFromWord,
  statusName,
  unattributedReasonName,
  validateSubmission,
} from './conversion.rules';

const clock = new ManualClock(new Date('2026-11-02T10:00:00Z'));
const request = (over: Partial<SubmitConversionRequest> = {}): SubmitConversionRequest => ({
  partnerId: 'acme-network',
  conversionId: 'conv-1',
  clickId: 'clk-1',
  payout: { currencyCode: 'USD', amountMicros: '24990000' },
  status: ConversionStatus.CONVERSION_STATUS_PENDING,
  occurredAt: new Date('2026-11-01T08:00:00Z'),
  messageId: '',
  ...over,
});

function valid(req: SubmitConversionRequest): ConversionDraft {
  const r = validateSubmission(req, clock.now());
  if (!r.ok) throw new Error(`expected success, got ${JSON.stringify(r.fields)}`);
  return r.value;
}

function problems(req: SubmitConversionRequest): Record<string, string> {
  const r = validateSubmission(req, clock.now());
  if (r.ok) throw new Error('expected field problems');
  return r.fields;
}

describe('validateSubmission (gRPC SubmitConversion)', () => {
  it('accepts a complete submission as is', () => {
    expect(valid(request({ messageId: 'msg-1' }))).toEqual({
      partnerId: 'acme-network',
      conversionId: 'conv-1',
      clickId: 'clk-1',
      messageId: 'msg-1',
      payout: { currency: 'USD', micros: 24_990_000n },
      status: ConversionStatus.CONVERSION_STATUS_PENDING,
      occurredAt: new Date('2026-11-01T08:00:00Z'),
      raw: {},
    });
  });

  it('reads UNSPECIFIED status as approved, unset occurred_at as now, empty click id as none', () => {
    clock.set('2026-11-02T11:00:00Z');
    expect(valid(request({ status: ConversionStatus.CONVERSION_STATUS_UNSPECIFIED, occurredAt: undefined, clickId: '' }))).toMatchObject({
      status: ConversionStatus.CONVERSION_STATUS_APPROVED,
      occurredAt: new Date('2026-11-02T11:00:00Z'),
      clickId: null,
    });
  });

  it('normalises the currency code and accepts a zero payout', () => {
    expect(valid(request({ payout: { currencyCode: ' eur ', amountMicros: '0' } })).payout).toEqual({ currency: 'EUR', micros: 0n });
  });

  it('requires a payout', () => {
    expect(problems(request({ payout: undefined }))).toEqual({ payout: 'is required' });
  });

  it.each([
    ['-1', 'must not be negative'],
    ['1.5', expect.stringContaining('integer')],
    ['', expect.stringContaining('integer')],
    ['1e6', expect.stringContaining('integer')],
    ['1000000000000000001', 'is too large to be an amount'],
  ])('refuses amount_micros %p', (amountMicros, why) => {
    expect(problems(request({ payout: { currencyCode: 'USD', amountMicros } }))).toEqual({ 'payout.amount_micros': why });
  });

  it('refuses a bad currency code', () => {
    expect(Object.keys(problems(request({ payout: { currencyCode: 'dollars', amountMicros: '1' } })))).toEqual(['payout.currency_code']);
  });

  it.each([ConversionStatus.UNRECOGNIZED, 9 as ConversionStatus])('refuses status %p', (status) => {
    expect(Object.keys(problems(request({ status })))).toEqual(['status']);
  });

  it('refuses a conversion dated more than a day ahead', () => {
    const ahead = new Date(clock.now().getTime() + MS_PER_DAY + 1);
    expect(problems(request({ occurredAt: ahead }))).toEqual({ occurred_at: 'must not be more than 1 day in the future' });
    expect(problems(request({ occurredAt: new Date(NaN) }))).toEqual({ occurred_at: 'is not a valid time' });
  });

  it('validates partner, conversion and click ids, reporting all at once', () => {
    expect(problems(request({ partnerId: 'bad partner', conversionId: '', clickId: 'x\ny' }))).toEqual({
      partner_id: expect.stringContaining('letters, digits'),
      conversion_id: 'is required',
      click_id: 'must not contain control characters',
    });
  });
});

describe('partnerIdProblem', () => {
  it.each(['acme', 'Acme_Network-2', 'a', 'x'.repeat(64), '0day'])('accepts %p', (id) => {
    expect(partnerIdProblem(id)).toBeUndefined();
  });
  it.each(['', '-acme', '_acme', 'acme.net', 'acme/x', '..', 'x'.repeat(65), 'acmé', 'a b'])('refuses %p', (id) => {
    expect(partnerIdProblem(id)).toEqual(expect.any(String));
  });
});

describe('externalIdProblem', () => {
  it.each(['ORD-2026/001', '#1001', 'a b', 'ключ', '102bf7b4-5b4e'])('accepts %p', (id) => {
    expect(externalIdProblem(id)).toBeUndefined();
  });
  it.each([' lead', 'trail ', 'tab\there', 'del\u007f', '{transaction_id}', 'x'.repeat(257)])('refuses %p', (id) => {
    expect(externalIdProblem(id)).toEqual(expect.any(String));
  });
});

describe('hiddenCharacterProblem, isIsoCurrency, statusFromWord', () => {
  it.each(['ORD-1', 'ключ', '注文-7', 'a b', 'émoji 😀'])('lets %p through', (v) => {
    expect(hiddenCharacterProblem(v)).toBeUndefined();
  });
  it.each([
    ['a\r\nb', 'must not contain control characters'],
    ['\u0085', 'must not contain control characters'],
    ['a\u200bb', 'must not contain invisible, private-use or replacement characters (U+200B)'],
    ['\u202eabc', 'must not contain invisible, private-use or replacement characters (U+202E)'],
    ['\ufeffabc', 'must not contain invisible, private-use or replacement characters (U+FEFF)'],
    ['a\ud800', 'must not contain invisible, private-use or replacement characters (U+D800)'],
    ['\ue000', 'must not contain invisible, private-use or replacement characters (U+E000)'],
    ['\ufffd', 'must not contain invisible, private-use or replacement characters (U+FFFD)'],
    ['a\u2028b', 'must not contain invisible, private-use or replacement characters (U+2028)'],
  ])('refuses %p', (v, problem) => {
    expect(hiddenCharacterProblem(v)).toBe(problem);
    expect(externalIdProblem(v)).toBe(problem);
  });
  it('knows currencies in use, not test, fund or metal codes', () => {
    for (const c of ['USD', 'EUR', 'JPY', 'XOF', 'BRL']) expect(isIsoCurrency(c)).toBe(true);
    for (const c of ['XXX', 'XTS', 'XAU', 'ABC', 'usd', 'US']) expect(isIsoCurrency(c)).toBe(false);
  });
  it('reads status words in ASCII only', () => {
    expect(statusFromWord(' Chargeback ')).toBe(ConversionStatus.CONVERSION_STATUS_REVERSED);
    expect(statusFromWord('chargebac\u212a')).toBeUndefined();
    expect(statusFromWord('PEND\u0130NG')).toBeUndefined();
  });
});

describe('stored names', () => {
  it('round-trips statuses and attribution states', () => {
    for (const s of [1, 2, 3, 4] as ConversionDraft['status'][]) expect(statusFromName(statusName(s))).toBe(s);
    expect(statusName(ConversionStatus.CONVERSION_STATUS_REVERSED)).toBe('REVERSED');
    expect(() => statusFromName('MAYBE')).toThrow(/unknown stored status/);
    expect(attributionStateName(AttributionState.ATTRIBUTION_STATE_UNATTRIBUTED)).toBe('UNATTRIBUTED');
    expect(attributionStateName(AttributionState.ATTRIBUTION_STATE_UNSPECIFIED)).toBeUndefined();
    expect(attributionStateFromName('ATTRIBUTED')).toBe(AttributionState.ATTRIBUTION_STATE_ATTRIBUTED);
  });

  it('names unattributed reasons without their enum prefix', () => {
    expect(unattributedReasonName(UnattributedReason.UNATTRIBUTED_REASON_UNKNOWN_CLICK_ID)).toBe('UNKNOWN_CLICK_ID');
    expect(unattributedReasonName(UnattributedReason.UNATTRIBUTED_REASON_NO_CLICK_NO_VIEW)).toBe('NO_CLICK_NO_VIEW');
  });
});
