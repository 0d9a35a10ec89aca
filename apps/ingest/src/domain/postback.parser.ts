/**
 * Partner postbacks mapped onto one normalised conversion, or a problem per parameter: TUNE and Everflow by their
 * macro names, any other network by the aliases trackers commonly use (PARTNERS.md). Pure: the time of receipt, the
 * partner's kind, click id parameter and default currency come in.
 */
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { Money, parseDecimalMicros } from '@trackly/kernel';
import {
  collect,
  ConversionDraft,
  externalIdProblem,
  FieldProblems,
  hiddenCharacterProblem,
  isIsoCurrency,
  MAX_VALUE_LENGTH,
  occurredAtOrProblem,
  parseTimestamp,
  RawParams,
  statusFromWord,
  truncate,
  Validated,
} from './conversion.rules';
import type { PartnerKindName } from './partner.rules';
import { parseMoneySpelling } from './money-spelling';
import { zonedWallTimeToInstant } from './partner-time-zone';
import { storableParams } from './postback-params';

/** Aliases in order of preference: when several are present, the first non-empty one is used. */
export const POSTBACK_ALIASES = {
  click_id: ['click_id', 'clickid', 'cid', 'cnv_id', 'subid', 'sub_id', 's1', 'aff_sub', 'tid'],
  // conversion_id first: Everflow sends both and its conversion_id is the narrower key.
  conversion_id: ['conversion_id', 'txid', 'txn_id', 'transaction_id', 'order_id', 'conversion_unique_id', 'external_id'],
  payout: ['payout', 'payout_amount', 'sum', 'amount', 'revenue'],
  currency: ['currency', 'offer_currency'],
  status: ['status', 'cnv_status', 'conversion_status'],
  occurred_at: ['occurred_at', 'datetime', 'timestamp'],
  // Our message id, passed back by partners whose links carried it: what view-through attribution needs without a click.
  message_id: ['message_id', 'msg_id', 'sms_id', 'mid'],
  // A test conversion: stored and explained, never counted as revenue.
  test: ['test', 'is_test'],
} as const;

const TEST_WORDS: ReadonlyMap<string, boolean> = new Map([
  ['1', true], ['true', true], ['yes', true],
  ['0', false], ['false', false], ['no', false],
]);

export type PostbackField = keyof typeof POSTBACK_ALIASES;

export interface PostbackContext {
  /** When the request arrived: the conversion's time when the partner sends none, and "now" for the future check. */
  receivedAt: Date;
  /** Currency of a payout sent without one (the partner's account currency). */
  defaultCurrency: string;
  /** The partner's platform; generic when absent. */
  kind?: PartnerKindName;
  /** The partner's click id parameter (see effectiveClickIdParam); null or absent = the kind's default. */
  clickIdParam?: string | null;
  /** The partner's IANA zone: times without an offset are wall-clock times there. Null or absent = UTC. */
  timeZone?: string | null;
}

/** The conversion a postback describes, without the partner (which comes from the URL path). */
export type ParsedPostback = Omit<ConversionDraft, 'partnerId'> & Required<Pick<ConversionDraft, 'transactionId' | 'eventId' | 'saleAmountMicros' | 'subIds' | 'messageId' | 'payoutAbsent' | 'test'>>;

/** Parameter names one platform uses for each field, in order of preference. */
interface KindProfile {
  click_id: readonly string[];
  payout: readonly string[];
  currency: readonly string[];
  status: readonly string[];
  occurred_at: readonly string[];
  /** The event (Everflow) or goal (TUNE) that, with transaction_id, identifies one conversion. */
  event: readonly string[];
  /** Statuses the platform sends beyond the generic words. */
  extraStatuses: ReadonlyMap<string, ConversionDraft['status']>;
}

const NO_EXTRA_STATUSES = new Map<string, ConversionDraft['status']>();

function profile(kind: PartnerKindName, clickIdParam: string | null): KindProfile {
  // Our template puts the click id in click_id; a partner that pasted its own URL may use the platform's name.
  const clickIds = (fallback: readonly string[]) => [...new Set(['click_id', ...(clickIdParam ? [clickIdParam] : []), ...fallback])];
  switch (kind) {
    case 'TUNE':
      return {
        click_id: clickIds([]),
        payout: ['payout'],
        currency: ['currency'],
        status: ['status'],
        occurred_at: ['datetime', 'occurred_at'],
        event: ['goal_id'],
        extraStatuses: NO_EXTRA_STATUSES,
      };
    case 'EVERFLOW':
      return {
        click_id: clickIds([]),
        payout: ['payout', 'payout_amount'],
        currency: ['currency', 'offer_currency'],
        status: ['status', 'conversion_status'],
        occurred_at: POSTBACK_ALIASES.occurred_at,
        event: ['event_id'],
        extraStatuses: new Map([['invalid', ConversionStatus.CONVERSION_STATUS_REJECTED]]),
      };
    case 'GENERIC':
      return {
        click_id: clickIdParam ? clickIds(POSTBACK_ALIASES.click_id) : POSTBACK_ALIASES.click_id,
        payout: POSTBACK_ALIASES.payout,
        currency: POSTBACK_ALIASES.currency,
        status: POSTBACK_ALIASES.status,
        occurred_at: POSTBACK_ALIASES.occurred_at,
        event: ['event_id', 'goal_id'],
        extraStatuses: NO_EXTRA_STATUSES,
      };
  }
}

/** Parameters that are never part of a conversion: the secret, and TUNE's cache-buster. */
const NOT_KEPT = new Set(['token', 'ran']);

/** Sub-ids the platforms carry (TUNE aff_sub*, aff_unique*, source, adv_sub*; Everflow sub1..sub10; s1..), kept apart. */
const SUB_ID = /^(aff_sub\d?|aff_click_id|aff_unique\d|source|adv_sub\d?|sub\d{1,2}|s\d{1,2}|subid\d*|sub_id\d*)$/;

/** TUNE's {datetime}: "YYYY-MM-DD HH:MM:SS" without an offset, in the account's zone (UTC unless the partner says). */
const LOCAL_DATETIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}$/;

export function parsePostback(params: RawParams, ctx: PostbackContext): Validated<ParsedPostback> {
  const kind = ctx.kind ?? 'GENERIC';
  const names = profile(kind, ctx.clickIdParam ?? null);
  const fields: FieldProblems = {};
  const pick = (aliases: readonly string[]) => pickParam(params, aliases, fields);

  const transactionId = pick(['transaction_id']);
  if (transactionId) problem(fields, transactionId.name, externalIdProblem(transactionId.value));
  const event = pick(names.event);
  if (event) problem(fields, event.name, externalIdProblem(event.value));
  // Event/goal 0 (or none) is the base conversion.
  const eventId = event && event.value !== '0' ? event.value : null;

  const conversionId = dedupeKey(kind, params, fields, transactionId?.value, eventId);

  const clickId = pick(names.click_id);
  if (clickId) problem(fields, clickId.name, externalIdProblem(clickId.value));
  let test = false;
  const testParam = pick(POSTBACK_ALIASES.test);
  if (testParam) {
    const flag = TEST_WORDS.get(testParam.value.toLowerCase());
    if (flag === undefined) fields[testParam.name] = `must be 1/true/yes or 0/false/no, got "${truncate(testParam.value)}"`;
    else test = flag;
  }
  // Every kind: the aliases are ours (the partner's platform fills them from the sub-id our link gave it).
  const messageId = pick(POSTBACK_ALIASES.message_id);
  if (messageId) problem(fields, messageId.name, externalIdProblem(messageId.value));

  const currencyParam = pick(names.currency);
  let currency: string | undefined = ctx.defaultCurrency;
  if (currencyParam) {
    currency = currencyParam.value.toUpperCase();
    // Checked before upper-casing too: "ıdr" and "uſd" upper-case to IDR and USD.
    if (!/^[A-Za-z]{3}$/.test(currencyParam.value) || !/^[A-Z]{3}$/.test(currency)) {
      fields[currencyParam.name] = `must be a 3-letter ISO 4217 code, got "${truncate(currencyParam.value)}"`;
      currency = undefined;
    } else if (!isIsoCurrency(currency)) {
      fields[currencyParam.name] = `is not a currency in ISO 4217 ("${currency}")`;
      currency = undefined;
    }
  }

  // A postback without a payout is stored with 0 and says so: attribution then applies the offer's default payout.
  let payout: Money | undefined;
  let payoutAbsent = false;
  const payoutParam = pick(names.payout);
  if (!payoutParam) {
    payoutAbsent = true;
    if (currency) payout = { currency, micros: 0n };
  } else {
    // Read even when the currency parameter is wrong, so every problem is reported at once.
    const spelled = parseMoneySpelling(payoutParam.value, {
      field: payoutParam.name,
      defaultCurrency: ctx.defaultCurrency,
      currencyParam: currencyParam ? currency : undefined,
    });
    if (spelled.ok && (currency || !currencyParam)) payout = { currency: spelled.currency, micros: spelled.micros };
    else if (!spelled.ok) fields[payoutParam.name] = spelled.problem;
  }

  let saleAmountMicros: bigint | null = null;
  const saleParam = pick(['sale_amount']);
  if (saleParam) {
    try {
      saleAmountMicros = parseDecimalMicros(saleParam.value, { field: saleParam.name });
    } catch (e) {
      collect(e, fields);
    }
  }

  let status: ConversionDraft['status'] | undefined = statusFromWord('approved');
  const statusParam = pick(names.status);
  if (statusParam) {
    status = statusFromWord(statusParam.value) ?? names.extraStatuses.get(statusParam.value.trim().toLowerCase());
    if (status === undefined) {
      fields[statusParam.name] =
        `must be approved, pending, rejected or reversed (or approve/1/sale, hold/wait/2, declined/reject/cancel/trash/3, refund/chargeback${names.extraStatuses.size ? `, ${[...names.extraStatuses.keys()].join('/')}` : ''}), got "${truncate(statusParam.value)}"`;
    }
  }

  let occurredAt: Date | undefined = ctx.receivedAt;
  const occurredParam = pick(names.occurred_at);
  if (occurredParam) {
    // Without an offset: read in the partner's zone for TUNE (UTC when unset), and for other kinds only once the
    // partner named its zone (otherwise refused: guessing would shift conversions by hours).
    const local = LOCAL_DATETIME.test(occurredParam.value) && (kind === 'TUNE' || !!ctx.timeZone);
    const wall = parseTimestamp(local ? `${occurredParam.value}Z` : occurredParam.value);
    const parsed = local && ctx.timeZone && typeof wall !== 'string' ? zonedWallTimeToInstant(wall, ctx.timeZone) : wall;
    const checked = typeof parsed === 'string' ? parsed : occurredAtOrProblem(parsed, ctx.receivedAt);
    if (typeof checked === 'string') {
      fields[occurredParam.name] = checked;
      occurredAt = undefined;
    } else occurredAt = checked;
  }

  if (Object.keys(fields).length) return { ok: false, fields };
  const kept = storableParams(Object.fromEntries(Object.entries(params).filter(([k]) => !NOT_KEPT.has(k))));
  return {
    ok: true,
    value: {
      conversionId: conversionId!,
      clickId: clickId?.value ?? null,
      messageId: messageId?.value ?? null,
      test,
      payout: payout!,
      payoutAbsent,
      status: status!,
      occurredAt: occurredAt!,
      raw: kept,
      transactionId: transactionId?.value ?? null,
      eventId,
      saleAmountMicros,
      subIds: Object.fromEntries(Object.entries(kept).filter(([k]) => SUB_ID.test(k))),
    },
  };
}

/**
 * The partner's dedupe key. TUNE: conversion_unique_id when "limit by unique id" is on, else transaction_id per goal.
 * Everflow: conversion_id, else transaction_id per event. Generic: the first alias present. A non-base event or goal
 * is appended ("tx-1:7"), so each event of one click is its own conversion.
 */
function dedupeKey(kind: PartnerKindName, params: RawParams, fields: FieldProblems, transactionId: string | undefined, eventId: string | null): string | undefined {
  const pick = (aliases: readonly string[]) => pickParam(params, aliases, fields);
  const checked = (name: string, value: string) => {
    const p = externalIdProblem(value);
    if (p) fields[name] = p;
    return p ? undefined : value;
  };
  const perEvent = (tx: string) => checked('transaction_id', eventId === null ? tx : `${tx}:${eventId}`);
  switch (kind) {
    case 'TUNE': {
      const unique = pick(['conversion_unique_id']);
      if (unique) return checked(unique.name, unique.value);
      if (transactionId) return perEvent(transactionId);
      fields.transaction_id ??= 'is required (or conversion_unique_id)';
      return undefined;
    }
    case 'EVERFLOW': {
      const conversion = pick(['conversion_id']);
      if (conversion) return checked(conversion.name, conversion.value);
      if (transactionId) return perEvent(transactionId);
      fields.conversion_id ??= 'is required (or transaction_id)';
      return undefined;
    }
    case 'GENERIC': {
      const key = pick(POSTBACK_ALIASES.conversion_id);
      if (!key) {
        fields.conversion_id ??= 'is required';
        return undefined;
      }
      return checked(key.name, key.value);
    }
  }
}

/**
 * The first alias with a non-empty value, trimmed. Every alias present is checked, used or not: a repeated or
 * overlong value under any name we interpret means the mapping is wrong, and guessing would store wrong money.
 */
function pickParam(params: RawParams, aliases: readonly string[], fields: FieldProblems): { name: string; value: string } | undefined {
  let chosen: { name: string; value: string } | undefined;
  for (const name of aliases) {
    if (!Object.hasOwn(params, name)) continue;
    const raw = params[name];
    if (Array.isArray(raw)) {
      fields[name] = `must be given once, got ${raw.length} values`;
      continue;
    }
    if (raw.length > MAX_VALUE_LENGTH) {
      fields[name] = `must be at most ${MAX_VALUE_LENGTH} characters`;
      continue;
    }
    // Checked before trimming: a CR/LF or NUL at either end is as wrong as one in the middle.
    const hidden = hiddenCharacterProblem(raw);
    if (hidden) {
      fields[name] = hidden;
      continue;
    }
    const value = raw.trim();
    if (value && !chosen) chosen = { name, value };
  }
  return chosen;
}

function problem(fields: FieldProblems, name: string, text: string | undefined): void {
  if (text) fields[name] = text;
}
