/** Validation of catalog and message input; the whole request is checked before anything is stored. */
import { assertE164, assertId, InvalidArgumentError, MAX_ABS_MICROS, Money, normaliseCurrency, DomainError } from '@trackly/kernel';
import { validateDestinationTemplate } from './destination-url';

export const DEFAULT_CLICK_WINDOW_DAYS = 90;
export const MAX_CLICK_WINDOW_DAYS = 365;
/** One SMS blast segment per call: large enough that a 1M-message blast is 100 calls. */
export const MAX_MESSAGES_PER_BATCH = 10_000;

export interface OfferInput {
  offerId: string;
  name: string;
  destinationUrlTemplate: string;
  defaultPayout?: { currencyCode: string; amountMicros: string };
  clickWindowDays?: number;
  minConversionSeconds?: number;
  viewThroughWindowDays?: number;
}

export interface ValidOffer {
  offerId: string;
  name: string;
  destinationUrlTemplate: string;
  defaultPayout: Money;
  clickWindowDays: number | null;
  minConversionSeconds: number | null;
  viewThroughWindowDays: number | null;
}

export const MAX_MIN_CONVERSION_SECONDS = 86_400;
export const MAX_VIEW_THROUGH_WINDOW_DAYS = 90;

function optionalIntIn(value: number | undefined | null, min: number, max: number, field: string): number | null {
  if (value === undefined || value === null) return null;
  if (!Number.isInteger(value) || value < min || value > max) throw new InvalidArgumentError(field, `must be between ${min} and ${max}`);
  return value;
}

export function validateOffer(input: OfferInput): ValidOffer {
  const offerId = assertId(input.offerId, 'offer_id');
  const name = validateName(input.name);
  const destinationUrlTemplate = validateDestinationTemplate(input.destinationUrlTemplate);
  if (!input.defaultPayout) throw new InvalidArgumentError('default_payout', 'is required (currency and amount)');
  const currency = normaliseCurrency(input.defaultPayout.currencyCode, 'default_payout.currency_code');
  const raw = input.defaultPayout.amountMicros || '0';
  if (!/^-?\d{1,19}$/.test(raw)) throw new InvalidArgumentError('default_payout.amount_micros', 'must be an integer number of micros');
  const micros = BigInt(raw);
  if (micros < 0n) throw new InvalidArgumentError('default_payout.amount_micros', 'must not be negative');
  if (micros > MAX_ABS_MICROS) throw new InvalidArgumentError('default_payout.amount_micros', 'is too large to be a payout');
  const w = input.clickWindowDays;
  if (w !== undefined && w !== null && (!Number.isInteger(w) || w < 1 || w > MAX_CLICK_WINDOW_DAYS)) {
    throw new InvalidArgumentError('click_window_days', `must be between 1 and ${MAX_CLICK_WINDOW_DAYS}`);
  }
  return {
    offerId,
    name,
    destinationUrlTemplate,
    defaultPayout: { currency, micros },
    clickWindowDays: w ?? null,
    minConversionSeconds: optionalIntIn(input.minConversionSeconds, 0, MAX_MIN_CONVERSION_SECONDS, 'min_conversion_seconds'),
    viewThroughWindowDays: optionalIntIn(input.viewThroughWindowDays, 1, MAX_VIEW_THROUGH_WINDOW_DAYS, 'view_through_window_days'),
  };
}

export function validateName(name: string, field = 'name'): string {
  const n = (name ?? '').trim();
  if (!n) throw new InvalidArgumentError(field, 'is required');
  if (n.length > 200) throw new InvalidArgumentError(field, 'must be at most 200 characters');
  return n;
}

export interface MessageInput {
  messageId: string;
  contactId: string;
  phoneE164: string;
  campaignId: string;
  creativeId: string;
  offerId: string;
  sentAt?: Date;
}

/** Validates a batch, reporting every bad field as messages[i].field. */
export function validateMessageBatch(messages: MessageInput[]): Required<MessageInput>[] {
  if (!messages.length) throw new InvalidArgumentError('messages', 'must not be empty');
  if (messages.length > MAX_MESSAGES_PER_BATCH) throw new InvalidArgumentError('messages', `must hold at most ${MAX_MESSAGES_PER_BATCH} messages`);
  const problems: Record<string, string> = {};
  const seen = new Set<string>();
  messages.forEach((m, i) => {
    const check = (field: string, fn: () => void) => {
      try {
        fn();
      } catch (e) {
        if (e instanceof DomainError) problems[`messages[${i}].${field}`] = Object.values(e.fields)[0] ?? e.message;
        else throw e;
      }
    };
    check('message_id', () => assertId(m.messageId, 'message_id'));
    check('contact_id', () => assertId(m.contactId, 'contact_id'));
    check('phone_e164', () => assertE164(m.phoneE164));
    check('campaign_id', () => assertId(m.campaignId, 'campaign_id'));
    check('creative_id', () => assertId(m.creativeId, 'creative_id'));
    check('offer_id', () => assertId(m.offerId, 'offer_id'));
    if (!m.sentAt || Number.isNaN(m.sentAt.getTime())) problems[`messages[${i}].sent_at`] = 'is required';
    if (seen.has(m.messageId)) problems[`messages[${i}].message_id`] = 'appears twice in the batch';
    seen.add(m.messageId);
  });
  if (Object.keys(problems).length) throw InvalidArgumentError.of(problems);
  return messages as Required<MessageInput>[];
}
