/** Rows <-> contract messages. */
import type { Conversion } from '@trackly/contracts/ingest/v1/ingest';
import { attributionStateFromName, statusFromName } from './domain/conversion.rules';
import { ConversionEntity } from './conversions/conversion.entity';

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
