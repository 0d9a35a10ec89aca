/**
 * Rules every conversion obeys, whichever edge it came through (partner HTTP postback or internal gRPC): ids,
 * statuses, times and payouts are checked field by field, so a caller learns every problem at once.
 */
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { UnattributedReason, unattributedReasonToJSON } from '@trackly/contracts/attribution/v1/attribution';
import { AttributionState } from '@trackly/contracts/ingest/v1/ingest';
import type { SubmitConversionRequest } from '@trackly/contracts/ingest/v1/ingest_service';
import { DomainError, InvalidArgumentError, MAX_ABS_MICROS, Money, MS_PER_DAY, normaliseCurrency } from '@trackly/kernel';

/** Longest value taken from a partner for any field we interpret. */
export const MAX_VALUE_LENGTH = 256;
/** Partners' clocks drift; a conversion dated further ahead than this is a bad mapping, not a sale. */
export const MAX_FUTURE_SKEW_MS = MS_PER_DAY;
/**
 * Networks pay within months and attribution windows are days; a conversion dated years before it reached us is a
 * macro filled with 0 or a broken date mapping (1970-01-01, 0001-01-01), not a late sale.
 */
export const MAX_PAST_AGE_DAYS = 730;
/** Partner ids appear in postback URLs: short, URL-safe, no dots (no path tricks). */
export const PARTNER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export type FieldProblems = Record<string, string>;
export type Validated<T> = { ok: true; value: T } | { ok: false; fields: FieldProblems };

/** Parameters as received: a repeated name carries every value, in order. */
export type RawParams = Record<string, string | string[]>;

/** A conversion that passed every rule, ready to store. */
export interface ConversionDraft {
  partnerId: string;
  conversionId: string;
  /** Absent when the partner did not echo one (attribution then reports NO_CLICK_NO_VIEW). */
  clickId: string | null;
  /** Our message id when the partner passed it back (message_id, msg_id, sms_id, mid): enables view-through. */
  messageId?: string | null;
  /** A test conversion (the partner's test flag, or SendTestPostback): stored and explained, never revenue. */
  test?: boolean;
  payout: Money;
  /** The postback carried no payout (payout is then 0): attribution applies the offer's default payout. */
  payoutAbsent?: boolean;
  status: Exclude<ConversionStatus, ConversionStatus.CONVERSION_STATUS_UNSPECIFIED | ConversionStatus.UNRECOGNIZED>;
  occurredAt: Date;
  /** Every parameter the partner sent but the token (empty for gRPC submissions). */
  raw: RawParams;
  /** The partner's transaction id, when sent (reversals name a conversion by it and event_id). */
  transactionId?: string | null;
  /** Everflow event / TUNE goal; null for the base conversion (0 or absent). */
  eventId?: string | null;
  /** The order value the partner reported, in the payout's currency. */
  saleAmountMicros?: bigint | null;
  /** The sub-id parameters as sent (aff_sub*, sub1..sub10, source, ...). */
  subIds?: RawParams;
}

export function orThrow<T>(result: Validated<T>): T {
  if (result.ok) return result.value;
  throw InvalidArgumentError.of(result.fields);
}

export function partnerIdProblem(partnerId: string): string | undefined {
  if (!partnerId) return 'is required';
  if (!PARTNER_ID_PATTERN.test(partnerId)) return 'must be 1-64 letters, digits, "_" or "-", starting with a letter or digit';
  return undefined;
}

/**
 * Partner-chosen keys (conversion ids, order numbers, echoed click ids) vary too much for a narrow alphabet, so the
 * rule only keeps out what breaks storage or display: control characters, surrounding blanks, excessive length.
 */
export function externalIdProblem(value: string): string | undefined {
  if (value.length > MAX_VALUE_LENGTH) return `must be at most ${MAX_VALUE_LENGTH} characters`;
  const hidden = hiddenCharacterProblem(value);
  if (hidden) return hidden;
  if (value !== value.trim()) return 'must not start or end with blanks';
  if (/^\{[^{}]*\}$/.test(value)) return `looks like a macro the partner did not fill in ("${value}")`;
  return undefined;
}

const INVISIBLE = /[\p{Cf}\p{Cs}\p{Co}\p{Zl}\p{Zp}\uFFFD\uFFFE\uFFFF]/u;

/**
 * Characters no value we interpret may hold: control characters (CR/LF is header injection, NUL cannot be stored),
 * invisible formatting (zero-width, bidi overrides: an id that displays like another one), line and paragraph
 * separators (U+2028/9 end lines in logs and scripts), lone surrogates,
 * private-use code points, and U+FFFD, which is what invalid UTF-8 or percent-encoding decodes to.
 */
export function hiddenCharacterProblem(value: string): string | undefined {
  if (/\p{Cc}/u.test(value)) return 'must not contain control characters';
  const m = INVISIBLE.exec(value);
  if (m) return `must not contain invisible, private-use or replacement characters (U+${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')})`;
  return undefined;
}

/**
 * The currencies the runtime's ICU knows as in use (ISO 4217 minus funds, metals and the testing/no-currency codes
 * XTS, XXX): a well-formed "ABC" or "XXX" from a partner would open a revenue bucket in a currency nobody pays in.
 * A runtime without the list (small ICU) falls back to the 3-letter shape.
 */
const ISO_CURRENCIES: ReadonlySet<string> | undefined = (() => {
  const intl = Intl as { supportedValuesOf?: (key: string) => string[] };
  const codes = intl.supportedValuesOf?.('currency');
  return codes && codes.length > 100 ? new Set(codes) : undefined;
})();

export function isIsoCurrency(code: string): boolean {
  return ISO_CURRENCIES ? ISO_CURRENCIES.has(code) : /^[A-Z]{3}$/.test(code);
}

const A = ConversionStatus.CONVERSION_STATUS_APPROVED;
const P = ConversionStatus.CONVERSION_STATUS_PENDING;
const R = ConversionStatus.CONVERSION_STATUS_REJECTED;
const V = ConversionStatus.CONVERSION_STATUS_REVERSED;

/** The status words trackers send (PARTNERS.md, generic postback), lower-cased. A Map, so "constructor" is unknown. */
export const STATUS_WORDS: ReadonlyMap<string, ConversionDraft['status']> = new Map([
  ['approved', A], ['approve', A], ['1', A], ['sale', A],
  ['pending', P], ['hold', P], ['wait', P], ['2', P],
  ['rejected', R], ['declined', R], ['reject', R], ['cancel', R], ['trash', R], ['3', R],
  ['reversed', V], ['refund', V], ['chargeback', V],
]);

export function statusFromWord(word: string): ConversionDraft['status'] | undefined {
  const w = word.trim();
  // ASCII only: toLowerCase maps look-alikes onto the words ("chargebac\u212A" with a Kelvin sign becomes "chargeback").
  if (!/^[\x20-\x7e]*$/.test(w)) return undefined;
  return STATUS_WORDS.get(w.toLowerCase());
}

const STATUS_NAMES: Record<ConversionDraft['status'], string> = {
  [A]: 'APPROVED',
  [P]: 'PENDING',
  [R]: 'REJECTED',
  [V]: 'REVERSED',
};

/** Stored form of a status (text column). */
export function statusName(status: ConversionDraft['status']): string {
  return STATUS_NAMES[status];
}

const STATUS_BY_NAME = new Map(Object.entries(STATUS_NAMES).map(([s, n]) => [n, Number(s) as ConversionDraft['status']]));

export function statusFromName(name: string): ConversionDraft['status'] {
  const status = STATUS_BY_NAME.get(name);
  if (status === undefined) throw new Error(`unknown stored status "${name}"`);
  return status;
}

export type AttributionStateName = 'PENDING' | 'ATTRIBUTED' | 'UNATTRIBUTED';

const STATE_NAMES: Partial<Record<AttributionState, AttributionStateName>> = {
  [AttributionState.ATTRIBUTION_STATE_PENDING]: 'PENDING',
  [AttributionState.ATTRIBUTION_STATE_ATTRIBUTED]: 'ATTRIBUTED',
  [AttributionState.ATTRIBUTION_STATE_UNATTRIBUTED]: 'UNATTRIBUTED',
};

/** Stored form of an attribution state; undefined for UNSPECIFIED and unknown values. */
export function attributionStateName(state: AttributionState): AttributionStateName | undefined {
  return STATE_NAMES[state];
}

const STATE_BY_NAME = new Map(Object.entries(STATE_NAMES).map(([s, n]) => [n, Number(s) as AttributionState]));

export function attributionStateFromName(name: string): AttributionState {
  return STATE_BY_NAME.get(name as AttributionStateName) ?? AttributionState.ATTRIBUTION_STATE_UNSPECIFIED;
}

/** UNATTRIBUTED_REASON_UNKNOWN_CLICK_ID -> UNKNOWN_CLICK_ID: the code kept with the conversion. */
export function unattributedReasonName(reason: UnattributedReason): string {
  return unattributedReasonToJSON(reason).replace(/^UNATTRIBUTED_REASON_/, '');
}

const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)$/;
const UNIX_SECONDS = /^(\d{1,12})(?:\.(\d{1,9}))?$/;

/**
 * ISO 8601 with an explicit offset ("2026-11-02T10:00:00Z", "2026-11-02 12:00:00+02:00") or unix seconds.
 * A local time without an offset is refused: guessing the partner's time zone would shift conversions by hours.
 */
export function parseTimestamp(text: string): Date | string {
  const value = text.trim();
  const iso = ISO_8601.exec(value);
  if (iso) {
    const [, y, mo, d, h, mi, s = '0', frac = '', , sign, oh, om = '0'] = iso;
    const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map(Number);
    const lastDay = [31, isLeap(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
    if (month < 1 || month > 12 || day < 1 || day > lastDay || hour > 23 || minute > 59 || second > 59) {
      return `is not a valid date and time: "${truncate(value)}"`;
    }
    if (sign && (Number(oh) > 23 || Number(om) > 59)) return `has an invalid UTC offset: "${truncate(value)}"`;
    const at = new Date(0);
    // setUTCFullYear, not Date.UTC: Date.UTC maps years 0-99 to 1900-1999.
    at.setUTCFullYear(year, month - 1, day);
    at.setUTCHours(hour, minute, second, Number(frac.padEnd(3, '0').slice(0, 3)));
    const offsetMinutes = sign ? (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om)) : 0;
    return new Date(at.getTime() - offsetMinutes * 60_000);
  }
  const unix = UNIX_SECONDS.exec(value);
  if (unix) {
    const [, seconds, frac = ''] = unix;
    return new Date(Number(seconds) * 1000 + Number(frac.padEnd(3, '0').slice(0, 3)));
  }
  return `must be ISO 8601 with a UTC offset (e.g. 2026-11-02T10:00:00Z) or unix seconds, got "${truncate(value)}"`;
}

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** The time a conversion happened, or the problem with it. Absent means "when we received it". */
export function occurredAtOrProblem(at: Date | undefined, receivedAt: Date): Date | string {
  if (at === undefined) return receivedAt;
  if (Number.isNaN(at.getTime())) return 'is not a valid time';
  if (at.getTime() - receivedAt.getTime() > MAX_FUTURE_SKEW_MS) return 'must not be more than 1 day in the future';
  if (receivedAt.getTime() - at.getTime() > MAX_PAST_AGE_DAYS * MS_PER_DAY) return `must not be more than ${MAX_PAST_AGE_DAYS} days in the past`;
  return at;
}

/**
 * Checks an internal submission (IngestService.SubmitConversion) with the same rules as the postback edge: payout
 * required and not negative, status UNSPECIFIED meaning approved, occurred_at unset meaning now.
 */
export function validateSubmission(req: SubmitConversionRequest, receivedAt: Date): Validated<ConversionDraft> {
  const fields: FieldProblems = {};
  const partner = partnerIdProblem(req.partnerId ?? '');
  if (partner) fields.partner_id = partner;
  const conversionId = req.conversionId ?? '';
  const conv = conversionId ? externalIdProblem(conversionId) : 'is required';
  if (conv) fields.conversion_id = conv;
  const clickId = req.clickId ?? '';
  const click = clickId ? externalIdProblem(clickId) : undefined;
  if (click) fields.click_id = click;
  const messageId = req.messageId ?? '';
  const message = messageId ? externalIdProblem(messageId) : undefined;
  if (message) fields.message_id = message;

  let payout: Money | undefined;
  if (!req.payout) fields.payout = 'is required';
  else {
    let currency: string | undefined;
    try {
      currency = normaliseCurrency(req.payout.currencyCode ?? '', 'payout.currency_code');
    } catch (e) {
      collect(e, fields);
    }
    const micros = parseMicros(req.payout.amountMicros ?? '');
    if (typeof micros === 'string') fields['payout.amount_micros'] = micros;
    else if (currency) payout = { currency, micros };
  }

  let status: ConversionDraft['status'] | undefined;
  if (req.status === ConversionStatus.CONVERSION_STATUS_UNSPECIFIED || req.status === undefined) status = A;
  else if (req.status in STATUS_NAMES) status = req.status as ConversionDraft['status'];
  else fields.status = `is not a known conversion status (${req.status})`;

  const occurredAt = occurredAtOrProblem(req.occurredAt, receivedAt);
  if (typeof occurredAt === 'string') fields.occurred_at = occurredAt;

  if (Object.keys(fields).length) return { ok: false, fields };
  return {
    ok: true,
    value: {
      partnerId: req.partnerId,
      conversionId,
      clickId: clickId || null,
      messageId: messageId || null,
      payout: payout!,
      status: status!,
      occurredAt: occurredAt as Date,
      raw: {},
    },
  };
}

/** int64 micros as ts-proto hands them over (a decimal string). */
function parseMicros(text: string): bigint | string {
  if (!/^-?\d{1,19}$/.test(text)) return `must be an integer number of micros, got "${truncate(text)}"`;
  const micros = BigInt(text);
  if (micros < 0n) return 'must not be negative';
  if (micros > MAX_ABS_MICROS) return 'is too large to be an amount';
  return micros;
}

/** Moves a DomainError's field problems into `fields`; anything else is a bug and propagates. */
export function collect(e: unknown, fields: FieldProblems): void {
  if (!(e instanceof DomainError)) throw e;
  Object.assign(fields, e.fields);
}

export function truncate(s: string, max = 40): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
