/** One message as the dashboard shows it: was it clicked, did it convert, what revenue. */
import { NotFoundError, sumByCurrency } from '@trackly/kernel';
import type { CreditedConversion, GetMessageReportResponse } from '@trackly/contracts/reporting/v1/reporting_service';
import type { ClickFact, CreditedConversionFact, MessageFact } from './facts';
import { compareCodeUnits, wireMoney } from './performance';
import { engagementOf } from './engagement';

/**
 * Builds the report from what is known. A click can arrive before its MessageSent (different order across
 * streams): the message is then known by its clicks alone, which carry the same ids, and has no send time yet.
 */
export function buildMessageReport(
  messageId: string,
  message: MessageFact | undefined,
  clicks: readonly ClickFact[],
  conversions: readonly CreditedConversionFact[],
): GetMessageReportResponse {
  const ordered = [...clicks].sort((a, b) => a.clickedAt.getTime() - b.clickedAt.getTime() || compareCodeUnits(a.clickId, b.clickId));
  // The engagement: the same tap every report counts (the clicks here are taps already).
  const firstClick = engagementOf(ordered);
  const known = message ?? firstClick;
  if (!known) throw new NotFoundError('message', messageId);
  return {
    messageId,
    contactId: known.contactId,
    phoneMasked: message?.phoneMasked ?? '',
    campaignId: known.campaignId,
    creativeId: known.creativeId,
    offerId: known.offerId,
    sentAt: message?.sentAt,
    clicked: clicks.length > 0,
    firstClickedAt: firstClick?.clickedAt,
    clickCount: String(clicks.length),
    conversions: [...conversions].sort(byOccurrence).map(toCreditedConversion),
    revenue: approvedRevenue(conversions),
    clickTimes: ordered.map((c) => c.clickedAt),
  };
}

export function toCreditedConversion(c: CreditedConversionFact): CreditedConversion {
  return {
    partnerId: c.partnerId,
    conversionId: c.conversionId,
    clickId: c.clickId,
    payout: wireMoney(c.payout.currency, c.payout.micros),
    occurredAt: c.occurredAt,
    status: c.status,
    messageId: c.messageId,
    offerId: c.offerId,
  };
}

/** Approved payouts summed per currency; pending and reversed ones are not revenue. */
export function approvedRevenue(conversions: readonly CreditedConversionFact[]) {
  return sumByCurrency(conversions.filter((c) => c.status === 'approved').map((c) => c.payout)).map((m) => wireMoney(m.currency, m.micros));
}

export function byOccurrence(a: CreditedConversionFact, b: CreditedConversionFact): number {
  return (
    a.occurredAt.getTime() - b.occurredAt.getTime() ||
    compareCodeUnits(a.partnerId, b.partnerId) ||
    compareCodeUnits(a.conversionId, b.conversionId)
  );
}
