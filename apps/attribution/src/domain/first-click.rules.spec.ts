import { ManualClock, MS_PER_DAY } from '@trackly/kernel';
import {
  adjustmentEffect,
  candidateNote,
  ClickFact,
  ConversionFacts,
  decide,
  DecisionInput,
  DEFAULT_POLICY,
  fingerprint,
  NO_OFFER_TERMS,
  nextParkAttempt,
  OfferTerms,
  SendFact,
} from './first-click.rules';

const MON = new Date('2026-11-02T10:00:00Z');
const at = (base: Date, days: number, ms = 0) => new Date(base.getTime() + days * MS_PER_DAY + ms);
const SEC = 1000;

function click(id: string, clickedAt: Date, over: Partial<ClickFact> = {}): ClickFact {
  return { clickId: id, messageId: `msg-${id}`, contactId: 'contact-1', offerId: 'offer-1', campaignId: 'camp', creativeId: 'cr', clickedAt, clickClass: 'HUMAN', ...over };
}

function send(messageId: string, sentAt: Date, over: Partial<SendFact> = {}): SendFact {
  return { messageId, contactId: 'contact-1', offerId: 'offer-1', campaignId: 'camp', creativeId: 'cr', sentAt, ...over };
}

function conversion(reportedClickId: string, occurredAt: Date, over: Partial<ConversionFacts> = {}): ConversionFacts {
  return {
    partnerId: 'p', conversionId: 'c1', reportedClickId, messageId: '', occurredAt, status: 'APPROVED',
    payout: { currency: 'USD', micros: 24_990_000n }, ...over,
  };
}

const terms = (over: Partial<OfferTerms> = {}): OfferTerms => ({ ...NO_OFFER_TERMS, ...over });

/** Shorthand: decide with the named click looked up among `clicks`. */
function run(conv: ConversionFacts, clicks: ClickFact[], offer: Partial<OfferTerms> = {}, more: Partial<DecisionInput> = {}) {
  const named = clicks.find((c) => c.clickId === conv.reportedClickId);
  return decide({ conversion: conv, named, contactClicks: clicks, offer: terms(offer), ...more });
}

describe('first-click attribution', () => {
  const A = click('A', MON);
  const B = click('B', at(MON, 2));
  const P = click('P', at(MON, 0, -5 * SEC), { clickClass: 'PREVIEW' });
  const BOT = click('BOT', at(MON, 0, -3 * SEC), { clickClass: 'BOT' });
  const LATE = click('L', at(MON, 10));
  const SAME_SECOND_EARLY = click('zz', at(MON, 0, 100));
  const SAME_SECOND_LATE = click('aa', at(MON, 0, 900));
  const TIE1 = click('c1', MON);
  const TIE2 = click('c2', MON);
  const OLD = click('OLD', at(MON, -100));
  const W = click('W', MON);

  // Each row: the situation, the conversion, the clicks known, the offer terms, and the expected decision.
  const table: {
    name: string;
    conv: ConversionFacts;
    clicks: ClickFact[];
    offer?: Partial<OfferTerms>;
    expect: Record<string, unknown>;
  }[] = [
    { name: 'Mon A, Wed B, Fri converts with B -> A', conv: conversion('B', at(MON, 4)), clicks: [A, B], expect: { outcome: 'ATTRIBUTED', rule: 'FIRST_CLICK', type: 'CLICK_THROUGH', touch: { clickId: 'A', messageId: 'msg-A' }, windowDays: 90, windowSource: 'DEFAULT' } },
    { name: 'named click is the first', conv: conversion('A', at(MON, 4)), clicks: [A, B], expect: { outcome: 'ATTRIBUTED', touch: { clickId: 'A' } } },
    { name: 'later click after the conversion is ignored', conv: conversion('A', at(MON, 5)), clicks: [A, LATE], expect: { outcome: 'ATTRIBUTED', touch: { clickId: 'A' } } },
    { name: 'only click is after the conversion', conv: conversion('L', at(MON, 5)), clicks: [LATE], expect: { outcome: 'UNATTRIBUTED', reason: 'CLICK_AFTER_CONVERSION', rule: 'CLICK_AFTER_CONVERSION', touch: { clickId: 'L' } } },
    { name: 'click one ms after the conversion', conv: conversion('A', at(MON, 0, -1)), clicks: [A], expect: { reason: 'CLICK_AFTER_CONVERSION' } },
    { name: 'conversion at the very instant of the click counts, DIRECT', conv: conversion('A', MON), clicks: [A], expect: { outcome: 'ATTRIBUTED', type: 'DIRECT' } },
    { name: 'same instant: tie broken by click id (c1 < c2)', conv: conversion('c2', at(MON, 1)), clicks: [TIE2, TIE1], expect: { touch: { clickId: 'c1' } } },
    { name: 'same instant, other input order', conv: conversion('c1', at(MON, 1)), clicks: [TIE1, TIE2], expect: { touch: { clickId: 'c1' } } },
    { name: 'same second: the earlier millisecond wins over the smaller id', conv: conversion('aa', at(MON, 1)), clicks: [SAME_SECOND_LATE, SAME_SECOND_EARLY], expect: { touch: { clickId: 'zz' } } },
    { name: 'exactly day 90 is inside', conv: conversion('A', at(MON, 90)), clicks: [A], expect: { outcome: 'ATTRIBUTED', windowDays: 90 } },
    { name: 'day 90 + 1 s is outside', conv: conversion('A', at(MON, 90, SEC)), clicks: [A], expect: { outcome: 'UNATTRIBUTED', reason: 'OUTSIDE_WINDOW', windowDays: 90, windowSource: 'DEFAULT' } },
    { name: 'day 90 + 1 ms is outside', conv: conversion('A', at(MON, 90, 1)), clicks: [A], expect: { reason: 'OUTSIDE_WINDOW' } },
    { name: '7-day offer: day 7 inside', conv: conversion('W', at(MON, 7)), clicks: [W], offer: { clickWindowDays: 7 }, expect: { outcome: 'ATTRIBUTED', windowDays: 7, windowSource: 'OFFER' } },
    { name: '7-day offer: day 7 + 1 s outside', conv: conversion('W', at(MON, 7, SEC)), clicks: [W], offer: { clickWindowDays: 7 }, expect: { reason: 'OUTSIDE_WINDOW', windowDays: 7, windowSource: 'OFFER' } },
    { name: 'credit moves to the first click still inside the window', conv: conversion('B', at(MON, 4)), clicks: [OLD, A, B], expect: { touch: { clickId: 'A' } } },
    { name: 'other contacts and offers are ignored', conv: conversion('B', at(MON, 4)), clicks: [click('X', at(MON, -1), { contactId: 'contact-2' }), click('Y', at(MON, -1), { offerId: 'offer-2' }), B], expect: { touch: { clickId: 'B' } } },
    { name: 'DIRECT at exactly 30 minutes', conv: conversion('A', at(MON, 0, 30 * 60_000)), clicks: [A], expect: { type: 'DIRECT' } },
    { name: 'CLICK_THROUGH at 30 minutes + 1 ms', conv: conversion('A', at(MON, 0, 30 * 60_000 + 1)), clicks: [A], expect: { type: 'CLICK_THROUGH' } },
    { name: 'preview first, then human: the human click is first', conv: conversion('P', at(MON, 1)), clicks: [P, A], expect: { outcome: 'ATTRIBUTED', touch: { clickId: 'A' } } },
    { name: 'bot first, then human, named human', conv: conversion('A', at(MON, 1)), clicks: [BOT, A], expect: { outcome: 'ATTRIBUTED', touch: { clickId: 'A' } } },
    { name: 'only a preview: no credit', conv: conversion('P', at(MON, 1)), clicks: [P], expect: { outcome: 'UNATTRIBUTED', reason: 'NO_CLICK_NO_VIEW', rule: 'NO_HUMAN_CLICK', touch: { clickId: 'P' } } },
    { name: 'only a bot: no credit', conv: conversion('BOT', at(MON, 1)), clicks: [BOT], expect: { reason: 'NO_CLICK_NO_VIEW', rule: 'NO_HUMAN_CLICK' } },
    { name: 'too fast: 59 s with a 60 s minimum', conv: conversion('A', at(MON, 0, 59 * SEC)), clicks: [A], offer: { minConversionSeconds: 60 }, expect: { outcome: 'UNATTRIBUTED', reason: 'TOO_FAST', rule: 'TOO_FAST', touch: { clickId: 'A' } } },
    { name: 'exactly the minimum is not too fast', conv: conversion('A', at(MON, 0, 60 * SEC)), clicks: [A], offer: { minConversionSeconds: 60 }, expect: { outcome: 'ATTRIBUTED', type: 'DIRECT' } },
    { name: 'same second as the click with a 1 s minimum is too fast', conv: conversion('A', at(MON, 0, 999)), clicks: [A], offer: { minConversionSeconds: 1 }, expect: { reason: 'TOO_FAST' } },
    { name: 'minimum measured from the credited (first) click, not the named one', conv: conversion('B', at(MON, 2, 10 * SEC)), clicks: [A, B], offer: { minConversionSeconds: 60 }, expect: { outcome: 'ATTRIBUTED', touch: { clickId: 'A' } } },
    { name: 'rejected is never credited', conv: conversion('A', at(MON, 1), { status: 'REJECTED' }), clicks: [A], expect: { outcome: 'UNATTRIBUTED', reason: 'REJECTED', rule: 'REJECTED_STATUS' } },
    { name: 'pending is credited (kept apart by status downstream)', conv: conversion('A', at(MON, 1), { status: 'PENDING' }), clicks: [A], expect: { outcome: 'ATTRIBUTED' } },
    { name: 'reversed on arrival keeps its credit, reversed', conv: conversion('A', at(MON, 1), { status: 'REVERSED' }), clicks: [A], expect: { outcome: 'ATTRIBUTED' } },
    { name: 'unknown click id', conv: conversion('nope', MON), clicks: [], expect: { outcome: 'UNATTRIBUTED', reason: 'UNKNOWN_CLICK_ID', rule: 'UNKNOWN_CLICK' } },
    { name: 'no click id, no message: NO_CLICK_NO_VIEW', conv: conversion('', MON), clicks: [], expect: { reason: 'NO_CLICK_NO_VIEW', rule: 'NO_CLICK_NO_VIEW' } },
  ];

  it.each(table)('$name', ({ conv, clicks, offer, expect: expected }) => {
    const d = run(conv, clicks, offer);
    expect(d).toMatchObject(expected);
    expect(d.explanation.length).toBeGreaterThan(20);
  });

  it('explains first-click wins and skipped previews', () => {
    expect(run(conversion('B', at(MON, 4)), [A, B]).explanation).toMatch(/first click wins/);
    expect(run(conversion('A', at(MON, 1)), [P, A]).explanation).toMatch(/previews\/bot fetches do not count/);
    expect(run(conversion('A', at(MON, 90, SEC)), [A]).explanation).toMatch(/90-day window/);
    expect(run(conversion('nope', MON), []).explanation).toMatch(/"nope" does not match/);
  });

  it('uses the policy default when the offer has none', () => {
    const d = decide({ conversion: conversion('A', at(MON, 31)), named: A, contactClicks: [A], offer: NO_OFFER_TERMS }, { ...DEFAULT_POLICY, defaultWindowDays: 30 });
    expect(d).toMatchObject({ reason: 'OUTSIDE_WINDOW', windowDays: 30, windowSource: 'DEFAULT' });
  });

  describe('OFFER_MISMATCH', () => {
    it('when the named click and the named message are on different offers', () => {
      const other = send('msg-other', at(MON, -1), { offerId: 'offer-2' });
      expect(run(conversion('A', at(MON, 1), { messageId: 'msg-other' }), [A], {}, { referencedSend: other })).toMatchObject({
        outcome: 'UNATTRIBUTED', reason: 'OFFER_MISMATCH', touch: { clickId: 'A' },
      });
    });
    it('not when they agree on the offer (another message of the same offer is fine)', () => {
      const same = send('msg-B', at(MON, -1));
      expect(run(conversion('A', at(MON, 1), { messageId: 'msg-B' }), [A], {}, { referencedSend: same })).toMatchObject({ outcome: 'ATTRIBUTED' });
    });
    it('not when the named message is unknown', () => {
      expect(run(conversion('A', at(MON, 1), { messageId: 'msg-zzz' }), [A])).toMatchObject({ outcome: 'ATTRIBUTED' });
    });
  });

  describe('VIEW_THROUGH', () => {
    const S = send('msg-S', MON);
    const vt = (conv: ConversionFacts, offer: Partial<OfferTerms>, sends: SendFact[] = [S], clicks: ClickFact[] = []) =>
      run(conv, clicks, offer, { referencedSend: sends.find((s) => s.messageId === conv.messageId), contactSends: sends });

    it.each([
      { name: 'on: credited to the send, type VIEW_THROUGH', conv: conversion('', at(MON, 1), { messageId: 'msg-S' }), offer: { viewThroughWindowDays: 1 }, expect: { outcome: 'ATTRIBUTED', type: 'VIEW_THROUGH', rule: 'VIEW_THROUGH', touch: { clickId: '', messageId: 'msg-S' }, windowDays: 1, windowSource: 'OFFER' } },
      { name: 'off by default', conv: conversion('', at(MON, 1), { messageId: 'msg-S' }), offer: {}, expect: { outcome: 'UNATTRIBUTED', reason: 'NO_CLICK_NO_VIEW' } },
      { name: 'outside the view window (1 day + 1 s)', conv: conversion('', at(MON, 1, SEC), { messageId: 'msg-S' }), offer: { viewThroughWindowDays: 1 }, expect: { reason: 'NO_CLICK_NO_VIEW' } },
      { name: 'send after the conversion does not count', conv: conversion('', at(MON, 0, -SEC), { messageId: 'msg-S' }), offer: { viewThroughWindowDays: 1 }, expect: { reason: 'NO_CLICK_NO_VIEW' } },
      { name: 'unknown message', conv: conversion('', at(MON, 1), { messageId: 'msg-unknown' }), offer: { viewThroughWindowDays: 1 }, expect: { reason: 'NO_CLICK_NO_VIEW' } },
    ])('$name', ({ conv, offer, expect: expected }) => {
      expect(vt(conv, offer)).toMatchObject(expected);
    });

    it('credits the first send to the contact for the offer in the view window', () => {
      const earlier = send('msg-E', at(MON, -1));
      const otherContact = send('msg-O', at(MON, -2), { contactId: 'contact-2' });
      expect(vt(conversion('', at(MON, 1), { messageId: 'msg-S' }), { viewThroughWindowDays: 3 }, [S, earlier, otherContact])).toMatchObject({ touch: { messageId: 'msg-E' } });
    });

    it('applies when the only click was a link preview', () => {
      const preview = click('P2', at(MON, 0, SEC), { clickClass: 'PREVIEW', messageId: 'msg-S' });
      expect(vt(conversion('P2', at(MON, 1), { messageId: 'msg-S' }), { viewThroughWindowDays: 2 }, [S], [preview])).toMatchObject({ outcome: 'ATTRIBUTED', type: 'VIEW_THROUGH' });
    });

    it('a credited twin makes a would-be view-through DUPLICATE, with no click and with only a preview', () => {
      expect(run(conversion('', at(MON, 1), { messageId: 'msg-S' }), [], { viewThroughWindowDays: 1 }, { referencedSend: S, contactSends: [S], duplicateOf: 'c0' }))
        .toMatchObject({ outcome: 'UNATTRIBUTED', reason: 'DUPLICATE', touch: { messageId: 'msg-S' } });
      const preview = click('P3', at(MON, 0, SEC), { clickClass: 'PREVIEW', messageId: 'msg-S' });
      expect(run(conversion('P3', at(MON, 1), { messageId: 'msg-S' }), [preview], { viewThroughWindowDays: 2 }, { referencedSend: S, contactSends: [S], duplicateOf: 'c0' }))
        .toMatchObject({ outcome: 'UNATTRIBUTED', reason: 'DUPLICATE' });
    });

    it('never beats a human click', () => {
      expect(vt(conversion('A', at(MON, 1), { messageId: 'msg-S' }), { viewThroughWindowDays: 2 }, [S], [A])).toMatchObject({ type: 'CLICK_THROUGH', touch: { clickId: 'A' } });
    });
  });

  describe('DUPLICATE', () => {
    it('a credited twin under another conversion id makes this one DUPLICATE', () => {
      expect(run(conversion('A', at(MON, 1)), [A], {}, { duplicateOf: 'c0' })).toMatchObject({ outcome: 'UNATTRIBUTED', reason: 'DUPLICATE', touch: { clickId: 'A' } });
    });
    it('the fingerprint keys on partner, click (or message), second and payout', () => {
      const base = conversion('A', at(MON, 0, 100));
      expect(fingerprint(base)).toBe(fingerprint({ ...base, conversionId: 'c2', occurredAt: at(MON, 0, 900) }));
      expect(fingerprint(base)).not.toBe(fingerprint({ ...base, occurredAt: at(MON, 0, SEC) }));
      expect(fingerprint(base)).not.toBe(fingerprint({ ...base, payout: { currency: 'USD', micros: 1n } }));
      expect(fingerprint(base)).not.toBe(fingerprint({ ...base, partnerId: 'q' }));
      expect(fingerprint(conversion('', MON, { messageId: 'm' }))).toMatch(/message:m/);
      expect(fingerprint(conversion('', MON))).toBeNull();
    });
  });

  describe('adjustments', () => {
    const usd = (micros: bigint) => ({ currency: 'USD', micros });
    const credited = { outcome: 'ATTRIBUTED' as const, reason: null, status: 'APPROVED' as const, payout: usd(24_990_000n) };
    it.each([
      { name: 'no change', next: { status: 'APPROVED' as const, payout: usd(24_990_000n) }, kind: 'NONE' },
      { name: 'reversal after approval keeps the credit, reversed', next: { status: 'REVERSED' as const, payout: usd(24_990_000n) }, kind: 'UPDATE' },
      { name: 'payout change', next: { status: 'APPROVED' as const, payout: usd(20_000_000n) }, kind: 'UPDATE' },
      { name: 'rejection withdraws the credit', next: { status: 'REJECTED' as const, payout: usd(24_990_000n) }, kind: 'WITHDRAW' },
    ])('$name', ({ next, kind }) => {
      expect(adjustmentEffect(credited, next, 'postback').kind).toBe(kind);
    });
    it('a rejected conversion later approved is decided again', () => {
      expect(adjustmentEffect({ outcome: 'UNATTRIBUTED', reason: 'REJECTED', status: 'REJECTED', payout: usd(1n) }, { status: 'APPROVED', payout: usd(1n) }, 'postback').kind).toBe('REDECIDE');
    });
    it('an unattributed conversion stays unattributed with its new status', () => {
      const e = adjustmentEffect({ outcome: 'UNATTRIBUTED', reason: 'OUTSIDE_WINDOW', status: 'PENDING', payout: usd(1n) }, { status: 'APPROVED', payout: usd(1n) }, 'postback');
      expect(e).toMatchObject({ kind: 'UPDATE', explanation: expect.stringMatching(/PENDING -> APPROVED/) });
    });
  });

  describe('candidate notes', () => {
    it('says why each click did or did not get credit', () => {
      const conv = conversion('B', at(MON, 4));
      expect(candidateNote(A, conv, 90, 'A')).toEqual({ inWindow: true, note: expect.stringMatching(/credited/) });
      expect(candidateNote(B, conv, 90, 'A').note).toMatch(/later than the credited/);
      expect(candidateNote(P, conv, 90, 'A').note).toMatch(/link preview/);
      expect(candidateNote(LATE, conv, 90, 'A')).toEqual({ inWindow: false, note: expect.stringMatching(/after the conversion/) });
      expect(candidateNote(OLD, conv, 90, 'A')).toEqual({ inWindow: false, note: expect.stringMatching(/older than the 90-day/) });
    });
  });

  describe('parking backoff', () => {
    it('doubles from the base, caps, and never passes the horizon', () => {
      const clock = new ManualClock(MON);
      const horizon = at(MON, 1);
      expect(nextParkAttempt(clock.now(), 0, horizon)).toEqual(new Date(MON.getTime() + 30 * SEC));
      expect(nextParkAttempt(clock.now(), 3, horizon)).toEqual(new Date(MON.getTime() + 240 * SEC));
      expect(nextParkAttempt(clock.now(), 30, horizon)).toEqual(new Date(MON.getTime() + 3_600_000));
      clock.set(at(MON, 0, 86_399 * SEC));
      expect(nextParkAttempt(clock.now(), 0, horizon)).toEqual(horizon);
    });
  });
});

describe('payout and test conversions', () => {
  const A = click('A', MON);
  const DEFAULT = { currency: 'USD', micros: 12_000_000n };

  it("applies the offer's default payout when the postback carried none, and says so", () => {
    const d = run(conversion('A', at(MON, 1), { payout: { currency: 'USD', micros: 0n }, payoutAbsent: true }), [A], { defaultPayout: DEFAULT });
    expect(d).toMatchObject({ outcome: 'ATTRIBUTED', payout: DEFAULT, payoutDefaulted: true });
    expect(d.explanation).toMatch(/no payout: the offer's default payout of 12(\.0+)? USD applies/);
  });

  it('keeps the reported payout when there is one, and zero (said) when the offer has no default either', () => {
    expect(run(conversion('A', at(MON, 1)), [A], { defaultPayout: DEFAULT })).toMatchObject({ payout: { currency: 'USD', micros: 24_990_000n }, payoutDefaulted: false });
    const none = run(conversion('A', at(MON, 1), { payout: { currency: 'USD', micros: 0n }, payoutAbsent: true }), [A]);
    expect(none).toMatchObject({ payout: { currency: 'USD', micros: 0n }, payoutDefaulted: false });
    expect(none.explanation).toMatch(/no default payout of the offer is known/);
  });

  it('decides a test conversion like any other and says it is a test', () => {
    const d = run(conversion('A', at(MON, 1), { test: true }), [A]);
    expect(d.outcome).toBe('ATTRIBUTED');
    expect(d.explanation).toMatch(/test conversion/);
  });
});
