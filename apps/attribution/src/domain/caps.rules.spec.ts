import { MS_PER_DAY } from '@trackly/kernel';
import { capKey, CapUsage, localDate, OfferRules } from './caps.rules';
import { ClickFact, ConversionFacts, decide, NO_OFFER_TERMS } from './first-click.rules';
import { CreditLedger, decideInOrder } from './decide-in-order.rules';

const click: ClickFact = { clickId: 'k1', messageId: 'm1', contactId: 'c', offerId: 'o', campaignId: 'camp', creativeId: 'cr', clickedAt: new Date('2026-03-01T00:00:00Z'), clickClass: 'HUMAN' };
const conv = (id: string, at: string, over: Partial<ConversionFacts> = {}): ConversionFacts => ({
  partnerId: 'p', conversionId: id, reportedClickId: 'k1', messageId: '', occurredAt: new Date(at), status: 'APPROVED', payout: { currency: 'USD', micros: 10_000_000n }, ...over,
});
const rules = (over: Partial<OfferRules> = {}): OfferRules => ({ offerId: 'o', timeZone: 'America/New_York', caps: [], overCapAction: 'REFUSE', holdDays: 0, ...over });
const inputOf = (c: ConversionFacts, r: OfferRules, usage: CapUsage) => ({ conversion: c, named: click, contactClicks: [click], offer: NO_OFFER_TERMS, rules: r, usage });
/** Distinct seconds: these conversions are not one another's DUPLICATE twins. */
const batch = (r: OfferRules, convs: ConversionFacts[]) => {
  const usage: CapUsage = new Map();
  return decideInOrder(convs.map((c) => ({ input: inputOf(c, r, usage), fp: null })), new CreditLedger()).map((x) => x.decision);
};

describe('caps and holds', () => {
  it("counts days in the offer's time zone: 03:00 UTC is still the previous day in New York", () => {
    expect(localDate(new Date('2026-03-03T03:00:00Z'), 'America/New_York')).toBe('2026-03-02');
    const r = rules({ caps: [{ period: 'DAY', partnerId: '', maxConversions: 1, maxPayout: null }] });
    const d = batch(r, [conv('a', '2026-03-02T20:00:00Z'), conv('b', '2026-03-03T03:00:00Z'), conv('c', '2026-03-03T06:00:00Z')]);
    // a and b are both on March 2nd in New York: b is over; c is March 3rd.
    expect(d.map((x) => x.reason ?? x.outcome)).toEqual(['ATTRIBUTED', 'OVER_CAP', 'ATTRIBUTED']);
    expect(d[1].explanation).toMatch(/daily cap of 1 conversions for offer o is reached for the day starting 2026-03-02 \(America\/New_York\)/);
  });

  it('caps payout per month and per partner; other currencies and other partners do not count', () => {
    const r = rules({ caps: [{ period: 'MONTH', partnerId: 'p', maxConversions: 0, maxPayout: { currency: 'USD', micros: 25_000_000n } }] });
    const d = batch(r, [
      conv('a', '2026-03-05T12:00:00Z'),
      conv('b', '2026-03-06T12:00:00Z'),
      conv('x', '2026-03-07T12:00:00Z', { partnerId: 'q' }),
      conv('e', '2026-03-08T12:00:00Z', { payout: { currency: 'EUR', micros: 90_000_000n } }),
      conv('c', '2026-03-09T12:00:00Z'), // 30 USD > 25
      conv('d', '2026-04-01T12:00:00Z'), // a new month
    ]);
    expect(d.map((x) => x.reason ?? x.outcome)).toEqual(['ATTRIBUTED', 'ATTRIBUTED', 'ATTRIBUTED', 'ATTRIBUTED', 'OVER_CAP', 'ATTRIBUTED']);
    expect(d[4].explanation).toMatch(/monthly payout cap of 25(\.0+)? USD for partner p on offer o would be passed \(20(\.0+)? credited so far/);
  });

  it('holds over-cap conversions as pending when the offer says HOLD, and they do not count', () => {
    const r = rules({ overCapAction: 'HOLD', caps: [{ period: 'DAY', partnerId: '', maxConversions: 1, maxPayout: null }] });
    const d = batch(r, [conv('a', '2026-03-02T15:00:00Z'), conv('b', '2026-03-02T16:00:00Z'), conv('c', '2026-03-02T17:00:00Z')]);
    expect(d.map((x) => [x.outcome, x.overCap, x.status])).toEqual([
      ['ATTRIBUTED', false, 'APPROVED'],
      ['ATTRIBUTED', true, 'PENDING'],
      ['ATTRIBUTED', true, 'PENDING'],
    ]);
    expect(d[1].explanation).toMatch(/Held over cap/);
  });

  it('puts credited conversions on hold for N days after they occurred, pending; reversed ones and tests are not held', () => {
    const r = rules({ holdDays: 14 });
    const d = decide(inputOf(conv('a', '2026-03-02T15:00:00Z'), r, new Map()));
    expect(d).toMatchObject({ outcome: 'ATTRIBUTED', status: 'PENDING', holdUntil: new Date(new Date('2026-03-02T15:00:00Z').getTime() + 14 * MS_PER_DAY) });
    expect(d.explanation).toMatch(/holds credited conversions 14 day\(s\): pending until 2026-03-16T15:00:00.000Z/);
    expect(decide(inputOf(conv('b', '2026-03-02T15:00:00Z', { status: 'REVERSED' }), r, new Map()))).toMatchObject({ status: 'REVERSED', holdUntil: undefined });
    expect(decide(inputOf(conv('t', '2026-03-02T15:00:00Z', { test: true }), r, new Map()))).toMatchObject({ status: 'APPROVED', holdUntil: undefined });
  });

  it('never caps what is not credited, and uses the usage given (stored credits)', () => {
    const r = rules({ caps: [{ period: 'DAY', partnerId: '', maxConversions: 2, maxPayout: null }] });
    const at = new Date('2026-03-02T15:00:00Z');
    const usage: CapUsage = new Map([[capKey('o', r.caps[0], at, r.timeZone), { conversions: 2, micros: {} }]]);
    expect(decide(inputOf(conv('a', at.toISOString()), r, usage)).reason).toBe('OVER_CAP');
    expect(decide(inputOf(conv('r', at.toISOString(), { status: 'REJECTED' }), r, usage)).reason).toBe('REJECTED');
  });
});
