/** The one mapping from wire messages (ingest's Conversion) to what the rules take. */
import type { Conversion } from '@trackly/contracts/ingest/v1/ingest';
import type { ConversionToDecide } from '../domain/conversion-input.rules';
import { statusFromEnum } from '../decisions/attribution.mappers';

/** A stored conversion from ingest as the rules take it; `now` (the injected clock's) when it carries no time. */
export function conversionFromIngest(c: Conversion, now: Date): ConversionToDecide {
  return {
    partnerId: c.partnerId,
    conversionId: c.conversionId,
    conversionRef: c.id,
    clickId: c.clickId,
    messageId: c.messageId,
    payout: { currency: c.payout?.currencyCode ?? '', micros: BigInt(c.payout?.amountMicros ?? '0') },
    status: statusFromEnum(c.status) ?? 'APPROVED',
    occurredAt: c.occurredAt ?? c.receivedAt ?? now,
  };
}
