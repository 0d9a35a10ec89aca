import { MS_PER_DAY } from '@trackly/kernel';
import { ClickFact, ConversionFacts, decide, DEFAULT_POLICY } from './first-click.rules';

const MON = new Date('2026-11-02T10:00:00Z');
const at = (base: Date, days: number, ms = 0) => new Date(base.getTime() + days * MS_PER_DAY + ms);

function click(id: string, clickedAt: Date, over: Partial<ClickFact> = {}): ClickFact {
  return { clickId: id, messageId: `msg-${id}`, contactId: 'contact-1', offerId: 'offer-1', campaignId: 'camp', creativeId: 'cr', clickedAt, ...over };
}

function conversion(reportedClickId: string, occurredAt: Date, over: Partial<ConversionFacts> = {}): ConversionFacts {
  return {
    partnerId: 'p', conversionId: 'c1', reportedClickId, occurredAt, status: 'APPROVED',
    payout: { currency: 'USD', micros: 24_990_000n }, ...over,
  };
}

describe('first-click attribution', () => {
  const A = click('A', MON);
  const B = click('B', at(MON, 2));

  it('credits the first click (Mon A, Wed B, Fri converts with B) to A', () => {
    const d = decide(conversion('B', at(MON, 4)), B, [A, B], null);
    expect(d).toMatchObject({ outcome: 'ATTRIBUTED', type: 'CLICK_THROUGH', credited: { clickId: 'A', messageId: 'msg-A' }, windowDays: 90 });
    expect(d.explanation).toMatch(/first click wins/);
  });

  it('credits the named click when it is the first', () => {
    expect(decide(conversion('A', at(MON, 4)), A, [A, B], null)).toMatchObject({ outcome: 'ATTRIBUTED', credited: { clickId: 'A' } });
  });

  it('never credits clicks after the conversion', () => {
    const late = click('L', at(MON, 10));
    const d = decide(conversion('A', at(MON, 5)), A, [A, late], null);
    expect(d).toMatchObject({ outcome: 'ATTRIBUTED', credited: { clickId: 'A' } });
    expect(decide(conversion('L', at(MON, 5)), late, [late], null)).toMatchObject({
      outcome: 'UNATTRIBUTED', reason: 'CLICK_AFTER_CONVERSION',
    });
  });

  it('ignores clicks of other contacts and other offers', () => {
    const otherContact = click('X', at(MON, -1), { contactId: 'contact-2' });
    const otherOffer = click('Y', at(MON, -1), { offerId: 'offer-2' });
    expect(decide(conversion('B', at(MON, 4)), B, [otherContact, otherOffer, B], null)).toMatchObject({ credited: { clickId: 'B' } });
  });

  it('breaks ties on the same instant by click id, whatever the input order', () => {
    const c1 = click('c1', MON);
    const c2 = click('c2', MON);
    expect(decide(conversion('c2', at(MON, 1)), c2, [c2, c1], null)).toMatchObject({ credited: { clickId: 'c1' } });
    expect(decide(conversion('c1', at(MON, 1)), c1, [c1, c2], null)).toMatchObject({ credited: { clickId: 'c1' } });
  });

  describe('window', () => {
    it('includes a click exactly 90 days before and excludes one a millisecond older', () => {
      expect(decide(conversion('A', at(MON, 90)), A, [A], null)).toMatchObject({ outcome: 'ATTRIBUTED' });
      const d = decide(conversion('A', at(MON, 90, 1)), A, [A], null);
      expect(d).toMatchObject({ outcome: 'UNATTRIBUTED', reason: 'OUTSIDE_WINDOW', windowDays: 90 });
      expect(d.explanation).toMatch(/90-day window/);
    });

    it("uses the offer's click_window_days", () => {
      expect(decide(conversion('A', at(MON, 7)), A, [A], 7)).toMatchObject({ outcome: 'ATTRIBUTED', windowDays: 7 });
      expect(decide(conversion('A', at(MON, 8)), A, [A], 7)).toMatchObject({ outcome: 'UNATTRIBUTED', reason: 'OUTSIDE_WINDOW', windowDays: 7 });
    });

    it('moves the credit to the first click still inside the window', () => {
      const old = click('OLD', at(MON, -100));
      expect(decide(conversion('B', at(MON, 4)), B, [old, A, B], null)).toMatchObject({ credited: { clickId: 'A' } });
    });

    it('uses the policy default when the offer has none', () => {
      const policy = { ...DEFAULT_POLICY, defaultWindowDays: 30 };
      expect(decide(conversion('A', at(MON, 31)), A, [A], null, policy)).toMatchObject({ reason: 'OUTSIDE_WINDOW', windowDays: 30 });
    });
  });

  describe('types', () => {
    it('is DIRECT within the 30-minute session and CLICK_THROUGH after it', () => {
      expect(decide(conversion('A', at(MON, 0, 30 * 60_000)), A, [A], null)).toMatchObject({ type: 'DIRECT' });
      expect(decide(conversion('A', at(MON, 0, 30 * 60_000 + 1)), A, [A], null)).toMatchObject({ type: 'CLICK_THROUGH' });
    });
  });

  describe('no credit', () => {
    it('explains an unknown click id', () => {
      const d = decide(conversion('nope', MON), undefined, [], null);
      expect(d).toMatchObject({ outcome: 'UNATTRIBUTED', reason: 'UNKNOWN_CLICK_ID' });
      expect(d.explanation).toMatch(/"nope" does not match/);
    });

    it('needs a click id (view-through is off)', () => {
      expect(decide(conversion('', MON), undefined, [], null)).toMatchObject({ reason: 'NO_CLICK_NO_VIEW' });
    });

    it('never credits a rejected conversion', () => {
      expect(decide(conversion('A', at(MON, 1), { status: 'REJECTED' }), A, [A], null)).toMatchObject({ reason: 'REJECTED' });
    });

    it('credits pending conversions (kept apart by status downstream)', () => {
      expect(decide(conversion('A', at(MON, 1), { status: 'PENDING' }), A, [A], null)).toMatchObject({ outcome: 'ATTRIBUTED' });
    });
  });
});
