/** A contact's history: messages received, clicks and credited conversions, in time order, with totals. */
import { NotFoundError } from '@trackly/kernel';
import {
  GetContactJourneyResponse,
  JourneyEvent,
  JourneyEventKind,
} from '@trackly/contracts/reporting/v1/reporting_service';
import type { ClickFact, CreditedConversionFact, MessageFact } from './facts';
import { approvedRevenue } from './message-report';
import { compareCodeUnits, wireMoney } from './performance';

// At the same instant the causal order holds: a send comes before its click, a click before the conversion.
const RANK: Record<JourneyEventKind, number> = {
  [JourneyEventKind.JOURNEY_EVENT_KIND_MESSAGE_SENT]: 0,
  [JourneyEventKind.JOURNEY_EVENT_KIND_CLICK]: 1,
  [JourneyEventKind.JOURNEY_EVENT_KIND_CONVERSION]: 2,
  [JourneyEventKind.JOURNEY_EVENT_KIND_UNSPECIFIED]: 3,
  [JourneyEventKind.UNRECOGNIZED]: 3,
};

export function buildContactJourney(
  contactId: string,
  messages: readonly MessageFact[],
  clicks: readonly ClickFact[],
  conversions: readonly CreditedConversionFact[],
): GetContactJourneyResponse {
  if (!messages.length && !clicks.length && !conversions.length) throw new NotFoundError('contact', contactId);
  const events: (JourneyEvent & { tieBreak: string })[] = [
    ...messages.map((m) => ({
      kind: JourneyEventKind.JOURNEY_EVENT_KIND_MESSAGE_SENT,
      at: m.sentAt,
      messageId: m.messageId,
      clickId: '',
      offerId: m.offerId,
      payout: undefined,
      conversionId: '',
      tieBreak: m.messageId,
    })),
    ...clicks.map((c) => ({
      kind: JourneyEventKind.JOURNEY_EVENT_KIND_CLICK,
      at: c.clickedAt,
      messageId: c.messageId,
      clickId: c.clickId,
      offerId: c.offerId,
      payout: undefined,
      conversionId: '',
      tieBreak: c.clickId,
    })),
    ...conversions.map((c) => ({
      kind: JourneyEventKind.JOURNEY_EVENT_KIND_CONVERSION,
      at: c.occurredAt,
      messageId: c.messageId,
      clickId: c.clickId,
      offerId: c.offerId,
      payout: wireMoney(c.payout.currency, c.payout.micros),
      conversionId: c.conversionId,
      tieBreak: `${c.partnerId}\u0000${c.conversionId}`,
    })),
  ];
  events.sort(
    (a, b) => a.at!.getTime() - b.at!.getTime() || RANK[a.kind] - RANK[b.kind] || compareCodeUnits(a.tieBreak, b.tieBreak),
  );
  return {
    contactId,
    events: events.map(({ tieBreak: _t, ...e }) => e),
    messagesReceived: String(messages.length),
    clicks: String(clicks.length),
    conversions: String(conversions.length),
    totalRevenue: approvedRevenue(conversions),
  };
}
