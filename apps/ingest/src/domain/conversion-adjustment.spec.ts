import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { ConversionState, parseReversal, repeatVerdict } from './conversion-adjustment';

const A = ConversionStatus.CONVERSION_STATUS_APPROVED;
const P = ConversionStatus.CONVERSION_STATUS_PENDING;
const R = ConversionStatus.CONVERSION_STATUS_REJECTED;
const V = ConversionStatus.CONVERSION_STATUS_REVERSED;
const usd = (micros: bigint) => ({ currency: 'USD', micros });

describe('repeatVerdict', () => {
  it('same status and payout: duplicate', () => {
    expect(repeatVerdict({ status: A, payout: usd(1n) }, { status: A, payout: usd(1n) }, V)).toEqual({ kind: 'duplicate', reason: expect.stringContaining('already stored') });
  });

  it.each<[string, ConversionState, ConversionState]>([
    ['pending -> approved', { status: P, payout: usd(1n) }, { status: A, payout: usd(1n) }],
    ['approved -> rejected', { status: A, payout: usd(1n) }, { status: R, payout: usd(1n) }],
    ['payout corrected', { status: A, payout: usd(1n) }, { status: A, payout: usd(2n) }],
    ['currency corrected', { status: A, payout: usd(1n) }, { status: A, payout: { currency: 'EUR', micros: 1n } }],
    ['approved -> reversed', { status: A, payout: usd(1n) }, { status: V, payout: usd(1n) }],
  ])('%s: adjusted', (_name, stored, incoming) => {
    expect(repeatVerdict(stored, incoming, V)).toEqual({ kind: 'adjusted' });
  });

  it('a reversed conversion is final for postbacks', () => {
    expect(repeatVerdict({ status: V, payout: usd(1n) }, { status: A, payout: usd(1n) }, V)).toEqual({ kind: 'duplicate', reason: expect.stringContaining('reversed') });
    expect(repeatVerdict({ status: V, payout: usd(1n) }, { status: A, payout: usd(9n) }, V).kind).toBe('duplicate');
  });
});

describe('parseReversal', () => {
  it('takes conversion_id first', () => {
    expect(parseReversal({ conversion_id: ' c-1 ', transaction_id: 't' })).toEqual({ ok: true, value: { conversionId: 'c-1' } });
  });

  it('takes transaction_id with event_id or goal_id; 0 is the base conversion', () => {
    expect(parseReversal({ transaction_id: 't', event_id: '12' })).toEqual({ ok: true, value: { transactionId: 't', eventId: '12' } });
    expect(parseReversal({ transaction_id: 't', event_id: '0' })).toEqual({ ok: true, value: { transactionId: 't', eventId: null } });
    expect(parseReversal({ transaction_id: 't', goal_id: '3' })).toEqual({ ok: true, value: { transactionId: 't', eventId: '3' } });
  });

  it('refuses a bare transaction id, nothing at all, repeats and macros', () => {
    expect(parseReversal({ transaction_id: 't' })).toEqual({ ok: false, fields: { event_id: expect.stringContaining('every event') } });
    expect(parseReversal({ transaction_id: 't', event_id: '' })).toEqual({ ok: false, fields: { event_id: expect.any(String) } });
    expect(parseReversal({})).toEqual({ ok: false, fields: { conversion_id: expect.stringContaining('is required') } });
    expect(parseReversal({ conversion_id: ['a', 'b'] })).toEqual({ ok: false, fields: { conversion_id: 'must be given once, got 2 values' } });
    expect(parseReversal({ conversion_id: '{conversion_id}' })).toEqual({ ok: false, fields: { conversion_id: expect.stringContaining('macro') } });
  });
});
