/**
 * The one mapping between attribution's inputs and stored rows and what the rules take: ingest's Conversion, a
 * parked row and a stored decision become a ConversionToDecide; money crosses the wire as integer micros in a
 * string and an ISO currency code. Callers pass the injected clock's `now`; nothing here reads the time.
 */
import type { Conversion } from '@trackly/contracts/ingest/v1/ingest';
import type { Money as WireMoney } from '@trackly/contracts/common/v1/money';
import {
  CapPeriod as CapPeriodEnum,
  ConversionSource as SourceEnum,
  OfferRules as WireOfferRules,
  OverCapAction as OverCapActionEnum,
} from '@trackly/contracts/attribution/v1/attribution';
import { assertId, InvalidArgumentError, Money } from '@trackly/kernel';
import { Cap, isTimeZone, OfferRules } from '../domain/caps.rules';
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

/** Offer rules from the wire, validated: field errors name every bad field. */
export function offerRulesFromWire(r: WireOfferRules | undefined): OfferRules {
  const problems: Record<string, string> = {};
  if (!r) throw InvalidArgumentError.of({ rules: 'is required' });
  try {
    assertId(r.offerId, 'rules.offer_id');
  } catch (e) {
    problems['rules.offer_id'] = (e as Error).message;
  }
  if (r.timeZone && !isTimeZone(r.timeZone)) problems['rules.time_zone'] = `"${r.timeZone}" is not an IANA time zone`;
  if (r.holdDays > 365) problems['rules.hold_days'] = 'must be at most 365';
  const caps: Cap[] = r.caps.map((c, i) => {
    const at = `rules.caps[${i}]`;
    const period = c.period === CapPeriodEnum.CAP_PERIOD_DAY ? 'DAY' : c.period === CapPeriodEnum.CAP_PERIOD_MONTH ? 'MONTH' : undefined;
    if (!period) problems[`${at}.period`] = 'must be CAP_PERIOD_DAY or CAP_PERIOD_MONTH';
    let maxPayout: Money | null = null;
    if (c.maxPayout) {
      if (!/^\d{1,19}$/.test(c.maxPayout.amountMicros) || !/^[A-Z]{3}$/.test(c.maxPayout.currencyCode.toUpperCase())) {
        problems[`${at}.max_payout`] = 'must be a non-negative amount in micros with an ISO currency';
      } else maxPayout = { currency: c.maxPayout.currencyCode.toUpperCase(), micros: BigInt(c.maxPayout.amountMicros) };
    }
    if (!c.maxConversions && !maxPayout) problems[at] = 'sets neither max_conversions nor max_payout';
    return { period: period ?? 'DAY', partnerId: c.partnerId, maxConversions: c.maxConversions, maxPayout };
  });
  if (Object.keys(problems).length) throw InvalidArgumentError.of(problems);
  return {
    offerId: r.offerId,
    timeZone: r.timeZone,
    caps,
    overCapAction: r.overCapAction === OverCapActionEnum.OVER_CAP_ACTION_HOLD ? 'HOLD' : 'REFUSE',
    holdDays: r.holdDays,
  };
}

export function offerRulesToWire(r: OfferRules, updatedAt: Date | undefined): WireOfferRules {
  return {
    offerId: r.offerId,
    timeZone: r.timeZone,
    caps: r.caps.map((c) => ({
      period: c.period === 'DAY' ? CapPeriodEnum.CAP_PERIOD_DAY : CapPeriodEnum.CAP_PERIOD_MONTH,
      partnerId: c.partnerId,
      maxConversions: c.maxConversions,
      maxPayout: c.maxPayout ? moneyToWire(c.maxPayout) : undefined,
    })),
    overCapAction: r.overCapAction === 'HOLD' ? OverCapActionEnum.OVER_CAP_ACTION_HOLD : OverCapActionEnum.OVER_CAP_ACTION_REFUSE,
    holdDays: r.holdDays,
    updatedAt,
  };
}
