/**
 * Deciding a batch in memory equals deciding one conversion at a time against a store queried per conversion (the
 * per-row path the flow replaced): the same verdicts, in order, for random worlds with many fingerprint collisions,
 * for first decisions and for re-decisions of stored ones (credits handed between twins), with window reads given
 * as any superset of the window (the reader's limits aside, the rules filter themselves).
 */
import fc from 'fast-check';
import { MS_PER_DAY } from '@trackly/kernel';
import {
  ClickFact,
  ConversionFacts,
  ConversionStatus,
  decide,
  DEFAULT_POLICY,
  fingerprint,
  lookback,
  NO_OFFER_TERMS,
  OfferTerms,
  SendFact,
} from './first-click.rules';
import { CreditLedger, decideInOrder, OrderedInput } from './decide-in-order.rules';

const T0 = Date.UTC(2026, 0, 1);
const CONTACTS = ['c1', 'c2'];
const OFFERS = ['o1', 'o2'];

interface World {
  clicks: ClickFact[];
  sends: SendFact[];
  terms: Record<string, OfferTerms>;
  convs: ConversionFacts[];
  /** Conversions stored before the batch (re-decision), credited or not. */
  stored: { credited: boolean }[];
}

const world: fc.Arbitrary<World> = fc
  .record({
    clicks: fc.array(
      fc.record({ contact: fc.constantFrom(...CONTACTS), offer: fc.constantFrom(...OFFERS), minute: fc.integer({ min: 0, max: 3 * 1440 }), klass: fc.constantFrom('HUMAN', 'HUMAN', 'HUMAN', 'PREVIEW', 'BOT') }),
      { minLength: 3, maxLength: 6 },
    ),
    sends: fc.array(fc.record({ contact: fc.constantFrom(...CONTACTS), offer: fc.constantFrom(...OFFERS), minute: fc.integer({ min: 0, max: 3 * 1440 }) }), { maxLength: 4 }),
    terms: fc.array(
      fc.record({
        clickWindowDays: fc.option(fc.integer({ min: 1, max: 15 }), { nil: null }),
        minConversionSeconds: fc.option(fc.constantFrom(0, 60, 3600), { nil: null }),
        viewThroughWindowDays: fc.option(fc.integer({ min: 1, max: 10 }), { nil: null }),
      }),
      { minLength: 2, maxLength: 2 },
    ),
    convs: fc.array(
      fc.record({
        partner: fc.constantFrom('p1', 'p1', 'p2'),
        click: fc.integer({ min: -2, max: 4 }),
        send: fc.integer({ min: -1, max: 3 }),
        // Few seconds and payouts, so fingerprints collide often.
        second: fc.integer({ min: 0, max: 1 }),
        minute: fc.integer({ min: 1440, max: 4 * 1440 }),
        micros: fc.constantFrom(1_000_000n, 1_000_000n, 2_000_000n),
        status: fc.constantFrom<ConversionStatus>('APPROVED', 'APPROVED', 'PENDING', 'REJECTED', 'REVERSED'),
        storedCredited: fc.boolean(),
      }),
      { minLength: 15, maxLength: 30 },
    ),
  })
  .map((w) => {
    const clicks: ClickFact[] = w.clicks.map((c, i) => ({
      clickId: `k${i}`, messageId: `m${i}`, contactId: c.contact, offerId: c.offer, campaignId: 'camp', creativeId: 'cr',
      clickedAt: new Date(T0 + c.minute * 60_000), clickClass: c.klass as ClickFact['clickClass'],
    }));
    const sends: SendFact[] = w.sends.map((s, i) => ({
      messageId: `s${i}`, contactId: s.contact, offerId: s.offer, campaignId: 'camp', creativeId: 'cr', sentAt: new Date(T0 + s.minute * 60_000),
    }));
    const convs: ConversionFacts[] = w.convs.map((c, i) => ({
      partnerId: c.partner,
      conversionId: `x${i}`,
      reportedClickId: c.click === -2 ? 'unknown-click' : c.click >= 0 && c.click < clicks.length ? clicks[c.click].clickId : '',
      messageId: c.send >= 0 && c.send < sends.length ? sends[c.send].messageId : '',
      // Conversions share a day-minute grid but collide on the second: same fingerprint, different ids.
      occurredAt: new Date(T0 + Math.floor(c.minute / 1440) * MS_PER_DAY + 12 * 3_600_000 + c.second * 1000),
      status: c.status,
      payout: { currency: 'USD', micros: c.micros },
    }));
    return { clicks, sends, terms: { o1: w.terms[0], o2: w.terms[1] }, convs, stored: w.convs.map((c) => ({ credited: c.storedCredited })) };
  });

/** The rule input of one conversion, as the per-row path read it: exactly the window, from a full scan. */
function perRowInput(w: World, c: ConversionFacts) {
  const named = w.clicks.find((k) => k.clickId === c.reportedClickId);
  const referencedSend = w.sends.find((s) => s.messageId === c.messageId);
  const offerId = named?.offerId ?? referencedSend?.offerId;
  const offer = offerId ? w.terms[offerId] : NO_OFFER_TERMS;
  const span = lookback(c.occurredAt, offer.clickWindowDays ?? DEFAULT_POLICY.defaultWindowDays);
  const contactClicks = named
    ? w.clicks.filter((k) => k.contactId === named.contactId && k.offerId === named.offerId && k.clickedAt >= span.from && k.clickedAt <= span.to)
    : [];
  let contactSends: SendFact[] = [];
  if (referencedSend && offer.viewThroughWindowDays != null) {
    const view = lookback(c.occurredAt, offer.viewThroughWindowDays);
    contactSends = w.sends.filter((s) => s.contactId === referencedSend.contactId && s.offerId === referencedSend.offerId && s.sentAt >= view.from && s.sentAt <= view.to);
  }
  return { conversion: c, named, contactClicks, offer, referencedSend, contactSends };
}

/** The batch's input: every click and send of the contact on the offer, a superset of the window. */
function supersetInput(w: World, c: ConversionFacts): OrderedInput['input'] {
  const x = perRowInput(w, c);
  return {
    ...x,
    contactClicks: x.named ? w.clicks.filter((k) => k.contactId === x.named!.contactId && k.offerId === x.named!.offerId).reverse() : [],
    contactSends: x.referencedSend ? w.sends.filter((s) => s.contactId === x.referencedSend!.contactId && s.offerId === x.referencedSend!.offerId) : [],
  };
}

/**
 * The stored state before the batch: each conversion decided or not; a stored credit holds its fingerprint only
 * when no other stored credit does (the unique index).
 */
function storedState(w: World, redecide: boolean): Map<string, { credited: boolean; fp: string | null }> {
  const state = new Map<string, { credited: boolean; fp: string | null }>();
  if (!redecide) return state;
  const held = new Set<string>();
  w.convs.forEach((c, i) => {
    const fp = fingerprint(c);
    const credited = w.stored[i].credited && !!fp && !held.has(fp);
    if (credited) held.add(fp!);
    state.set(c.conversionId, { credited, fp });
  });
  return state;
}

describe('decideInOrder', () => {
  for (const redecide of [false, true]) {
    it(`equals one-at-a-time decisions against a store queried per conversion (${redecide ? 're-decisions' : 'first decisions'})`, () => {
      let twinsSeen = 0;
      fc.assert(
        fc.property(world, (w) => {
          // Reference: per conversion, the twin query over the store as it stands, then the decision saved.
          const store = storedState(w, redecide);
          const reference = w.convs.map((c) => {
            const fp = fingerprint(c);
            const twin = fp ? [...store].find(([id, s]) => id !== c.conversionId && s.credited && s.fp === fp)?.[0] : undefined;
            const d = decide({ ...perRowInput(w, c), duplicateOf: twin });
            store.set(c.conversionId, { credited: d.outcome === 'ATTRIBUTED', fp });
            return d;
          });
          // The batch: one ledger from the stored credits, every decision in memory.
          const before = storedState(w, redecide);
          const holders = new Map([...before].filter(([, s]) => s.credited && s.fp).map(([id, s]) => [s.fp!, id]));
          const batch = decideInOrder(
            w.convs.map((c) => ({ input: supersetInput(w, c), fp: fingerprint(c), before: before.get(c.conversionId) })),
            new CreditLedger(holders),
          );
          expect(batch.map((b) => b.decision)).toEqual(reference);
          twinsSeen += reference.filter((d) => d.reason === 'DUPLICATE').length;
          // Unique index: never two credited conversions with one fingerprint.
          const credited = [...store.values()].filter((s) => s.credited && s.fp).map((s) => s.fp);
          expect(new Set(credited).size).toBe(credited.length);
        }),
        { numRuns: 300 },
      );
      // The worlds really exercise twins (else the property would prove little).
      expect(twinsSeen).toBeGreaterThan(50);
    });
  }

  it('makes a later twin in the same batch DUPLICATE, and a dry run (apply = false) sees only the stored credits', () => {
    const click: ClickFact = { clickId: 'k1', messageId: 'm1', contactId: 'c', offerId: 'o', campaignId: 'camp', creativeId: 'cr', clickedAt: new Date(T0), clickClass: 'HUMAN' };
    const conv = (id: string): ConversionFacts => ({
      partnerId: 'p', conversionId: id, reportedClickId: 'k1', messageId: '', occurredAt: new Date(T0 + MS_PER_DAY), status: 'APPROVED', payout: { currency: 'USD', micros: 1n },
    });
    const items = ['a', 'b'].map((id) => ({ input: { conversion: conv(id), named: click, contactClicks: [click], offer: NO_OFFER_TERMS }, fp: fingerprint(conv(id)) }));
    const applied = decideInOrder(items, new CreditLedger());
    expect(applied.map((x) => x.decision.outcome)).toEqual(['ATTRIBUTED', 'UNATTRIBUTED']);
    expect(applied[1].decision.reason).toBe('DUPLICATE');
    expect(decideInOrder(items, new CreditLedger(), DEFAULT_POLICY, false).map((x) => x.decision.outcome)).toEqual(['ATTRIBUTED', 'ATTRIBUTED']);
  });

  it('says when a conversion takes a fingerprint a twin of the batch released (the writer then goes row by row)', () => {
    const ledger = new CreditLedger(new Map([['fp', 'a']]));
    expect(ledger.record('a', { credited: true, fp: 'fp' }, { credited: false, fp: 'fp' })).toBe(false);
    expect(ledger.twinOf('fp', 'b')).toBeUndefined();
    expect(ledger.record('b', { credited: false, fp: 'fp' }, { credited: true, fp: 'fp' })).toBe(true);
    expect(ledger.twinOf('fp', 'c')).toBe('b');
  });
});
