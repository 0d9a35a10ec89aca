/** Decision rows <-> contract messages and enums. */
import {
  Attribution,
  AttributionOutcome,
  AttributionType,
  UnattributedReason,
} from '@trackly/contracts/attribution/v1/attribution';
import { ConversionStatus as ConversionStatusEnum } from '@trackly/contracts/common/v1/conversion_status';
import { ConversionStatus, RULE_VERSION } from '../domain/first-click.rules';
import { DecisionEntity } from './decision.entity';
import { ParkedConversionEntity } from './parked.entity';
import { moneyToWire, sourceToEnum } from '../flow/wire';

const STATUS_FROM_ENUM: Partial<Record<ConversionStatusEnum, ConversionStatus>> = {
  [ConversionStatusEnum.CONVERSION_STATUS_UNSPECIFIED]: 'APPROVED',
  [ConversionStatusEnum.CONVERSION_STATUS_APPROVED]: 'APPROVED',
  [ConversionStatusEnum.CONVERSION_STATUS_PENDING]: 'PENDING',
  [ConversionStatusEnum.CONVERSION_STATUS_REJECTED]: 'REJECTED',
  [ConversionStatusEnum.CONVERSION_STATUS_REVERSED]: 'REVERSED',
};

export function statusFromEnum(s: ConversionStatusEnum): ConversionStatus | undefined {
  return STATUS_FROM_ENUM[s];
}

export function statusToEnum(s: string): ConversionStatusEnum {
  return ConversionStatusEnum[`CONVERSION_STATUS_${s}` as keyof typeof ConversionStatusEnum] ?? ConversionStatusEnum.CONVERSION_STATUS_UNSPECIFIED;
}

export function reasonToEnum(reason: string | null | undefined): UnattributedReason {
  return reason
    ? UnattributedReason[`UNATTRIBUTED_REASON_${reason}` as keyof typeof UnattributedReason] ?? UnattributedReason.UNATTRIBUTED_REASON_UNSPECIFIED
    : UnattributedReason.UNATTRIBUTED_REASON_UNSPECIFIED;
}

export function toAttribution(d: DecisionEntity): Attribution {
  return {
    partnerId: d.partnerId,
    conversionId: d.conversionId,
    conversionRef: d.conversionRef,
    outcome: d.outcome === 'ATTRIBUTED' ? AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED : AttributionOutcome.ATTRIBUTION_OUTCOME_UNATTRIBUTED,
    reason: reasonToEnum(d.reason),
    type: d.type ? AttributionType[`ATTRIBUTION_TYPE_${d.type}` as keyof typeof AttributionType] : AttributionType.ATTRIBUTION_TYPE_UNSPECIFIED,
    reportedClickId: d.reportedClickId,
    creditedClickId: d.creditedClickId ?? '',
    messageId: d.messageId ?? '',
    contactId: d.contactId ?? '',
    offerId: d.offerId ?? '',
    campaignId: d.campaignId ?? '',
    creativeId: d.creativeId ?? '',
    payout: moneyToWire({ currency: d.currency, micros: d.payoutMicros }),
    status: statusToEnum(d.status),
    occurredAt: d.occurredAt,
    creditedClickedAt: d.creditedClickedAt ?? undefined,
    windowDays: d.windowDays,
    decidedAt: d.decidedAt,
    explanation: d.explanation,
    ruleVersion: d.ruleVersion,
    test: d.test,
    source: sourceToEnum(d.source),
    payoutDefaulted: d.payoutDefaulted,
    overCap: d.overCap,
    holdUntil: d.holdUntil ?? undefined,
  };
}

/** A parked conversion as GetAttribution shows it: outcome PENDING, nothing credited yet. */
export function parkedToAttribution(p: ParkedConversionEntity): Attribution {
  return {
    partnerId: p.partnerId,
    conversionId: p.conversionId,
    conversionRef: p.conversionRef,
    outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_PENDING,
    reason: UnattributedReason.UNATTRIBUTED_REASON_UNSPECIFIED,
    type: AttributionType.ATTRIBUTION_TYPE_UNSPECIFIED,
    reportedClickId: p.clickId,
    creditedClickId: '',
    messageId: '',
    contactId: '',
    offerId: '',
    campaignId: '',
    creativeId: '',
    payout: moneyToWire({ currency: p.currency, micros: p.payoutMicros }),
    status: statusToEnum(p.status),
    occurredAt: p.occurredAt,
    creditedClickedAt: undefined,
    windowDays: 0,
    decidedAt: undefined,
    explanation:
      `Click id "${p.clickId}" is not known yet, neither here nor in tracking (its click event may still be on its way). ` +
      `Parked at ${p.parkedAt.toISOString()}; retried when the click arrives and with backoff (${p.attempts} attempt(s) so far) ` +
      `until ${p.horizonAt.toISOString()}, then settled as UNKNOWN_CLICK_ID.`,
    ruleVersion: RULE_VERSION,
    test: p.test,
    source: sourceToEnum(p.source),
    payoutDefaulted: false,
    overCap: false,
    holdUntil: undefined,
  };
}
