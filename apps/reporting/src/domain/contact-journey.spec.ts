import { DomainError } from '@trackly/kernel';
import { JourneyEventKind } from '@trackly/contracts/reporting/v1/reporting_service';
import { buildContactJourney } from './contact-journey';
import type { ClickFact, CreditedConversionFact, MessageFact } from './facts';

const dims = { campaignId: 'camp-1', creativeId: 'cr-1', offerId: 'off-1' };
const sent = (messageId: string, at: string): MessageFact => ({ ...dims, messageId, contactId: 'c1', phoneMasked: '+1***1234', sentAt: new Date(at) });
const clicked = (clickId: string, messageId: string, at: string): ClickFact => ({
  ...dims, clickId, messageId, contactId: 'c1', clickedAt: new Date(at), firstClickOnMessage: true, clickClass: 'HUMAN', messageSentAt: undefined,
});
const converted = (conversionId: string, at: string, micros: bigint, status: CreditedConversionFact['status'], currency = 'USD'): CreditedConversionFact => ({
  ...dims, partnerId: 'p1', conversionId, messageId: 'm1', clickId: 'k1', contactId: 'c1', payout: { currency, micros }, status, occurredAt: new Date(at), type: 'DIRECT', test: false, source: '', overCap: false, holdUntil: undefined,
});

describe('buildContactJourney', () => {
  it('is NOT_FOUND when nothing is known about the contact', () => {
    expect(() => buildContactJourney('c1', [], [], [])).toThrow(DomainError);
  });

  it('orders by time, then send before click before conversion at the same instant', () => {
    const same = '2026-03-10T12:00:00Z';
    const j = buildContactJourney(
      'c1',
      [sent('m2', '2026-03-11T09:00:00Z'), sent('m1', same)],
      [clicked('k1', 'm1', same), clicked('k0', 'm1', '2026-03-10T11:59:59Z')],
      [converted('B', '2026-03-10T13:00:00Z', 10_000_000n, 'pending'), converted('A', same, 24_990_000n, 'approved')],
    );
    expect(j.events.map((e) => [e.kind, e.at!.toISOString(), e.messageId, e.clickId, e.conversionId])).toEqual([
      [JourneyEventKind.JOURNEY_EVENT_KIND_CLICK, '2026-03-10T11:59:59.000Z', 'm1', 'k0', ''],
      [JourneyEventKind.JOURNEY_EVENT_KIND_MESSAGE_SENT, same.replace('Z', '.000Z'), 'm1', '', ''],
      [JourneyEventKind.JOURNEY_EVENT_KIND_CLICK, same.replace('Z', '.000Z'), 'm1', 'k1', ''],
      [JourneyEventKind.JOURNEY_EVENT_KIND_CONVERSION, same.replace('Z', '.000Z'), 'm1', 'k1', 'A'],
      [JourneyEventKind.JOURNEY_EVENT_KIND_CONVERSION, '2026-03-10T13:00:00.000Z', 'm1', 'k1', 'B'],
      [JourneyEventKind.JOURNEY_EVENT_KIND_MESSAGE_SENT, '2026-03-11T09:00:00.000Z', 'm2', '', ''],
    ]);
    expect(j.events[3]).toEqual({
      kind: JourneyEventKind.JOURNEY_EVENT_KIND_CONVERSION, at: new Date(same), messageId: 'm1', clickId: 'k1', offerId: 'off-1',
      payout: { currencyCode: 'USD', amountMicros: '24990000' }, conversionId: 'A',
    });
    expect(j.events[1].payout).toBeUndefined();
  });

  it('counts each kind and totals approved revenue per currency', () => {
    const j = buildContactJourney(
      'c1',
      [sent('m1', '2026-03-10T12:00:00Z')],
      [],
      [
        converted('A', '2026-03-10T13:00:00Z', 24_990_000n, 'approved'),
        converted('B', '2026-03-10T14:00:00Z', 10_000_000n, 'pending'),
        converted('C', '2026-03-10T15:00:00Z', 5_000_000n, 'reversed'),
        converted('D', '2026-03-10T16:00:00Z', 30_000_000n, 'approved', 'EUR'),
        converted('E', '2026-03-10T17:00:00Z', 12_000_000n, 'approved'),
      ],
    );
    expect(j).toMatchObject({ contactId: 'c1', messagesReceived: '1', clicks: '0', conversions: '5' });
    expect(j.totalRevenue).toEqual([
      { currencyCode: 'EUR', amountMicros: '30000000' },
      { currencyCode: 'USD', amountMicros: '36990000' },
    ]);
  });
});
