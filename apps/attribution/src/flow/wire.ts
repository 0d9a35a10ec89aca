/**
 * The one mapping between attribution's inputs and stored rows and what the rules take: ingest's Conversion, a
 * parked row and a stored decision become a ConversionToDecide; money crosses the wire as integer micros in a
 * string and an ISO currency code. Callers pass the injected clock's `now`; nothing here reads the time.
 */
import type { Conversion } from '@trackly/contracts/ingest/v1/ingest';
import type { Money as WireMoney } from '@trackly/contracts/common/v1/money';
import { ConversionSource as SourceEnum } from '@trackly/contracts/attribution/v1/attribution';
import type { Money } from '@trackly/kernel';
import type { ConversionSource, ConversionToDecide } from '../domain/conversion-input.rules';
import type { ConversionStatus } from '../domain/first-click.rules';
import { statusFromEnum } from '../decisions/attribution.mappers';
import type { DecisionEntity } from '../decisions/decision.entity';
import type { ParkedConversionEntity } from '../decisions/parked.entity';

export function moneyToWire(m: Money): WireMoney {
  return { currencyCode: m.currency, amountMicros: m.micros.toString() };
}

/** Money from a trusted producer (ingest's events); the RPC validates its input in the domain instead. */
export function moneyFromWire(m: WireMoney | undefined): Money {
  return { currency: m?.currencyCode ?? '', micros: BigInt(m?.amountMicros || '0') };
}

export function sourceToEnum(s: string | null | undefined): SourceEnum {
  if (s === 'INGEST') return SourceEnum.CONVERSION_SOURCE_INGEST;
  if (s === 'DIRECT') return SourceEnum.CONVERSION_SOURCE_DIRECT;
  return SourceEnum.CONVERSION_SOURCE_UNSPECIFIED;
}

/** A stored conversion from ingest as the rules take it; `now` when it carries no time. */
export function conversionFromIngest(c: Conversion, now: Date): ConversionToDecide {
  return {
    partnerId: c.partnerId,
    conversionId: c.conversionId,
    conversionRef: c.id,
    clickId: c.clickId,
    // Our message id echoed back by the partner: view-through from postbacks.
    messageId: c.messageId,
    payout: moneyFromWire(c.payout),
    status: statusFromEnum(c.status) ?? 'APPROVED',
    occurredAt: c.occurredAt ?? c.receivedAt ?? now,
    test: c.test ?? false,
    source: 'INGEST',
    payoutAbsent: c.payoutAbsent ?? false,
  };
}

export function conversionFromParked(p: ParkedConversionEntity): ConversionToDecide {
  return {
    partnerId: p.partnerId,
    conversionId: p.conversionId,
    conversionRef: p.conversionRef,
    clickId: p.clickId,
    messageId: p.messageId,
    payout: { currency: p.currency, micros: p.payoutMicros },
    status: p.status as ConversionStatus,
    occurredAt: p.occurredAt,
    test: p.test,
    source: (p.source as ConversionSource | null) ?? 'INGEST',
    payoutAbsent: p.payoutAbsent,
  };
}

/** A decided conversion's own facts, to decide it again (re-attribution). */
export function conversionFromDecision(d: DecisionEntity): ConversionToDecide {
  return {
    partnerId: d.partnerId,
    conversionId: d.conversionId,
    conversionRef: d.conversionRef,
    clickId: d.reportedClickId,
    messageId: d.conversionMessageId,
    payout: { currency: d.currency, micros: d.payoutMicros },
    status: d.status as ConversionStatus,
    occurredAt: d.occurredAt,
    test: d.test,
    source: (d.source as ConversionSource | null) ?? 'INGEST',
    // A defaulted payout is taken again from the offer's current default.
    payoutAbsent: d.payoutDefaulted,
  };
}
