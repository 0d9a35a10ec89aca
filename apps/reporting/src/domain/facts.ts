/**
 * What the read models keep of each event, and the rules for turning an event into it. Events come from other
 * services: a malformed one is a producer bug, so it fails here (and ends in the dead letters) instead of being
 * counted wrongly.
 */
import { InvalidArgumentError, Money, normaliseCurrency } from '@trackly/kernel';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import type {
  CampaignUpserted,
  ClickRecorded,
  CreativeUpserted,
  MessageSent,
  OfferUpserted,
} from '@trackly/contracts/tracking/v1/tracking_events';
import type { ConversionAttributed, ConversionUnattributed } from '@trackly/contracts/attribution/v1/attribution_events';
import {
  Attribution,
  AttributionType,
  attributionTypeToJSON,
  UnattributedReason,
  unattributedReasonToJSON,
} from '@trackly/contracts/attribution/v1/attribution';
import { conversionStatusToJSON } from '@trackly/contracts/common/v1/conversion_status';

/** Rollup grain: 15 minutes, the largest step that every IANA offset (…, +05:30, +05:45, …) is a multiple of. */
export const BUCKET_MS = 15 * 60 * 1000;

export type NameKind = 'offer' | 'creative' | 'campaign';

export interface NameFact {
  kind: NameKind;
  id: string;
  name: string;
  updatedAt: Date;
}

export interface Dimensions {
  campaignId: string;
  creativeId: string;
  offerId: string;
}

export interface MessageFact extends Dimensions {
  messageId: string;
  contactId: string;
  phoneMasked: string;
  sentAt: Date;
}

export interface ClickFact extends Dimensions {
  clickId: string;
  messageId: string;
  contactId: string;
  clickedAt: Date;
  firstClickOnMessage: boolean;
}

/** Status of a credited conversion; a rejected one is never credited. */
export type CreditStatus = 'approved' | 'pending' | 'reversed';

export interface CreditedConversionFact extends Dimensions {
  partnerId: string;
  conversionId: string;
  messageId: string;
  clickId: string;
  contactId: string;
  payout: Money;
  status: CreditStatus;
  occurredAt: Date;
  /** DIRECT, CLICK_THROUGH or VIEW_THROUGH. */
  type: string;
}

export interface UnattributedConversionFact {
  partnerId: string;
  conversionId: string;
  /** UnattributedReason without its prefix, e.g. UNKNOWN_CLICK_ID. */
  reason: string;
  reportedClickId: string;
  payout: Money;
  /** ConversionStatus without its prefix, lower case, e.g. approved. */
  status: string;
  occurredAt: Date;
}

/** Start of the 15-minute UTC bucket holding the instant. */
export function rollupBucket(at: Date): Date {
  return new Date(Math.floor(at.getTime() / BUCKET_MS) * BUCKET_MS);
}

export function offerName(e: OfferUpserted): NameFact {
  const o = required(e.offer, 'offer');
  return nameFact('offer', o.offerId, o.name, o.updatedAt);
}

export function creativeName(e: CreativeUpserted): NameFact {
  const c = required(e.creative, 'creative');
  return nameFact('creative', c.creativeId, c.name, c.updatedAt);
}

export function campaignName(e: CampaignUpserted): NameFact {
  const c = required(e.campaign, 'campaign');
  return nameFact('campaign', c.campaignId, c.name, c.updatedAt);
}

function nameFact(kind: NameKind, id: string, name: string, updatedAt: Date | undefined): NameFact {
  // Without a time the name can only fill a gap: the epoch loses to any dated version.
  return { kind, id: requiredId(id, `${kind}_id`), name, updatedAt: updatedAt ?? new Date(0) };
}

export function messageFact(e: MessageSent): MessageFact {
  return {
    messageId: requiredId(e.messageId, 'message_id'),
    contactId: e.contactId,
    phoneMasked: e.phoneMasked,
    campaignId: e.campaignId,
    creativeId: e.creativeId,
    offerId: e.offerId,
    sentAt: requiredTime(e.sentAt, 'sent_at'),
  };
}

export function clickFact(e: ClickRecorded): ClickFact {
  const c = required(e.click, 'click');
  return {
    clickId: requiredId(c.clickId, 'click.click_id'),
    messageId: c.messageId,
    contactId: c.contactId,
    campaignId: c.campaignId,
    creativeId: c.creativeId,
    offerId: c.offerId,
    clickedAt: requiredTime(c.clickedAt, 'click.clicked_at'),
    firstClickOnMessage: c.firstClickOnMessage,
  };
}

/**
 * A credited conversion, or, when the partner's status is "rejected" (which attribution should have refused to
 * credit), an unattributed one with reason REJECTED: rejected conversions are never revenue.
 */
export type AttributedFact =
  | { kind: 'credited'; fact: CreditedConversionFact }
  | { kind: 'unattributed'; fact: UnattributedConversionFact };

export function attributedFact(e: ConversionAttributed): AttributedFact {
  const a = required(e.attribution, 'attribution');
  if (a.status === ConversionStatus.CONVERSION_STATUS_REJECTED) {
    return { kind: 'unattributed', fact: unattributedOf(a, UnattributedReason.UNATTRIBUTED_REASON_REJECTED) };
  }
  return {
    kind: 'credited',
    fact: {
      partnerId: requiredId(a.partnerId, 'attribution.partner_id'),
      conversionId: requiredId(a.conversionId, 'attribution.conversion_id'),
      messageId: a.messageId,
      clickId: a.creditedClickId,
      contactId: a.contactId,
      campaignId: a.campaignId,
      creativeId: a.creativeId,
      offerId: a.offerId,
      payout: payoutOf(a),
      status: creditStatus(a.status),
      occurredAt: requiredTime(a.occurredAt, 'attribution.occurred_at'),
      type: a.type === AttributionType.ATTRIBUTION_TYPE_UNSPECIFIED ? '' : stripPrefix(attributionTypeToJSON(a.type), 'ATTRIBUTION_TYPE_'),
    },
  };
}

export function unattributedFact(e: ConversionUnattributed): UnattributedConversionFact {
  const a = required(e.attribution, 'attribution');
  return unattributedOf(a, a.reason);
}

function unattributedOf(a: Attribution, reason: UnattributedReason): UnattributedConversionFact {
  return {
    partnerId: requiredId(a.partnerId, 'attribution.partner_id'),
    conversionId: requiredId(a.conversionId, 'attribution.conversion_id'),
    reason: stripPrefix(unattributedReasonToJSON(reason), 'UNATTRIBUTED_REASON_'),
    reportedClickId: a.reportedClickId,
    payout: payoutOf(a),
    status: stripPrefix(conversionStatusToJSON(a.status), 'CONVERSION_STATUS_').toLowerCase(),
    occurredAt: requiredTime(a.occurredAt, 'attribution.occurred_at'),
  };
}

/** Approved, pending or reversed; unspecified means approved, as in attribution's contract. */
export function creditStatus(status: ConversionStatus): CreditStatus {
  switch (status) {
    case ConversionStatus.CONVERSION_STATUS_UNSPECIFIED:
    case ConversionStatus.CONVERSION_STATUS_APPROVED:
      return 'approved';
    case ConversionStatus.CONVERSION_STATUS_PENDING:
      return 'pending';
    case ConversionStatus.CONVERSION_STATUS_REVERSED:
      return 'reversed';
    default:
      throw new InvalidArgumentError('attribution.status', `cannot be credited: ${status}`);
  }
}

function payoutOf(a: Attribution): Money {
  const p = required(a.payout, 'attribution.payout');
  const currency = normaliseCurrency(p.currencyCode, 'attribution.payout.currency_code');
  if (!/^-?\d{1,19}$/.test(p.amountMicros)) {
    throw new InvalidArgumentError('attribution.payout.amount_micros', `must be an integer, got "${p.amountMicros}"`);
  }
  return { currency, micros: BigInt(p.amountMicros) };
}

function stripPrefix(name: string, prefix: string): string {
  return name.startsWith(prefix) ? name.slice(prefix.length) : name;
}

function required<T>(value: T | undefined, field: string): T {
  if (value === undefined || value === null) throw new InvalidArgumentError(field, 'is missing from the event');
  return value;
}

function requiredId(value: string, field: string): string {
  if (!value) throw new InvalidArgumentError(field, 'is missing from the event');
  return value;
}

function requiredTime(value: Date | undefined, field: string): Date {
  if (!value || Number.isNaN(value.getTime())) throw new InvalidArgumentError(field, 'is missing from the event');
  return value;
}
