import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { ManualClock } from '@trackly/kernel';
import type { RawParams } from './conversion.rules';
import { effectiveClickIdParam, PartnerKindName } from './partner.rules';
import { parseUrlEncoded } from './postback-params';
import { parsePostback, ParsedPostback } from './postback.parser';

const clock = new ManualClock(new Date('2026-11-02T10:00:00Z'));

function parse(kind: PartnerKindName, query: string | RawParams, clickIdParam: string | null = null, timeZone: string | null = null) {
  const params = typeof query === 'string' ? parseUrlEncoded(query.slice(query.indexOf('?') + 1)) : query;
  return parsePostback(params, { receivedAt: clock.now(), defaultCurrency: 'EUR', kind, clickIdParam: effectiveClickIdParam({ kind, clickIdParam }), timeZone });
}

function ok(kind: PartnerKindName, query: string | RawParams, clickIdParam: string | null = null): ParsedPostback {
  const r = parse(kind, query, clickIdParam);
  if (!r.ok) throw new Error(`expected success, got ${JSON.stringify(r.fields)}`);
  return r.value;
}

function problems(kind: PartnerKindName, query: string | RawParams, clickIdParam: string | null = null): Record<string, string> {
  const r = parse(kind, query, clickIdParam);
  if (r.ok) throw new Error('expected field problems');
  return r.fields;
}

describe('TUNE (HasOffers) postbacks', () => {
  // Our template with TUNE's macros filled in, plus extra macros a network often appends.
  const tune =
    'https://in.trackly.example/postbacks/tune-net?token=k3y&click_id=102a8f3e6b5c4d&transaction_id=102a8f3e6b5c4d7e9f10' +
    '&payout=12.50&currency=USD&offer_id=1001&goal_id=0&datetime=2026-11-01+09%3A15%3A42&aff_sub2=blast-7&source=sms&sale_amount=49.99&ran=82731';

  it('reads the template: transaction id as the key (goal 0 is the base), payout, UTC datetime, sale amount, sub-ids', () => {
    expect(ok('TUNE', tune)).toEqual({
      conversionId: '102a8f3e6b5c4d7e9f10',
      clickId: '102a8f3e6b5c4d',
      payout: { currency: 'USD', micros: 12_500_000n },
      payoutAbsent: false,
      messageId: null,
      test: false,
      status: ConversionStatus.CONVERSION_STATUS_APPROVED,
      occurredAt: new Date('2026-11-01T09:15:42Z'),
      transactionId: '102a8f3e6b5c4d7e9f10',
      eventId: null,
      saleAmountMicros: 49_990_000n,
      subIds: { aff_sub2: 'blast-7', source: 'sms' },
      raw: expect.objectContaining({ offer_id: '1001', goal_id: '0', aff_sub2: 'blast-7' }),
    });
    expect(ok('TUNE', tune).raw).not.toHaveProperty('token');
    expect(ok('TUNE', tune).raw).not.toHaveProperty('ran');
  });

  it('makes each goal of one transaction its own conversion', () => {
    expect(ok('TUNE', tune.replace('goal_id=0', 'goal_id=7'))).toMatchObject({ conversionId: '102a8f3e6b5c4d7e9f10:7', eventId: '7' });
    expect(ok('TUNE', tune.replace('&goal_id=0', '')).conversionId).toBe('102a8f3e6b5c4d7e9f10');
  });

  it('uses conversion_unique_id as the only key when the network sends it', () => {
    expect(ok('TUNE', `${tune}&conversion_unique_id=u-778`).conversionId).toBe('u-778');
  });

  it('requires a transaction id (or unique id); never falls back to the generic aliases', () => {
    expect(problems('TUNE', { click_id: 'c', payout: '1', order_id: 'o-1' })).toEqual({ transaction_id: 'is required (or conversion_unique_id)' });
  });

  it('reads the click id from the partner parameter when the URL uses TUNE names directly', () => {
    expect(ok('TUNE', { aff_click_id: 'clk-1', transaction_id: 't', payout: '1' }).clickId).toBe('clk-1');
    expect(ok('TUNE', { aff_sub3: 'clk-3', aff_click_id: 'other', transaction_id: 't', payout: '1' }, 'aff_sub3').clickId).toBe('clk-3');
    // Our template's click_id (filled from the chosen macro) wins over a raw copy.
    expect(ok('TUNE', { click_id: 'from-template', aff_sub3: 'raw', transaction_id: 't', payout: '1' }, 'aff_sub3').clickId).toBe('from-template');
    // aff_sub is not a click id for a partner that put ours in aff_click_id.
    expect(ok('TUNE', { aff_sub: 'not-ours', transaction_id: 't', payout: '1' }).clickId).toBeNull();
  });

  it.each([
    ['approved', ConversionStatus.CONVERSION_STATUS_APPROVED],
    ['pending', ConversionStatus.CONVERSION_STATUS_PENDING],
    ['rejected', ConversionStatus.CONVERSION_STATUS_REJECTED],
  ])('maps status %s', (word, status) => {
    expect(ok('TUNE', `${tune}&status=${word}`).status).toBe(status);
  });

  it.each([
    // partner zone, {datetime} 2026-11-01 09:15:42 read as
    [null, '2026-11-01T09:15:42Z'],
    ['America/New_York', '2026-11-01T14:15:42Z'], // EST (-5): DST ended at 2am that morning
    ['Asia/Tokyo', '2026-11-01T00:15:42Z'],
    ['Europe/Berlin', '2026-11-01T08:15:42Z'],
  ])("reads {datetime} in the partner's time zone %p", (zone, instant) => {
    const r = parse('TUNE', tune, null, zone);
    expect(r.ok && r.value.occurredAt).toEqual(new Date(instant));
  });

  it('reads an offset-less time of a generic partner only once it named its zone', () => {
    const q = { conversion_id: 'c', payout: '1', occurred_at: '2026-11-01 09:15:42' };
    expect(problems('GENERIC', q)).toEqual({ occurred_at: expect.stringContaining('UTC offset') });
    const r = parse('GENERIC', q, null, 'America/Los_Angeles');
    expect(r.ok && r.value.occurredAt).toEqual(new Date('2026-11-01T17:15:42Z'));
    // An explicit offset always wins over the zone.
    const explicit = parse('TUNE', tune.replace(/datetime=[^&]+/, 'datetime=2026-11-01T11:15:42%2B02:00'), null, 'Asia/Tokyo');
    expect(explicit.ok && explicit.value.occurredAt).toEqual(new Date('2026-11-01T09:15:42Z'));
  });

  it('accepts the datetime with an explicit offset too, and refuses a filled-in macro left as is', () => {
    expect(ok('TUNE', tune.replace(/datetime=[^&]+/, 'datetime=2026-11-01T11:15:42%2B02:00')).occurredAt).toEqual(new Date('2026-11-01T09:15:42Z'));
    expect(problems('TUNE', tune.replace(/transaction_id=[^&]+/, 'transaction_id={transaction_id}'))).toEqual({ transaction_id: expect.stringContaining('macro') });
    expect(problems('TUNE', tune.replace(/datetime=[^&]+/, 'datetime=2026-11-31+09:15:42'))).toEqual({ datetime: expect.stringContaining('not a valid date') });
  });

  it('takes the partner default currency when the currency macro is missing, and rejects bad money', () => {
    expect(ok('TUNE', tune.replace('&currency=USD', '')).payout).toEqual({ currency: 'EUR', micros: 12_500_000n });
    expect(problems('TUNE', tune.replace('payout=12.50', 'payout=12.5000001'))).toEqual({ payout: expect.stringContaining('at most 6 decimals') });
    expect(problems('TUNE', tune.replace('payout=12.50', 'payout=-1'))).toEqual({ payout: 'must not be negative' });
    expect(problems('TUNE', tune.replace('sale_amount=49.99', 'sale_amount=NaN'))).toEqual({ sale_amount: expect.stringContaining('decimal') });
  });
});

describe('Everflow postbacks', () => {
  const everflow =
    'https://in.trackly.example/postbacks/ef-net?token=k3y&click_id=Ab3dEf9hIj2LmN0pQr5tUv&transaction_id=7f3c9a1e2b4d4c6e8a0b1c2d3e4f5a6b' +
    '&conversion_id=c1d2e3f4&event_id=0&payout=24.99&currency=usd&sale_amount=99.95&sub2=blast-7&sub5=';

  it('reads the template: conversion_id as the key, payout, currency, sale amount, base event', () => {
    expect(ok('EVERFLOW', everflow)).toMatchObject({
      conversionId: 'c1d2e3f4',
      clickId: 'Ab3dEf9hIj2LmN0pQr5tUv',
      payout: { currency: 'USD', micros: 24_990_000n },
      status: ConversionStatus.CONVERSION_STATUS_APPROVED,
      occurredAt: new Date('2026-11-02T10:00:00Z'),
      transactionId: '7f3c9a1e2b4d4c6e8a0b1c2d3e4f5a6b',
      eventId: null,
      saleAmountMicros: 99_950_000n,
      subIds: { sub2: 'blast-7', sub5: '' },
    });
  });

  it('keys on transaction_id + event_id without a conversion_id; event 0 or absent is the base conversion', () => {
    const noConv = everflow.replace('&conversion_id=c1d2e3f4', '');
    expect(ok('EVERFLOW', noConv).conversionId).toBe('7f3c9a1e2b4d4c6e8a0b1c2d3e4f5a6b');
    expect(ok('EVERFLOW', noConv.replace('event_id=0', 'event_id=12'))).toMatchObject({ conversionId: '7f3c9a1e2b4d4c6e8a0b1c2d3e4f5a6b:12', eventId: '12' });
    expect(ok('EVERFLOW', noConv.replace('&event_id=0', '')).conversionId).toBe('7f3c9a1e2b4d4c6e8a0b1c2d3e4f5a6b');
    expect(problems('EVERFLOW', { click_id: 'c', payout: '1' })).toEqual({ conversion_id: 'is required (or transaction_id)' });
  });

  it('accepts payout_amount and offer_currency', () => {
    expect(ok('EVERFLOW', { conversion_id: 'c', payout_amount: '3,50', offer_currency: 'gbp' }).payout).toEqual({ currency: 'GBP', micros: 3_500_000n });
    expect(ok('EVERFLOW', { conversion_id: 'c', payout_amount: '3.50' }).payout).toEqual({ currency: 'EUR', micros: 3_500_000n });
    expect(problems('EVERFLOW', { conversion_id: 'c', payout: '1', payout_amount: ['1', '2'] })).toEqual({ payout_amount: 'must be given once, got 2 values' });
  });

  it('reads the click id from sub1 by default, or the sub the offer link used', () => {
    expect(ok('EVERFLOW', { sub1: 'clk-1', conversion_id: 'c', payout: '1' }).clickId).toBe('clk-1');
    expect(ok('EVERFLOW', { sub1: 'other', sub4: 'clk-4', conversion_id: 'c', payout: '1' }, 'sub4').clickId).toBe('clk-4');
    expect(ok('EVERFLOW', { sub1: 'other', conversion_id: 'c', payout: '1' }, 'sub4').clickId).toBeNull();
  });

  it.each([
    ['approved', ConversionStatus.CONVERSION_STATUS_APPROVED],
    ['pending', ConversionStatus.CONVERSION_STATUS_PENDING],
    ['rejected', ConversionStatus.CONVERSION_STATUS_REJECTED],
    ['invalid', ConversionStatus.CONVERSION_STATUS_REJECTED],
    ['INVALID', ConversionStatus.CONVERSION_STATUS_REJECTED],
  ])('maps status %s', (word, status) => {
    expect(ok('EVERFLOW', `${everflow}&status=${word}`).status).toBe(status);
  });

  it('refuses "invalid" for other kinds, where it is not a status word', () => {
    expect(problems('GENERIC', { conversion_id: 'c', payout: '1', status: 'invalid' })).toEqual({ status: expect.stringContaining('got "invalid"') });
  });
});

describe('generic postbacks with a click id parameter', () => {
  it('reads the configured parameter before the aliases', () => {
    expect(ok('GENERIC', { sub3: 'clk-3', cid: 'other', conversion_id: 'c', payout: '1' }, 'sub3').clickId).toBe('clk-3');
    expect(ok('GENERIC', { cid: 'alias', conversion_id: 'c', payout: '1' }, 'sub3').clickId).toBe('alias');
  });

  it('keeps transaction and event ids for reversals without changing the generic key', () => {
    expect(ok('GENERIC', { order_id: 'o-1', transaction_id: 't-1', event_id: '5', payout: '1' })).toMatchObject({
      conversionId: 't-1',
      transactionId: 't-1',
      eventId: '5',
    });
  });
});
