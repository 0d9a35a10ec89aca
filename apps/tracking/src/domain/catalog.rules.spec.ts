import { DomainError } from '@trackly/kernel';
import {
  DEFAULT_CLICK_WINDOW_DAYS,
  MAX_CLICK_WINDOW_DAYS,
  MAX_MESSAGES_PER_BATCH,
  MessageInput,
  OfferInput,
  validateMessageBatch,
  validateName,
  validateOffer,
} from './catalog.rules';

function failure(fn: () => unknown): DomainError {
  try {
    fn();
  } catch (e) {
    if (e instanceof DomainError) return e;
    throw e;
  }
  throw new Error('expected a DomainError, nothing was thrown');
}

const offer = (over: Partial<OfferInput> = {}): OfferInput => ({
  offerId: 'summer',
  name: '  Summer Clearance  ',
  destinationUrlTemplate: 'https://shop.example/land?cid={click_id}',
  defaultPayout: { currencyCode: 'usd', amountMicros: '24990000' },
  ...over,
});

const message = (i: number, over: Partial<MessageInput> = {}): MessageInput => ({
  messageId: `msg-${i}`,
  contactId: `contact-${i}`,
  phoneE164: '+15551231234',
  campaignId: 'camp-1',
  creativeId: 'cr-1',
  offerId: 'summer',
  sentAt: new Date('2026-11-02T09:00:00Z'),
  ...over,
});

describe('validateOffer', () => {
  it('normalises a valid offer: trimmed name, upper-case currency, bigint micros, no window when unset', () => {
    expect(validateOffer(offer())).toEqual({
      offerId: 'summer',
      name: 'Summer Clearance',
      destinationUrlTemplate: 'https://shop.example/land?cid={click_id}',
      defaultPayout: { currency: 'USD', micros: 24_990_000n },
      clickWindowDays: null,
      minConversionSeconds: null,
      viewThroughWindowDays: null,
    });
  });

  it('keeps large payouts exact, refuses absurd ones and treats an empty amount as zero (proto3 default)', () => {
    expect(validateOffer(offer({ defaultPayout: { currencyCode: 'EUR', amountMicros: '999999999999999999' } })).defaultPayout).toEqual({
      currency: 'EUR',
      micros: 999_999_999_999_999_999n,
    });
    expect(() => validateOffer(offer({ defaultPayout: { currencyCode: 'EUR', amountMicros: '9223372036854775807' } }))).toThrow(/too large/);
    expect(() => validateOffer(offer({ defaultPayout: { currencyCode: 'EUR', amountMicros: '0x10' } }))).toThrow(/integer/);
    expect(validateOffer(offer({ defaultPayout: { currencyCode: 'EUR', amountMicros: '' } })).defaultPayout.micros).toBe(0n);
    expect(validateOffer(offer({ defaultPayout: { currencyCode: 'EUR', amountMicros: '0' } })).defaultPayout.micros).toBe(0n);
  });

  it.each([1, 30, DEFAULT_CLICK_WINDOW_DAYS, MAX_CLICK_WINDOW_DAYS])('accepts a click window of %p days', (days) => {
    expect(validateOffer(offer({ clickWindowDays: days })).clickWindowDays).toBe(days);
  });

  it.each([0, -1, MAX_CLICK_WINDOW_DAYS + 1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('rejects a click window of %p days', (days) => {
    expect(failure(() => validateOffer(offer({ clickWindowDays: days }))).fields).toEqual({
      click_window_days: 'must be between 1 and 365',
    });
  });

  it.each<[string, Partial<OfferInput>, Record<string, string>]>([
    ['a missing offer id', { offerId: '' }, { offer_id: 'is required' }],
    ['an offer id with a space', { offerId: 'summer sale' }, { offer_id: 'must be 1-128 letters, digits, ".", "_", ":" or "-"' }],
    ['an offer id starting with punctuation', { offerId: '-summer' }, { offer_id: 'must be 1-128 letters, digits, ".", "_", ":" or "-"' }],
    ['an offer id of 129 characters', { offerId: 'a'.repeat(129) }, { offer_id: 'must be 1-128 letters, digits, ".", "_", ":" or "-"' }],
    ['a blank name', { name: '   ' }, { name: 'is required' }],
    ['a name over 200 characters', { name: 'n'.repeat(201) }, { name: 'must be at most 200 characters' }],
    ['no payout', { defaultPayout: undefined }, { default_payout: 'is required (currency and amount)' }],
    ['a negative payout', { defaultPayout: { currencyCode: 'USD', amountMicros: '-1' } }, { 'default_payout.amount_micros': 'must not be negative' }],
    [
      'a bad currency',
      { defaultPayout: { currencyCode: 'US', amountMicros: '1' } },
      { 'default_payout.currency_code': 'must be a 3-letter ISO 4217 code in upper case, got "US"' },
    ],
    ['a template without {click_id}', { destinationUrlTemplate: 'https://shop.example/' }, { destination_url_template: 'must contain the {click_id} macro' }],
    ['an open-redirect template', { destinationUrlTemplate: '//evil.example/{click_id}' }, { destination_url_template: 'must be an absolute URL' }],
  ])('rejects %s', (_what, over, fields) => {
    const e = failure(() => validateOffer(offer(over)));
    expect(e.kind).toBe('INVALID_ARGUMENT');
    expect(e.fields).toEqual(fields);
  });

  it('accepts ids and names at their limits', () => {
    const v = validateOffer(offer({ offerId: `A${'b'.repeat(127)}`, name: 'n'.repeat(200) }));
    expect(v.offerId).toHaveLength(128);
    expect(v.name).toHaveLength(200);
    expect(validateOffer(offer({ offerId: 'partner:offer_1.v-2' })).offerId).toBe('partner:offer_1.v-2');
  });
});

describe('validateName', () => {
  it('trims, and reports under the field it is given', () => {
    expect(validateName('  Weekly blast ')).toBe('Weekly blast');
    expect(failure(() => validateName(' ', 'campaign.name')).fields).toEqual({ 'campaign.name': 'is required' });
    expect(failure(() => validateName(undefined as unknown as string)).fields).toEqual({ name: 'is required' });
  });
});

describe('validateMessageBatch', () => {
  it('returns a valid batch as it is', () => {
    const batch = [message(1), message(2, { phoneE164: '+447911123456', contactId: 'c:2' })];
    expect(validateMessageBatch(batch)).toBe(batch);
  });

  it('bounds the batch size', () => {
    expect(failure(() => validateMessageBatch([])).fields).toEqual({ messages: 'must not be empty' });
    const full = Array.from({ length: MAX_MESSAGES_PER_BATCH }, (_, i) => message(i));
    expect(validateMessageBatch(full)).toHaveLength(10_000);
    expect(failure(() => validateMessageBatch([...full, message(10_000)])).fields).toEqual({ messages: 'must hold at most 10000 messages' });
  });

  it('reports every bad field of every message at once, as messages[i].field', () => {
    const e = failure(() =>
      validateMessageBatch([
        message(0),
        message(1, { messageId: '', contactId: 'has space', phoneE164: '5551231234' }),
        message(2, { campaignId: '', creativeId: '/etc', offerId: 'x'.repeat(129), sentAt: undefined }),
        message(3, { sentAt: new Date('not a date') }),
      ]),
    );
    expect(e.kind).toBe('INVALID_ARGUMENT');
    const idRule = 'must be 1-128 letters, digits, ".", "_", ":" or "-"';
    expect(e.fields).toEqual({
      'messages[1].message_id': 'is required',
      'messages[1].contact_id': idRule,
      'messages[1].phone_e164': 'must be an E.164 number such as +15551234567',
      'messages[2].campaign_id': 'is required',
      'messages[2].creative_id': idRule,
      'messages[2].offer_id': idRule,
      'messages[2].sent_at': 'is required',
      'messages[3].sent_at': 'is required',
    });
    expect(e.message).toBe(
      [
        'messages[1].message_id is required',
        `messages[1].contact_id ${idRule}`,
        'messages[1].phone_e164 must be an E.164 number such as +15551234567',
        'messages[2].campaign_id is required',
        `messages[2].creative_id ${idRule}`,
        `messages[2].offer_id ${idRule}`,
        'messages[2].sent_at is required',
        'messages[3].sent_at is required',
      ].join('; '),
    );
  });

  it('rejects a message id that appears twice, naming the later occurrence', () => {
    const e = failure(() => validateMessageBatch([message(1), message(2), message(1, { contactId: 'other' })]));
    expect(e.fields).toEqual({ 'messages[2].message_id': 'appears twice in the batch' });
  });

  it.each(['+1555123', '+0155512312', '15551231234', '+1 555 123 1234', '+1555123123412345', ''])('rejects phone %p', (phone) => {
    expect(failure(() => validateMessageBatch([message(0, { phoneE164: phone })])).fields).toEqual({
      'messages[0].phone_e164': 'must be an E.164 number such as +15551234567',
    });
  });
});

describe('offer attribution terms', () => {
  const base = { offerId: 'o', name: 'O', destinationUrlTemplate: 'https://s.example/?c={click_id}', defaultPayout: { currencyCode: 'USD', amountMicros: '1' } };
  it('accepts a minimum click-to-conversion time and a view-through window in range', () => {
    expect(validateOffer({ ...base, minConversionSeconds: 0, viewThroughWindowDays: 90 })).toMatchObject({ minConversionSeconds: 0, viewThroughWindowDays: 90 });
    expect(validateOffer(base)).toMatchObject({ minConversionSeconds: null, viewThroughWindowDays: null });
  });
  it.each([
    [{ minConversionSeconds: 86_401 }, /min_conversion_seconds/],
    [{ minConversionSeconds: -1 }, /min_conversion_seconds/],
    [{ viewThroughWindowDays: 0 }, /view_through_window_days/],
    [{ viewThroughWindowDays: 91 }, /view_through_window_days/],
  ])('rejects %p', (over, why) => {
    expect(() => validateOffer({ ...base, ...over })).toThrow(why);
  });
});
