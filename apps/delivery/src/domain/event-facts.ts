import type { Attribution } from '@trackly/contracts/attribution/v1/attribution';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import type { AttributionCorrected } from '@trackly/contracts/attribution/v1/attribution_events';
import type { Click } from '@trackly/contracts/tracking/v1/tracking';
import type { EventScope, EventTypeName } from './endpoint.rules';
import { MacroValues, microsToDecimal } from './postback-template.rules';

/**
 * An event as delivered: its scope (for filters), the macro values of postback templates and the JSON of a
 * webhook body. Built once per event; the body is stored so every retry sends the same bytes.
 */
export interface EventFacts extends EventScope {
  /** Stable key of the source event (its NATS message id). */
  eventKey: string;
  occurredAt: Date;
  macros: MacroValues;
  /** Webhook body: `{ type, timestamp, data }` as the Standard Webhooks spec suggests. */
  body: string;
}

const STATUS: Record<number, string> = {
  [ConversionStatus.CONVERSION_STATUS_APPROVED]: 'approved',
  [ConversionStatus.CONVERSION_STATUS_PENDING]: 'pending',
  [ConversionStatus.CONVERSION_STATUS_REJECTED]: 'rejected',
  [ConversionStatus.CONVERSION_STATUS_REVERSED]: 'reversed',
};
export const statusName = (s: ConversionStatus) => STATUS[s] ?? 'unknown';

function body(type: EventTypeName, at: Date, data: Record<string, unknown>): string {
  return JSON.stringify({ type, timestamp: at.toISOString(), data });
}

function baseMacros(type: EventTypeName, eventKey: string, at: Date): MacroValues {
  return { event_type: type, event_id: eventKey, occurred_at: at.toISOString(), timestamp: String(Math.floor(at.getTime() / 1000)) };
}

/** The ids an event is about, named as webhook bodies and template macros name them (in the bodies' order). */
function refs(x: { messageId: string; contactId: string; offerId: string; campaignId: string; creativeId: string }) {
  return { message_id: x.messageId, contact_id: x.contactId, offer_id: x.offerId, campaign_id: x.campaignId, creative_id: x.creativeId };
}

/** Money in a webhook body: the decimal amount, the exact micros and the currency. */
function moneyJson(m: { amountMicros: string; currencyCode: string }) {
  return { amount: microsToDecimal(m.amountMicros), amount_micros: m.amountMicros, currency: m.currencyCode };
}

/** A decision (credited or not). */
export function decisionFacts(type: 'conversion.attributed' | 'conversion.unattributed', eventKey: string, a: Attribution, decidedFallback: Date): EventFacts {
  const at = a.decidedAt ?? decidedFallback;
  const payout = a.payout ?? { currencyCode: '', amountMicros: '0' };
  const data = {
    partner_id: a.partnerId,
    conversion_id: a.conversionId,
    conversion_ref: a.conversionRef,
    click_id: a.creditedClickId || a.reportedClickId,
    reported_click_id: a.reportedClickId,
    ...refs(a),
    payout: moneyJson(payout),
    status: statusName(a.status),
    occurred_at: a.occurredAt?.toISOString() ?? null,
    decided_at: at.toISOString(),
    explanation: a.explanation,
    test: a.test,
  };
  return {
    type,
    eventKey,
    occurredAt: at,
    campaignId: a.campaignId || undefined,
    offerId: a.offerId || undefined,
    partnerId: a.partnerId || undefined,
    macros: {
      ...baseMacros(type, eventKey, at),
      ...refs(a),
      click_id: data.click_id,
      conversion_id: a.conversionId,
      conversion_ref: a.conversionRef,
      partner_id: a.partnerId,
      payout: data.payout.amount,
      payout_micros: payout.amountMicros,
      currency: payout.currencyCode,
      status: data.status,
    },
    body: body(type, at, data),
  };
}

/**
 * An adjustment as attribution applied it (AttributionCorrected with cause "adjustment", published after ingest's
 * ConversionAdjusted reached the decision): a reversal when the new status is REVERSED, else an adjustment. Taken
 * from attribution's stream rather than ingest's because it follows the decision there in stream order and carries
 * the credited campaign and offer, so filters apply to it exactly as to the decision. Re-attribution corrections
 * are not delivered (undefined).
 */
export function correctionFacts(eventKey: string, e: AttributionCorrected, fallbackAt: Date): EventFacts | undefined {
  const a = e.current;
  if (!a || e.cause !== 'adjustment') return undefined;
  const type: EventTypeName = a.status === ConversionStatus.CONVERSION_STATUS_REVERSED ? 'conversion.reversed' : 'conversion.adjusted';
  const base = decisionFacts('conversion.attributed', eventKey, a, fallbackAt);
  const prev = e.previous;
  const prevPayout = prev?.payout;
  const data = {
    ...(JSON.parse(base.body) as { data: Record<string, unknown> }).data,
    correction_id: e.correctionId,
    previous_status: prev ? statusName(prev.status) : null,
    previous_payout: prevPayout ? moneyJson(prevPayout) : null,
  };
  return { ...base, type, macros: { ...base.macros, event_type: type }, body: body(type, base.occurredAt, data) };
}

/** A recorded click (opt-in). */
export function clickFacts(eventKey: string, c: Click, fallbackAt: Date): EventFacts {
  const type: EventTypeName = 'click.recorded';
  const at = c.clickedAt ?? fallbackAt;
  const data = {
    click_id: c.clickId,
    ...refs(c),
    clicked_at: at.toISOString(),
    first_click_on_message: c.firstClickOnMessage,
  };
  return {
    type,
    eventKey,
    occurredAt: at,
    campaignId: c.campaignId || undefined,
    offerId: c.offerId || undefined,
    macros: {
      ...baseMacros(type, eventKey, at),
      ...refs(c),
      click_id: c.clickId,
    },
    body: body(type, at, data),
  };
}
