import { randomUUID } from 'node:crypto';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { Attribution, AttributionOutcome, AttributionType, UnattributedReason } from '@trackly/contracts/attribution/v1/attribution';

/** A creative's dimensions, as tracking's events carry them. */
export type Dims = { campaignId: string; creativeId: string; offerId: string };

/** A credited click-through decision as attribution publishes it (`more` overrides any field). */
export function decision(
  partnerId: string, conversionId: string, messageId: string, d: Dims, currencyCode: string, micros: number, status: ConversionStatus, occurredAt: string,
  more: Partial<Attribution> = {},
): Attribution {
  return {
    partnerId, conversionId, conversionRef: randomUUID(), ruleVersion: 'first-click/1',
    test: false, source: 0, payoutDefaulted: false, overCap: false, holdUntil: undefined,
    outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED, reason: UnattributedReason.UNATTRIBUTED_REASON_UNSPECIFIED,
    type: AttributionType.ATTRIBUTION_TYPE_CLICK_THROUGH, reportedClickId: `k-${messageId}`, creditedClickId: `k-${messageId}`,
    messageId, contactId: `c-${messageId}`, ...d, payout: { currencyCode, amountMicros: String(micros) }, status,
    occurredAt: new Date(occurredAt), creditedClickedAt: undefined, windowDays: 30, decidedAt: new Date(occurredAt), explanation: '', ...more,
  };
}
