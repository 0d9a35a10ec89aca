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
import type {
  AttributionCorrected,
  ConversionAttributed,
  ConversionUnattributed,
} from '@trackly/contracts/attribution/v1/attribution_events';
import type { ConversionAdjusted, ConversionReceived, ConversionsReceived } from '@trackly/contracts/ingest/v1/ingest_events';
import type { Conversion } from '@trackly/contracts/ingest/v1/ingest';
import { ClickClass, clickClassToJSON } from '@trackly/contracts/tracking/v1/tracking';
import {
  Attribution,
  AttributionOutcome,
  ConversionSource,
  conversionSourceToJSON,
  AttributionType,
  attributionTypeToJSON,
  UnattributedReason,
  unattributedReasonToJSON,
} from '@trackly/contracts/attribution/v1/attribution';
import { conversionStatusToJSON } from '@trackly/contracts/common/v1/conversion_status';

/** Rollup grain: 15 minutes, the largest step that every IANA offset (…, +05:30, +05:45, …) is a multiple of. */
export const BUCKET_MS = 15 * 60 * 1000;

/**
 * Every rollup row exists at four grains (minutes): 15 serves any zone's day edges, 60, 1440 (UTC days) and 10080
 * (weeks from the epoch's Thursday, the origin of the SQL date_bin too) let a 30-day report read about 3 weekly,
 * 9 daily and the edges' hourly rows per group instead of every quarter hour.
 */
export const GRAINS = [15, 60, 1440, 10080] as const;
export type Grain = (typeof GRAINS)[number];

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
  /** The reporting partner: conversions' rollups only (sends and taps have none). */
  partnerId?: string;
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
  /** HUMAN, PREVIEW, BOT or UNSPECIFIED (events from before classification). */
  clickClass: string;
  /** Send time of the clicked message, when the event carries it (the send-date cohort). */
  messageSentAt: Date | undefined;
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
  /** A test conversion: stored, never in a report, rollup, CSV or reconciliation unless one asks for tests. */
  test: boolean;
  /** INGEST, DIRECT, or '' (decisions made before the source was recorded: they came from ingest). */
  source: string;
  /** Credited and held pending because it is over a cap. */
  overCap: boolean;
  /** Pending until then under the offer's hold period; undefined when no hold applies. */
  holdUntil: Date | undefined;
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
  test: boolean;
  /** INGEST, DIRECT or ''. */
  source: string;
}

/** Start of the 15-minute UTC bucket holding the instant. */
export function rollupBucket(at: Date): Date {
  return new Date(Math.floor(at.getTime() / BUCKET_MS) * BUCKET_MS);
}

/** The instant's bucket at each grain, e.g. 10:37 -> 10:30 (15), 10:00 (60), 00:00 UTC (1440), last Thursday (10080). */
export function rollupBuckets(at: Date): { grains: Grain[]; buckets: Date[] } {
  const buckets = GRAINS.map((g) => new Date(Math.floor(at.getTime() / (g * 60_000)) * g * 60_000));
  return { grains: [...GRAINS], buckets };
}

/** What one credited conversion adds to (sign 1) or takes from (sign -1) a revenue rollup. */
export interface RevenueDelta {
  conversions: bigint;
  reversedConversions: bigint;
  approvedMicros: bigint;
  pendingMicros: bigint;
  reversedMicros: bigint;
}

export function revenueDelta(f: Pick<CreditedConversionFact, 'status' | 'payout'> & { test?: boolean }, sign: 1 | -1): RevenueDelta {
  // Test conversions never reach a rollup: a report adds them from the facts when it is asked for tests.
  const s = f.test ? 0n : BigInt(sign);
  const m = f.payout.micros * s;
  return {
    conversions: f.status === 'reversed' ? 0n : s,
    reversedConversions: f.status === 'reversed' ? s : 0n,
    approvedMicros: f.status === 'approved' ? m : 0n,
    pendingMicros: f.status === 'pending' ? m : 0n,
    reversedMicros: f.status === 'reversed' ? m : 0n,
  };
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
    clickClass: clickClassName(c.clickClass),
    messageSentAt: c.messageSentAt && !Number.isNaN(c.messageSentAt.getTime()) ? c.messageSentAt : undefined,
  };
}

function clickClassName(c: ClickClass): string {
  if (c === ClickClass.UNRECOGNIZED || !(c in ClickClass)) throw new InvalidArgumentError('click.click_class', `is unknown: ${c}`);
  return stripPrefix(clickClassToJSON(c), 'CLICK_CLASS_');
}

/**
 * A credited conversion, or, when the partner's status is "rejected" (which attribution should have refused to
 * credit), an unattributed one with reason REJECTED: rejected conversions are never revenue.
 */
export type AttributedFact =
  | { kind: 'credited'; fact: CreditedConversionFact }
  | { kind: 'unattributed'; fact: UnattributedConversionFact };

export function attributedFact(e: ConversionAttributed): AttributedFact {
  return decisionFact(required(e.attribution, 'attribution'));
}

/** A decision as the read models keep it: credited when attributed and not rejected, else unattributed. */
export function decisionFact(a: Attribution): AttributedFact {
  if (a.outcome === AttributionOutcome.ATTRIBUTION_OUTCOME_UNATTRIBUTED) return { kind: 'unattributed', fact: unattributedOf(a, a.reason) };
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
      test: a.test,
      source: sourceName(a.source),
      overCap: a.overCap,
      holdUntil: a.holdUntil && !Number.isNaN(a.holdUntil.getTime()) ? a.holdUntil : undefined,
    },
  };
}

/** INGEST, DIRECT, or '' when the decision predates the field (it came from ingest). */
export function sourceName(s: ConversionSource): string {
  if (s === ConversionSource.CONVERSION_SOURCE_UNSPECIFIED) return '';
  if (s === ConversionSource.UNRECOGNIZED || !(s in ConversionSource)) throw new InvalidArgumentError('attribution.source', `is unknown: ${s}`);
  return stripPrefix(conversionSourceToJSON(s), 'CONVERSION_SOURCE_');
}

/**
 * A conversion sent straight to attribution (AttributeConversion) never passed ingest: its decision is also the
 * received side of reconciliation, so the books show it received as well as credited.
 */
export function directReceivedFact(d: AttributedFact, decidedAt: Date | undefined): ReceivedConversionFact | undefined {
  if (d.fact.source !== 'DIRECT') return undefined;
  return {
    partnerId: d.fact.partnerId,
    conversionId: d.fact.conversionId,
    payout: d.fact.payout,
    status: d.fact.status,
    occurredAt: d.fact.occurredAt,
    receivedAt: decidedAt ?? d.fact.occurredAt,
    test: d.fact.test,
    source: 'DIRECT',
  };
}

/**
 * A correction replaces whatever the read models hold for the conversion with `current`. The stored state is what
 * is undone (it is `previous` when the stream is applied in order), so the rollups always equal the sum of the facts.
 */
export interface CorrectionFact {
  correctionId: string;
  cause: string;
  partnerId: string;
  conversionId: string;
  next: AttributedFact;
}

export function correctionFact(e: AttributionCorrected): CorrectionFact {
  const current = required(e.current, 'current');
  const next = decisionFact(current);
  if (e.previous && (e.previous.partnerId !== current.partnerId || e.previous.conversionId !== current.conversionId)) {
    throw new InvalidArgumentError('previous', 'names another conversion than current');
  }
  return {
    correctionId: requiredId(e.correctionId, 'correction_id'),
    cause: e.cause,
    partnerId: next.fact.partnerId,
    conversionId: next.fact.conversionId,
    next,
  };
}

/** A conversion as ingest stored it: the received side of reconciliation. */
export interface ReceivedConversionFact {
  partnerId: string;
  conversionId: string;
  payout: Money;
  /** ConversionStatus without its prefix, lower case. */
  status: string;
  occurredAt: Date;
  receivedAt: Date;
  test: boolean;
  /** INGEST (stored by ingest) or DIRECT (an AttributeConversion call, from its decision). */
  source: string;
}

export function receivedFact(e: ConversionReceived): ReceivedConversionFact {
  return receivedOf(required(e.conversion, 'conversion'));
}

/** The conversions of a run (ConversionsReceived), each read as a ConversionReceived's. */
export function receivedFacts(e: ConversionsReceived): ReceivedConversionFact[] {
  if (!e.conversions.length) throw new InvalidArgumentError('conversions', 'is empty');
  return e.conversions.map(receivedOf);
}

export function adjustedFact(e: ConversionAdjusted): { adjustmentId: string; fact: ReceivedConversionFact } {
  return { adjustmentId: requiredId(e.adjustmentId, 'adjustment_id'), fact: receivedOf(required(e.conversion, 'conversion')) };
}

function receivedOf(c: Conversion): ReceivedConversionFact {
  const p = required(c.payout, 'conversion.payout');
  const currency = normaliseCurrency(p.currencyCode, 'conversion.payout.currency_code');
  if (!/^-?\d{1,19}$/.test(p.amountMicros)) {
    throw new InvalidArgumentError('conversion.payout.amount_micros', `must be an integer, got "${p.amountMicros}"`);
  }
  const occurredAt = requiredTime(c.occurredAt, 'conversion.occurred_at');
  return {
    partnerId: requiredId(c.partnerId, 'conversion.partner_id'),
    conversionId: requiredId(c.conversionId, 'conversion.conversion_id'),
    payout: { currency, micros: BigInt(p.amountMicros) },
    status: stripPrefix(conversionStatusToJSON(c.status), 'CONVERSION_STATUS_').toLowerCase(),
    occurredAt,
    receivedAt: c.receivedAt ?? occurredAt,
    test: c.test ?? false,
    source: 'INGEST',
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
    test: a.test,
    source: sourceName(a.source),
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
