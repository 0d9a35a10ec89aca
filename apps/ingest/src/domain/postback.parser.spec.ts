import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { DomainError, ManualClock, MS_PER_DAY } from '@trackly/kernel';
import { orThrow, RawParams } from './conversion.rules';
import { parsePostback, ParsedPostback, POSTBACK_ALIASES } from './postback.parser';

const clock = new ManualClock(new Date('2026-11-02T10:00:00Z'));
const ctx = () => ({ receivedAt: clock.now(), defaultCurrency: 'USD' });
const base = { click_id: 'Ab3dEf9hIj2LmN0pQr5tUv', conversion_id: 'conv-1', payout: '24.99' };

function ok(params: RawParams): ParsedPostback {
  const r = parsePostback(params, ctx());
  if (!r.ok) throw new Error(`expected success, got ${JSON.stringify(r.fields)}`);
  return r.value;
}

function problems(params: RawParams): Record<string, string> {
  const r = parsePostback(params, ctx());
  if (r.ok) throw new Error(`expected field problems, got ${JSON.stringify(r.value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}`);
  return r.fields;
}

beforeEach(() => clock.set('2026-11-02T10:00:00Z'));

describe('parsePostback: a minimal generic postback', () => {
  it('normalises click id, conversion id and payout; default currency, APPROVED, received time', () => {
    expect(ok(base)).toEqual({
      conversionId: 'conv-1',
      clickId: 'Ab3dEf9hIj2LmN0pQr5tUv',
      payout: { currency: 'USD', micros: 24_990_000n },
      payoutAbsent: false,
      messageId: null,
      test: false,
      status: ConversionStatus.CONVERSION_STATUS_APPROVED,
      occurredAt: new Date('2026-11-02T10:00:00Z'),
      raw: base,
      transactionId: null,
      eventId: null,
      saleAmountMicros: null,
      subIds: {},
    });
  });

  it('uses the time of receipt given, not a clock of its own', () => {
    clock.advance(90_000);
    expect(ok(base).occurredAt).toEqual(new Date('2026-11-02T10:01:30Z'));
  });

  it('takes the partner default currency from the context', () => {
    expect(parsePostback(base, { receivedAt: clock.now(), defaultCurrency: 'EUR' })).toMatchObject({ ok: true, value: { payout: { currency: 'EUR' } } });
  });

  it('accepts a conversion without a click id (attribution decides what that means)', () => {
    expect(ok({ conversion_id: 'c', payout: '1' }).clickId).toBeNull();
  });

  it('keeps every parameter raw, including ones it does not interpret and repeated unknown ones, but never the token', () => {
    const params = { ...base, offer_id: '42', goal_id: '7', aff_sub2: ['a', 'b'] };
    expect(ok({ ...params, token: 's3cret', ran: '123' }).raw).toEqual(params);
  });

  it('trims values it interprets', () => {
    expect(ok({ click_id: '  abc ', conversion_id: ' c-1 ', payout: ' 5 ' })).toMatchObject({
      clickId: 'abc',
      conversionId: 'c-1',
      payout: { micros: 5_000_000n },
    });
  });
});

describe('parsePostback: aliases', () => {
  it.each(POSTBACK_ALIASES.click_id.map((a) => [a]))('reads the click id from %s', (alias) => {
    expect(ok({ [alias]: 'clk-9', conversion_id: 'c', payout: '1' }).clickId).toBe('clk-9');
  });

  it.each(POSTBACK_ALIASES.conversion_id.map((a) => [a]))('reads the dedupe key from %s', (alias) => {
    expect(ok({ [alias]: 'key-9', payout: '1' }).conversionId).toBe('key-9');
  });

  it.each(POSTBACK_ALIASES.payout.map((a) => [a]))('reads the payout from %s', (alias) => {
    expect(ok({ conversion_id: 'c', [alias]: '3.5' }).payout.micros).toBe(3_500_000n);
  });

  it.each(POSTBACK_ALIASES.currency.map((a) => [a]))('reads the currency from %s', (alias) => {
    expect(ok({ ...base, [alias]: 'eur' }).payout).toEqual({ currency: 'EUR', micros: 24_990_000n });
  });

  it.each(POSTBACK_ALIASES.status.map((a) => [a]))('reads the status from %s', (alias) => {
    expect(ok({ ...base, [alias]: 'pending' }).status).toBe(ConversionStatus.CONVERSION_STATUS_PENDING);
  });

  it.each(POSTBACK_ALIASES.occurred_at.map((a) => [a]))('reads the conversion time from %s', (alias) => {
    expect(ok({ ...base, [alias]: '2026-11-01T08:00:00Z' }).occurredAt).toEqual(new Date('2026-11-01T08:00:00Z'));
  });

  it('prefers conversion_id over transaction_id (Everflow sends both; conversion_id is the narrower key)', () => {
    expect(ok({ transaction_id: 'tx-1', conversion_id: 'cv-1', payout: '1' }).conversionId).toBe('cv-1');
  });

  it('prefers click_id over aff_sub and payout over revenue', () => {
    const v = ok({ aff_sub: 'from-aff-sub', click_id: 'from-click-id', conversion_id: 'c', revenue: '9', payout: '1' });
    expect(v.clickId).toBe('from-click-id');
    expect(v.payout.micros).toBe(1_000_000n);
  });

  it('skips an empty alias in favour of the next one (an unfilled macro often arrives empty)', () => {
    expect(ok({ conversion_id: '', txid: 'tx-2', payout: '', amount: '2' })).toMatchObject({ conversionId: 'tx-2', payout: { micros: 2_000_000n } });
  });

  it('matches names exactly, so look-alikes are only kept raw', () => {
    expect(problems({ Conversion_ID: 'c', payout: '1' })).toEqual({ conversion_id: 'is required' });
  });

  it('is not fooled by names of Object.prototype', () => {
    expect(problems({ constructor: 'x', toString: 'y', __proto__: 'z' } as unknown as RawParams)).toEqual({
      conversion_id: 'is required',
    });
  });
});

describe('parsePostback: payout', () => {
  it.each([
    ['24.99', 24_990_000n],
    ['24,99', 24_990_000n],
    ['0', 0n],
    ['0.000001', 1n],
    ['1000', 1_000_000_000n],
    ['007.50', 7_500_000n],
    ['1,000.00', 1_000_000_000n],
    ['$5', 5_000_000n],
    ['5 USD', 5_000_000n],
  ])('parses %p exactly', (text, micros) => {
    expect(ok({ conversion_id: 'c', payout: text }).payout.micros).toBe(micros);
  });

  it.each(['NaN', 'Infinity', '1e3', '0x10', '12abc', '1.2345678', '-1', '-0.01', '1,000', '19,999', '99999999999999', '5 EUR USD'])(
    'refuses %p with a problem under the name it was sent as',
    (text) => {
      const f = problems({ conversion_id: 'c', amount: text });
      expect(Object.keys(f)).toEqual(['amount']);
    },
  );

  it('says why a negative payout is refused', () => {
    expect(problems({ conversion_id: 'c', payout: '-5.00' })).toEqual({ payout: 'must not be negative' });
  });

  it('marks a postback without a payout as payout_absent (0 in its currency), for the offer default to apply', () => {
    expect(ok({ conversion_id: 'c', click_id: 'k' })).toMatchObject({ payoutAbsent: true, payout: { currency: 'USD', micros: 0n } });
    expect(ok({ conversion_id: 'c', payout: '', currency: 'eur' })).toMatchObject({ payoutAbsent: true, payout: { currency: 'EUR', micros: 0n } });
    expect(ok({ conversion_id: 'c', payout: '0' }).payoutAbsent).toBe(false);
  });

  it('takes the currency written with the amount, and refuses one that contradicts the currency parameter', () => {
    expect(ok({ conversion_id: 'c', payout: '€19,99' }).payout).toEqual({ currency: 'EUR', micros: 19_990_000n });
    expect(problems({ conversion_id: 'c', payout: '€19,99', currency: 'USD' })).toEqual({ payout: 'says EUR but the currency parameter says USD' });
    expect(problems({ conversion_id: 'c', payout: '$5', currency: 'CAD' }).payout).toContain('could be any dollar');
  });
});

describe('parsePostback: message id', () => {
  it.each(POSTBACK_ALIASES.message_id.map((a) => [a]))('reads our message id from %s', (alias) => {
    expect(ok({ ...base, [alias]: 'msg-42' }).messageId).toBe('msg-42');
  });

  it('is null when absent, and checked like any id', () => {
    expect(ok(base).messageId).toBeNull();
    expect(problems({ ...base, message_id: '{message_id}' })).toEqual({ message_id: expect.stringContaining('macro') });
  });
});

describe('parsePostback: test flag', () => {
  it.each([['1', true], ['true', true], ['YES', true], ['0', false], ['false', false], ['', false]] as const)('reads test=%p as %p', (v, flag) => {
    expect(ok({ ...base, test: v }).test).toBe(flag);
  });

  it('refuses a test flag it cannot read, rather than guess whether it is revenue', () => {
    expect(problems({ ...base, is_test: 'maybe' })).toEqual({ is_test: 'must be 1/true/yes or 0/false/no, got "maybe"' });
  });
});

describe('parsePostback: currency', () => {
  it.each(['EURO', 'E', '€', '12A', 'US D'])('refuses currency %p', (text) => {
    expect(Object.keys(problems({ ...base, currency: text }))).toEqual(['currency']);
  });
});

describe('parsePostback: status', () => {
  const A = ConversionStatus.CONVERSION_STATUS_APPROVED;
  const P = ConversionStatus.CONVERSION_STATUS_PENDING;
  const R = ConversionStatus.CONVERSION_STATUS_REJECTED;
  const V = ConversionStatus.CONVERSION_STATUS_REVERSED;
  it.each([
    ['approved', A], ['approve', A], ['1', A], ['sale', A],
    ['pending', P], ['hold', P], ['wait', P], ['2', P],
    ['rejected', R], ['declined', R], ['reject', R], ['cancel', R], ['trash', R], ['3', R],
    ['reversed', V], ['refund', V], ['chargeback', V],
    ['APPROVED', A], [' Sale ', A], ['Chargeback', V],
  ])('maps %p', (word, status) => {
    expect(ok({ ...base, status: word }).status).toBe(status);
  });

  it('means approved when absent or empty', () => {
    expect(ok(base).status).toBe(A);
    expect(ok({ ...base, status: '' }).status).toBe(A);
  });

  it.each(['4', 'paid', 'constructor', 'approved!', '0'])('refuses the unknown status %p', (word) => {
    expect(problems({ ...base, cnv_status: word })).toEqual({ cnv_status: expect.stringContaining(`got "${word}"`) });
  });
});

describe('parsePostback: occurred_at', () => {
  it.each([
    ['2026-11-01T08:00:00Z', '2026-11-01T08:00:00.000Z'],
    ['2026-11-01T08:00:00.123456789Z', '2026-11-01T08:00:00.123Z'],
    ['2026-11-01T10:00:00+02:00', '2026-11-01T08:00:00.000Z'],
    ['2026-11-01T03:00:00-0500', '2026-11-01T08:00:00.000Z'],
    ['2026-11-01T13:30+05:30', '2026-11-01T08:00:00.000Z'],
    ['2026-11-01 09:00:00+01', '2026-11-01T08:00:00.000Z'],
    ['2026-11-01t08:00:00z', '2026-11-01T08:00:00.000Z'],
    ['1793520000', '2026-11-01T08:00:00.000Z'],
    ['1793520000.5', '2026-11-01T08:00:00.500Z'],
    ['2024-02-29T00:00:00Z', '2024-02-29T00:00:00.000Z'],
    ['2000-02-29T00:00:00Z', '2000-02-29T00:00:00.000Z'],
  ])('parses %p', (text, iso) => {
    // Received an hour later, so the leap days of past years are within the age limit too.
    clock.set(new Date(Date.parse(iso) + 3_600_000));
    expect(ok({ ...base, occurred_at: text }).occurredAt.toISOString()).toBe(iso);
  });

  it('accepts up to 730 days before the receipt time, and refuses older (1970, 0001: zero-filled macros)', () => {
    const oldest = new Date(clock.now().getTime() - 730 * MS_PER_DAY).toISOString();
    const older = new Date(clock.now().getTime() - 730 * MS_PER_DAY - 1000).toISOString();
    expect(ok({ ...base, occurred_at: oldest }).occurredAt.toISOString()).toBe(oldest);
    expect(problems({ ...base, occurred_at: older })).toEqual({ occurred_at: 'must not be more than 730 days in the past' });
    for (const text of ['0', '1970-01-01T00:00:00Z', '0001-01-01T00:00:00Z']) {
      expect(problems({ ...base, occurred_at: text })).toEqual({ occurred_at: 'must not be more than 730 days in the past' });
    }
  });

  it.each([
    '2026-11-01T08:00:00',
    '2026-11-01 08:00:00',
    '2026-11-01',
    'yesterday',
    '2026-13-01T00:00:00Z',
    '2026-02-29T00:00:00Z',
    '1900-02-29T00:00:00Z',
    '2026-04-31T00:00:00Z',
    '2026-11-01T24:00:00Z',
    '2026-11-01T08:60:00Z',
    '2026-11-01T08:00:60Z',
    '2026-11-01T08:00:00+25:00',
    '-1',
    '1.5e9',
    'Mon, 02 Nov 2026 10:00:00 GMT',
  ])('refuses %p', (text) => {
    expect(Object.keys(problems({ ...base, datetime: text }))).toEqual(['datetime']);
  });

  it('accepts up to one day ahead of the receipt time, and refuses beyond it', () => {
    const inADay = new Date(clock.now().getTime() + MS_PER_DAY).toISOString();
    const later = new Date(clock.now().getTime() + MS_PER_DAY + 1000).toISOString();
    expect(ok({ ...base, occurred_at: inADay }).occurredAt.toISOString()).toBe(inADay);
    expect(problems({ ...base, occurred_at: later })).toEqual({ occurred_at: 'must not be more than 1 day in the future' });
    clock.advance(1000);
    expect(ok({ ...base, occurred_at: later }).occurredAt.toISOString()).toBe(later);
  });

  it('refuses unix milliseconds rather than reading them as seconds', () => {
    expect(Object.keys(problems({ ...base, timestamp: '1793520000000' }))).toEqual(['timestamp']);
    expect(problems({ ...base, timestamp: '179352000000' })).toEqual({ timestamp: 'must not be more than 1 day in the future' });
  });
});

describe('parsePostback: malformed input', () => {
  it('requires a dedupe key', () => {
    expect(problems({ click_id: 'k', payout: '1' })).toEqual({ conversion_id: 'is required' });
  });

  it('refuses repeated parameters it would have to choose between, by the name sent', () => {
    expect(problems({ ...base, payout: ['1', '2'] })).toEqual({ payout: 'must be given once, got 2 values' });
    expect(problems({ ...base, subid: ['a', 'b'] })).toEqual({ subid: 'must be given once, got 2 values' });
    expect(problems({ conversion_id: ['a', 'b'], payout: '1' })).toEqual({ conversion_id: 'must be given once, got 2 values' });
  });

  it('refuses values over 256 characters under any interpreted name, and takes 256', () => {
    expect(ok({ ...base, click_id: 'k'.repeat(256) }).clickId).toHaveLength(256);
    expect(problems({ ...base, click_id: 'k'.repeat(257) })).toEqual({ click_id: 'must be at most 256 characters' });
    expect(problems({ ...base, conversion_id: 'c'.repeat(257) })).toEqual({ conversion_id: 'must be at most 256 characters' });
    expect(problems({ ...base, status: 'a'.repeat(257) })).toEqual({ status: 'must be at most 256 characters' });
  });

  it('does not police parameters it does not interpret', () => {
    expect(ok({ ...base, offer_name: 'x'.repeat(1000) }).raw.offer_name).toHaveLength(1000);
  });

  it('refuses ids with control characters and macros the partner left unfilled', () => {
    expect(problems({ ...base, conversion_id: 'a\u0001b' })).toEqual({ conversion_id: 'must not contain control characters' });
    expect(problems({ click_id: 'k', payout: '1', transaction_id: '{transaction_id}' })).toEqual({
      transaction_id: expect.stringContaining('macro'),
    });
    expect(problems({ ...base, click_id: '{aff_click_id}' })).toEqual({ click_id: expect.stringContaining('macro') });
  });

  it('reports every problem at once, and as an INVALID_ARGUMENT error when thrown', () => {
    const params = { click_id: ['a', 'b'], payout: 'abc', currency: 'dollars', status: 'maybe', occurred_at: 'soon' };
    expect(Object.keys(problems(params)).sort()).toEqual(['click_id', 'conversion_id', 'currency', 'occurred_at', 'payout', 'status']);
    try {
      orThrow(parsePostback(params, ctx()));
      throw new Error('expected a DomainError');
    } catch (e) {
      expect(e).toBeInstanceOf(DomainError);
      expect((e as DomainError).kind).toBe('INVALID_ARGUMENT');
      expect((e as DomainError).fields.conversion_id).toBe('is required');
    }
  });

  it('makes raw parameters storable: NUL becomes U+FFFD', () => {
    expect(ok({ ...base, note: 'a\u0000b', 'k\u0000': 'v' }).raw).toMatchObject({ note: 'a\uFFFDb', 'k\uFFFD': 'v' });
  });
});
