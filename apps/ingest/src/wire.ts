/**
 * Wire <-> domain, in one place: contract messages (money as string micros + ISO code, Conversion, Partner) from
 * rows and drafts. Every other file maps through these, so a field added to Conversion is filled everywhere at once.
 */
import type { Money as WireMoney } from '@trackly/contracts/common/v1/money';
import { AttributionState, Conversion, Partner } from '@trackly/contracts/ingest/v1/ingest';
import type { Money } from '@trackly/kernel';
import { attributionStateFromName, ConversionDraft, statusFromName } from './domain/conversion.rules';
import { partnerKindFromName } from './domain/partner.rules';
import { ConversionEntity } from './conversions/conversion.entity';
import { PartnerEntity } from './partners/partner.entity';

export function moneyToWire(m: Money): WireMoney {
  return { currencyCode: m.currency, amountMicros: m.micros.toString() };
}

export function toConversion(e: ConversionEntity): Conversion {
  return {
    id: e.id,
    partnerId: e.partnerId,
    conversionId: e.conversionId,
    clickId: e.clickId ?? '',
    payout: moneyToWire({ currency: e.currency, micros: e.payoutMicros }),
    status: statusFromName(e.status),
    occurredAt: e.occurredAt,
    receivedAt: e.receivedAt,
    attributionState: attributionStateFromName(e.attributionState),
    attributionReason: e.attributionReason ?? '',
    creditedMessageId: e.creditedMessageId ?? '',
    messageId: e.messageId ?? '',
    payoutAbsent: e.payoutAbsent,
    test: e.test,
  };
}

/** The message of a row just inserted from a draft (attribution pending), exactly as toConversion would read it back. */
export function newConversion(id: string, d: ConversionDraft, receivedAt: Date): Conversion {
  return {
    id,
    partnerId: d.partnerId,
    conversionId: d.conversionId,
    clickId: d.clickId ?? '',
    payout: moneyToWire(d.payout),
    status: d.status,
    occurredAt: d.occurredAt,
    receivedAt,
    attributionState: AttributionState.ATTRIBUTION_STATE_PENDING,
    attributionReason: '',
    creditedMessageId: '',
    messageId: d.messageId ?? '',
    payoutAbsent: !!d.payoutAbsent,
    test: !!d.test,
  };
}

export function toPartner(e: PartnerEntity): Partner {
  return {
    partnerId: e.partnerId,
    name: e.name,
    kind: partnerKindFromName(e.kind),
    clickIdParam: e.clickIdParam ?? '',
    defaultCurrency: e.defaultCurrency,
    allowedSources: e.allowedSources,
    tokenIssuedAt: e.tokenIssuedAt,
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
    lastTestPostbackAt: e.lastTestAt ?? undefined,
    lastTestPostbackOutcome: e.lastTestOutcome ?? '',
    timeZone: e.timeZone ?? '',
  };
}
