/**
 * The generic postback: parameter names trackers commonly use (PARTNERS.md, "Generic postback") mapped onto one
 * normalised conversion, or a problem per parameter. Pure: the time of receipt and the default currency come in.
 */
import { Money, parseDecimalMicros } from '@trackly/kernel';
import {
  collect,
  ConversionDraft,
  externalIdProblem,
  FieldProblems,
  MAX_VALUE_LENGTH,
  occurredAtOrProblem,
  parseTimestamp,
  RawParams,
  statusFromWord,
  truncate,
  Validated,
} from './conversion.rules';
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
} as const;

export type PostbackField = keyof typeof POSTBACK_ALIASES;

export interface PostbackContext {
  /** When the request arrived: the conversion's time when the partner sends none, and "now" for the future check. */
  receivedAt: Date;
  /** Currency of a payout sent without one (the partner's account currency). */
  defaultCurrency: string;
}

/** The conversion a postback describes, without the partner (which comes from the URL path). */
export type ParsedPostback = Omit<ConversionDraft, 'partnerId'>;

export function parsePostback(params: RawParams, ctx: PostbackContext): Validated<ParsedPostback> {
  const fields: FieldProblems = {};
  const pick = (field: PostbackField) => pickParam(params, field, fields);

  const conversionId = pick('conversion_id');
  if (!conversionId) fields.conversion_id ??= 'is required';
  else problem(fields, conversionId.name, externalIdProblem(conversionId.value));

  const clickId = pick('click_id');
  if (clickId) problem(fields, clickId.name, externalIdProblem(clickId.value));

  const currencyParam = pick('currency');
  let currency: string | undefined = ctx.defaultCurrency;
  if (currencyParam) {
    currency = currencyParam.value.toUpperCase();
    if (!/^[A-Z]{3}$/.test(currency)) {
      fields[currencyParam.name] = `must be a 3-letter ISO 4217 code, got "${truncate(currencyParam.value)}"`;
      currency = undefined;
    }
  }

  let payout: Money | undefined;
  const payoutParam = pick('payout');
  if (!payoutParam) fields.payout ??= 'is required';
  else {
    try {
      const micros = parseDecimalMicros(payoutParam.value, { field: payoutParam.name });
      if (currency) payout = { currency, micros };
    } catch (e) {
      collect(e, fields);
    }
  }

  let status: ConversionDraft['status'] | undefined = statusFromWord('approved');
  const statusParam = pick('status');
  if (statusParam) {
    status = statusFromWord(statusParam.value);
    if (status === undefined) {
      fields[statusParam.name] =
        `must be approved, pending, rejected or reversed (or approve/1/sale, hold/wait/2, declined/reject/cancel/trash/3, refund/chargeback), got "${truncate(statusParam.value)}"`;
    }
  }

  let occurredAt: Date | undefined = ctx.receivedAt;
  const occurredParam = pick('occurred_at');
  if (occurredParam) {
    const parsed = parseTimestamp(occurredParam.value);
    const checked = typeof parsed === 'string' ? parsed : occurredAtOrProblem(parsed, ctx.receivedAt);
    if (typeof checked === 'string') {
      fields[occurredParam.name] = checked;
      occurredAt = undefined;
    } else occurredAt = checked;
  }

  if (Object.keys(fields).length) return { ok: false, fields };
  return {
    ok: true,
    value: {
      conversionId: conversionId!.value,
      clickId: clickId?.value ?? null,
      payout: payout!,
      status: status!,
      occurredAt: occurredAt!,
      raw: storableParams(params),
    },
  };
}

/**
 * The first alias with a non-empty value, trimmed. Every alias present is checked, used or not: a repeated or
 * overlong value under any name we interpret means the mapping is wrong, and guessing would store wrong money.
 */
function pickParam(params: RawParams, field: PostbackField, fields: FieldProblems): { name: string; value: string } | undefined {
  let chosen: { name: string; value: string } | undefined;
  for (const name of POSTBACK_ALIASES[field]) {
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
    const value = raw.trim();
    if (value && !chosen) chosen = { name, value };
  }
  return chosen;
}

function problem(fields: FieldProblems, name: string, text: string | undefined): void {
  if (text) fields[name] = text;
}
