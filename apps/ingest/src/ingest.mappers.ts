/** Rows <-> contract messages. */
import type { Conversion, Partner } from '@trackly/contracts/ingest/v1/ingest';
import { attributionStateFromName, statusFromName } from './domain/conversion.rules';
import { partnerKindFromName } from './domain/partner.rules';
import { ConversionEntity } from './conversions/conversion.entity';
import { PartnerEntity } from './partners/partner.entity';

export function toConversion(e: ConversionEntity): Conversion {
  return {
    id: e.id,
    partnerId: e.partnerId,
    conversionId: e.conversionId,
    clickId: e.clickId ?? '',
    payout: { currencyCode: e.currency, amountMicros: e.payoutMicros.toString() },
    status: statusFromName(e.status),
    occurredAt: e.occurredAt,
    receivedAt: e.receivedAt,
    attributionState: attributionStateFromName(e.attributionState),
    attributionReason: e.attributionReason ?? '',
    creditedMessageId: e.creditedMessageId ?? '',
    messageId: '',
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
  };
}
