/**
 * The partner registry's rules: what a partner's settings may be, which parameter carries our click id for each
 * platform, and the postback URL each platform's user pastes (PARTNERS.md templates).
 */
import { PartnerKind } from '@trackly/contracts/ingest/v1/ingest';
import type { UpsertPartnerRequest } from '@trackly/contracts/ingest/v1/ingest_service';
import { normaliseCurrency } from '@trackly/kernel';
import { collect, FieldProblems, partnerIdProblem, Validated } from './conversion.rules';
import { canonicalTimeZone } from '@trackly/kernel';
import { parseAllowList } from './source-addresses';

export type PartnerKindName = 'TUNE' | 'EVERFLOW' | 'GENERIC';

const KIND_NAMES: Partial<Record<PartnerKind, PartnerKindName>> = {
  [PartnerKind.PARTNER_KIND_TUNE]: 'TUNE',
  [PartnerKind.PARTNER_KIND_EVERFLOW]: 'EVERFLOW',
  [PartnerKind.PARTNER_KIND_GENERIC]: 'GENERIC',
};

export function partnerKindName(kind: PartnerKind): PartnerKindName | undefined {
  return KIND_NAMES[kind];
}

export function partnerKindFromName(name: string): PartnerKind {
  const found = Object.entries(KIND_NAMES).find(([, n]) => n === name);
  return found ? (Number(found[0]) as PartnerKind) : PartnerKind.PARTNER_KIND_UNSPECIFIED;
}

/** A partner's settings as the registry keeps them (the token lives apart, hashed). */
export interface PartnerSettings {
  partnerId: string;
  name: string;
  kind: PartnerKindName;
  /** Parameter (TUNE/Everflow: the platform macro) carrying our click id; null = the kind's default. */
  clickIdParam: string | null;
  defaultCurrency: string;
  /** Allow-list entries as given (trimmed); empty = any source. */
  allowedSources: string[];
  /** Canonical IANA zone of the partner's account; null = UTC. */
  timeZone: string | null;
}

/** Where each platform can put our click id (PARTNERS.md). */
const CLICK_ID_PARAMS: Record<PartnerKindName, RegExp> = {
  TUNE: /^(aff_click_id|aff_sub[2-5]?|aff_unique[1-5]|source)$/,
  EVERFLOW: /^sub([1-9]|10)$/,
  GENERIC: /^[A-Za-z][A-Za-z0-9_]{0,31}$/,
};

const CLICK_ID_HINT: Record<PartnerKindName, string> = {
  TUNE: 'aff_click_id, aff_sub..aff_sub5, aff_unique1..aff_unique5 or source',
  EVERFLOW: 'sub1..sub10',
  GENERIC: 'a parameter name (letters, digits, "_")',
};

/** Names a generic partner cannot use for the click id: they carry something else. */
const RESERVED_PARAMS = new Set(['token', 'conversion_id', 'transaction_id', 'payout', 'currency', 'status', 'occurred_at', 'event_id', 'goal_id', 'sale_amount']);

export const DEFAULT_CLICK_ID_PARAM: Record<PartnerKindName, string | null> = {
  TUNE: 'aff_click_id',
  EVERFLOW: 'sub1',
  GENERIC: null,
};

const MAX_NAME_LENGTH = 200;

/** Checks an UpsertPartner request; every problem at once. */
export function validatePartner(req: UpsertPartnerRequest, serviceDefaultCurrency: string): Validated<PartnerSettings> {
  const fields: FieldProblems = {};
  const partnerId = req.partnerId ?? '';
  const idProblem = partnerIdProblem(partnerId);
  if (idProblem) fields.partner_id = idProblem;

  const name = (req.name ?? '').trim() || partnerId;
  if (name.length > MAX_NAME_LENGTH) fields.name = `must be at most ${MAX_NAME_LENGTH} characters`;
  else if (/[\u0000-\u001f\u007f]/.test(name)) fields.name = 'must not contain control characters';

  const kind = partnerKindName(req.kind);
  if (!kind) fields.kind = 'must be PARTNER_KIND_TUNE, PARTNER_KIND_EVERFLOW or PARTNER_KIND_GENERIC';

  let clickIdParam: string | null = (req.clickIdParam ?? '').trim() || null;
  if (clickIdParam && kind) {
    if (!CLICK_ID_PARAMS[kind].test(clickIdParam)) fields.click_id_param = `must be ${CLICK_ID_HINT[kind]} for this kind, got "${clickIdParam.slice(0, 40)}"`;
    else if (RESERVED_PARAMS.has(clickIdParam)) fields.click_id_param = `"${clickIdParam}" carries another field`;
    // The default spelled out is the default: one stored form.
    else if (clickIdParam === DEFAULT_CLICK_ID_PARAM[kind]) clickIdParam = null;
  }

  let defaultCurrency = serviceDefaultCurrency;
  if (req.defaultCurrency?.trim()) {
    try {
      defaultCurrency = normaliseCurrency(req.defaultCurrency, 'default_currency');
    } catch (e) {
      collect(e, fields);
    }
  }

  const allowedSources = (req.allowedSources ?? []).map((s) => s.trim());
  const allow = parseAllowList(allowedSources);
  if (!allow.ok) Object.assign(fields, allow.fields);

  let timeZone: string | null = null;
  const zone = (req.timeZone ?? '').trim();
  if (zone) {
    const canonical = canonicalTimeZone(zone);
    if (!canonical) fields.time_zone = `must be an IANA time zone such as America/New_York or Europe/Berlin, got "${zone.slice(0, 40)}"`;
    else timeZone = canonical === 'UTC' ? null : canonical;
  }

  if (Object.keys(fields).length) return { ok: false, fields };
  return { ok: true, value: { partnerId, name, kind: kind!, clickIdParam, defaultCurrency, allowedSources, timeZone } };
}

/** The parameter carrying our click id for this partner (null: the generic aliases decide). */
export function effectiveClickIdParam(p: Pick<PartnerSettings, 'kind' | 'clickIdParam'>): string | null {
  return p.clickIdParam ?? DEFAULT_CLICK_ID_PARAM[p.kind];
}

/** Written into a template when the caller did not give the token; the user replaces it. */
export const TOKEN_PLACEHOLDER = 'REPLACE_WITH_YOUR_TOKEN';

/**
 * The postback URL for a partner, our parameter names on the left and the platform's macros on the right, exactly
 * as PARTNERS.md lists them. Braces stay literal: the platform substitutes them.
 */
export function postbackTemplate(
  p: Pick<PartnerSettings, 'partnerId' | 'kind' | 'clickIdParam'>,
  publicBaseUrl: string,
  token: string | null,
): { url: string; clickIdMacro: string } {
  const clickIdMacro = `{${effectiveClickIdParam(p) ?? 'click_id'}}`;
  const base = `${publicBaseUrl.replace(/\/+$/, '')}/postbacks/${encodeURIComponent(p.partnerId)}`;
  const params: [string, string][] = [['token', token === null ? TOKEN_PLACEHOLDER : encodeURIComponent(token)], ['click_id', clickIdMacro]];
  switch (p.kind) {
    case 'TUNE':
      params.push(
        ['transaction_id', '{transaction_id}'],
        ['payout', '{payout}'],
        ['currency', '{currency}'],
        ['offer_id', '{offer_id}'],
        ['goal_id', '{goal_id}'],
        ['datetime', '{datetime}'],
      );
      break;
    case 'EVERFLOW':
      params.push(
        ['transaction_id', '{transaction_id}'],
        ['conversion_id', '{conversion_id}'],
        ['event_id', '{event_id}'],
        ['payout', '{payout}'],
        ['currency', '{currency}'],
        ['sale_amount', '{sale_amount}'],
      );
      break;
    case 'GENERIC':
      params.push(
        ['conversion_id', '{conversion_id}'],
        ['payout', '{payout}'],
        ['currency', '{currency}'],
        ['status', '{status}'],
        ['occurred_at', '{occurred_at}'],
      );
      break;
  }
  return { url: `${base}?${params.map(([k, v]) => `${k}=${v}`).join('&')}`, clickIdMacro };
}
