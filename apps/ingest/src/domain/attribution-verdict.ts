/** What ingest keeps of attribution's decision about one of its conversions. */
import { Attribution, AttributionOutcome } from '@trackly/contracts/attribution/v1/attribution';
import { unattributedReasonName } from './conversion.rules';

export interface AttributionVerdict {
  partnerId: string;
  conversionId: string;
  state: 'ATTRIBUTED' | 'UNATTRIBUTED';
  /** Reason code when unattributed, e.g. UNKNOWN_CLICK_ID. */
  reason: string | null;
  /** Message credited, when attributed. */
  creditedMessageId: string | null;
}

export function attributedVerdict(a: Attribution | undefined): AttributionVerdict {
  const attribution = required(a);
  return {
    partnerId: attribution.partnerId,
    conversionId: attribution.conversionId,
    state: 'ATTRIBUTED',
    reason: null,
    creditedMessageId: attribution.messageId || null,
  };
}

export function unattributedVerdict(a: Attribution | undefined): AttributionVerdict {
  const attribution = required(a);
  return {
    partnerId: attribution.partnerId,
    conversionId: attribution.conversionId,
    state: 'UNATTRIBUTED',
    reason: unattributedReasonName(attribution.reason),
    creditedMessageId: null,
  };
}

function required(a: Attribution | undefined): Attribution {
  // A decision without its subject is a publisher bug: fail so the event ends up in the dead letters.
  if (!a || !a.partnerId || !a.conversionId) throw new Error('attribution event without partner_id and conversion_id');
  return a;
}

/** The verdict a correction leaves standing (adjustment or re-attribution); undefined while it is pending again. */
export function correctedVerdict(current: Attribution | undefined): AttributionVerdict | undefined {
  const attribution = required(current);
  if (attribution.outcome === AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED) return attributedVerdict(attribution);
  if (attribution.outcome === AttributionOutcome.ATTRIBUTION_OUTCOME_UNATTRIBUTED) return unattributedVerdict(attribution);
  return undefined;
}
