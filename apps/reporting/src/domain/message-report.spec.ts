import { DomainError } from '@trackly/kernel';
import type { ClickFact, CreditedConversionFact, MessageFact } from './facts';
import { buildMessageReport } from './message-report';

const message: MessageFact = {
  messageId: 'm1', contactId: 'c1', phoneMasked: '+1***1234', campaignId: 'camp-1', creativeId: 'cr-1', offerId: 'off-1',
  sentAt: new Date('2026-03-10T12:00:00Z'),
};

function click(clickId: string, at: string, first = false): ClickFact {
  return { clickId, messageId: 'm1', contactId: 'c1', campaignId: 'camp-1', creativeId: 'cr-1', offerId: 'off-1', clickedAt: new Date(at), firstClickOnMessage: first, clickClass: 'HUMAN', messageSentAt: undefined };
}

function conversion(conversionId: string, at: string, currency: string, micros: bigint, status: CreditedConversionFact['status']): CreditedConversionFact {
  return {
    partnerId: 'p1', conversionId, messageId: 'm1', clickId: 'k1', contactId: 'c1', campaignId: 'camp-1', creativeId: 'cr-1', offerId: 'off-1',
    payout: { currency, micros }, status, occurredAt: new Date(at), type: 'CLICK_THROUGH', test: false, source: '', overCap: false, holdUntil: undefined,
  };
}

describe('buildMessageReport', () => {
  it('is NOT_FOUND when neither the send nor any click is known', () => {
    expect(() => buildMessageReport('m1', undefined, [], [])).toThrow(DomainError);
    expect(() => buildMessageReport('m1', undefined, [], [])).toThrow(/message "m1" not found/);
  });

  it('answers clicks, first click, conversions in time order and approved revenue per currency', () => {
    const report = buildMessageReport(
      'm1',
      message,
      [click('k2', '2026-03-10T12:20:00Z'), click('k1', '2026-03-10T12:10:00Z', true)],
      [
        conversion('A', '2026-03-11T02:00:00Z', 'USD', 24_990_000n, 'approved'),
        conversion('B', '2026-03-10T13:00:00Z', 'USD', 10_000_000n, 'pending'),
        conversion('E', '2026-03-10T14:00:00Z', 'USD', 5_000_000n, 'reversed'),
        conversion('G', '2026-03-12T00:00:00Z', 'EUR', 1_000_000n, 'approved'),
        conversion('H', '2026-03-12T01:00:00Z', 'USD', 1n, 'approved'),
      ],
    );
    expect(report).toMatchObject({
      messageId: 'm1', contactId: 'c1', phoneMasked: '+1***1234', campaignId: 'camp-1', creativeId: 'cr-1', offerId: 'off-1',
      sentAt: message.sentAt, clicked: true, firstClickedAt: new Date('2026-03-10T12:10:00Z'), clickCount: '2',
      clickTimes: [new Date('2026-03-10T12:10:00Z'), new Date('2026-03-10T12:20:00Z')],
      revenue: [{ currencyCode: 'EUR', amountMicros: '1000000' }, { currencyCode: 'USD', amountMicros: '24990001' }],
    });
    expect(report.conversions.map((c) => [c.conversionId, c.status])).toEqual([['B', 'pending'], ['E', 'reversed'], ['A', 'approved'], ['G', 'approved'], ['H', 'approved']]);
    expect(report.conversions[2]).toEqual({
      partnerId: 'p1', conversionId: 'A', clickId: 'k1', payout: { currencyCode: 'USD', amountMicros: '24990000' },
      occurredAt: new Date('2026-03-11T02:00:00Z'), status: 'approved', messageId: 'm1', offerId: 'off-1',
    });
  });

  it('reports a message without clicks as not clicked', () => {
    const report = buildMessageReport('m1', message, [], []);
    expect(report).toMatchObject({ clicked: false, firstClickedAt: undefined, clickCount: '0', conversions: [], revenue: [] });
  });

  it('answers from the clicks alone when the send has not arrived yet', () => {
    const report = buildMessageReport('m1', undefined, [click('k9', '2026-03-10T12:30:00Z'), click('k1', '2026-03-10T12:10:00Z', true)], []);
    expect(report).toMatchObject({
      contactId: 'c1', campaignId: 'camp-1', creativeId: 'cr-1', offerId: 'off-1', phoneMasked: '', sentAt: undefined,
      clicked: true, firstClickedAt: new Date('2026-03-10T12:10:00Z'), clickCount: '2',
    });
  });
});
