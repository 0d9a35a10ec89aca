/**
 * The load–decide–save use case on in-memory fakes of its ports: batches with repeats, stored decisions, twins
 * inside the batch, unknown clicks parked, tracking asked only with no transaction open, races with a concurrent twin.
 */
import { ManualClock, MS_PER_DAY } from '@trackly/kernel';
import { ClickFact, ConversionStatus, DEFAULT_POLICY, NO_OFFER_TERMS, OfferTerms, SendFact } from '../domain/first-click.rules';
import type { CapUsage } from '../domain/caps.rules';
import type { ConversionToDecide } from '../domain/conversion-input.rules';
import type { DecisionEntity } from '../decisions/decision.entity';
import type { ParkedConversionEntity } from '../decisions/parked.entity';
import { DecisionFlow } from './decision-flow';
import {
  BatchFacts,
  ClickProjectionWriter,
  ConversionKey,
  DecisionFactsReader,
  DecisionStore,
  FactsRequest,
  keyOf,
  TrackedClick,
  TrackingClicks,
  Tx,
  UnitOfWork,
} from './ports';

const T0 = new Date('2026-05-01T10:00:00Z').getTime();
const HORIZON_MS = 60_000;

/** The fakes share one in-memory "database"; `open` counts open transactions. */
class Db {
  open = 0;
  clicks = new Map<string, ClickFact>();
  sends = new Map<string, SendFact>();
  offers = new Map<string, OfferTerms>();
  decisions = new Map<string, DecisionEntity>();
  parked = new Map<string, ParkedConversionEntity>();
  events: { outcome: string; conversionId: string }[] = [];
  loads = 0;
  /** Keys asked of findDecisions (stored decisions read back). */
  found: string[] = [];
  /** A decision another replica commits just before our next insert (a concurrent twin). */
  concurrent?: DecisionEntity;
}

class FakeUow implements UnitOfWork {
  constructor(private readonly db: Db) {}
  async run<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    this.db.open++;
    const snapshot = { decisions: new Map(this.db.decisions), parked: new Map(this.db.parked), events: [...this.db.events], clicks: new Map(this.db.clicks) };
    try {
      return await fn({});
    } catch (e) {
      Object.assign(this.db, snapshot);
      throw e;
    } finally {
      this.db.open--;
    }
  }
}

class FakeReader implements DecisionFactsReader {
  constructor(private readonly db: Db) {}
  async findClicks(_tx: Tx, ids: string[]) {
    return new Map(ids.flatMap((id) => (this.db.clicks.has(id) ? [[id, this.db.clicks.get(id)!] as const] : [])));
  }
  async load(_tx: Tx, reqs: FactsRequest[]): Promise<BatchFacts> {
    this.db.loads++;
    const inputs = reqs.map(({ facts, clickId }) => {
      const named = clickId ? this.db.clicks.get(clickId) : undefined;
      const referencedSend = this.db.sends.get(facts.messageId);
      const offerId = named?.offerId ?? referencedSend?.offerId;
      return {
        conversion: facts,
        named,
        // Any superset of the window: the rules filter.
        contactClicks: named ? [...this.db.clicks.values()].filter((c) => c.contactId === named.contactId && c.offerId === named.offerId) : [],
        offer: (offerId && this.db.offers.get(offerId)) || NO_OFFER_TERMS,
        referencedSend,
        contactSends: referencedSend ? [...this.db.sends.values()].filter((s) => s.contactId === referencedSend.contactId) : [],
      };
    });
    const fps = reqs.map((r) => r.fp);
    const holders = new Map<string, string>();
    for (const d of this.db.decisions.values()) if (d.outcome === 'ATTRIBUTED' && d.fingerprint && fps.includes(d.fingerprint)) holders.set(d.fingerprint, d.conversionId);
    const decided = new Set(reqs.map((r) => keyOf(r.key)).filter((k) => this.db.decisions.has(k)));
    return { inputs, holders, decided };
  }
  async capUsage(): Promise<CapUsage> {
    throw new Error('no offer in these specs has rules');
  }
}

class FakeStore implements DecisionStore {
  constructor(private readonly db: Db) {}
  async findDecisions(_tx: Tx, keys: ConversionKey[]) {
    this.db.found.push(...keys.map((k) => k.conversionId));
    return new Map(keys.flatMap((k) => (this.db.decisions.has(keyOf(k)) ? [[keyOf(k), this.db.decisions.get(keyOf(k))!] as const] : [])));
  }
  async insertDecisions(_tx: Tx, rows: DecisionEntity[]) {
    if (this.db.concurrent) {
      this.db.decisions.set(keyOf(this.db.concurrent), this.db.concurrent);
      this.db.concurrent = undefined;
    }
    const inserted = new Set<string>();
    for (const r of rows) {
      const k = keyOf(r);
      const fpTaken = r.outcome === 'ATTRIBUTED' && [...this.db.decisions.values()].some((d) => d.outcome === 'ATTRIBUTED' && d.fingerprint === r.fingerprint);
      this.db.parked.delete(k);
      if (this.db.decisions.has(k) || fpTaken) continue;
      this.db.decisions.set(k, r);
      this.db.events.push({ outcome: r.outcome, conversionId: r.conversionId });
      inserted.add(k);
    }
    return inserted;
  }
  async park(_tx: Tx, convs: ConversionToDecide[], parkedAt: Date, nextAttemptAt: Date, horizonAt: Date) {
    for (const c of convs) {
      if (this.db.parked.has(keyOf(c))) continue;
      this.db.parked.set(keyOf(c), {
        partnerId: c.partnerId, conversionId: c.conversionId, conversionRef: c.conversionRef, clickId: c.clickId, messageId: c.messageId,
        payoutMicros: c.payout.micros, currency: c.payout.currency, status: c.status, occurredAt: c.occurredAt, parkedAt, attempts: 0,
        nextAttemptAt, horizonAt, lastError: null, test: c.test, source: c.source, payoutAbsent: c.payoutAbsent,
      });
    }
    return convs.map((c) => this.db.parked.get(keyOf(c))!);
  }
  settledEvents: { conversionId: string; expired: boolean }[] = [];
  async settled(_tx: Tx, items: { attribution: { conversionId: string }; expired: boolean }[]) {
    for (const x of items) this.settledEvents.push({ conversionId: x.attribution.conversionId, expired: x.expired });
  }
  async parkedForClicks(_tx: Tx, ids: string[]) {
    return [...this.db.parked.values()].filter((p) => ids.includes(p.clickId));
  }
  async lockParked(_tx: Tx, keys: ConversionKey[]) {
    return keys.flatMap((k) => (this.db.parked.has(keyOf(k)) ? [this.db.parked.get(keyOf(k))!] : []));
  }
  async reschedule(_tx: Tx, items: { key: ConversionKey; nextAttemptAt: Date; error: string | null }[]) {
    for (const x of items) Object.assign(this.db.parked.get(keyOf(x.key))!, { nextAttemptAt: x.nextAttemptAt, lastError: x.error, attempts: this.db.parked.get(keyOf(x.key))!.attempts + 1 });
  }
  async dueParked(now: Date, limit: number) {
    return [...this.db.parked.values()].filter((p) => p.nextAttemptAt <= now).slice(0, limit).map((p) => ({ partnerId: p.partnerId, conversionId: p.conversionId, clickId: p.clickId, horizonAt: p.horizonAt }));
  }
}

class FakeTracking implements TrackingClicks {
  calls: string[] = [];
  down = false;
  known = new Map<string, TrackedClick>();
  constructor(private readonly db: Db) {}
  async getClick(id: string) {
    // The rule under test: tracking is never asked while a transaction is open.
    if (this.db.open) throw new Error(`GetClick(${id}) called with a transaction open`);
    this.calls.push(id);
    if (this.down) throw new Error('tracking unreachable');
    return this.known.get(id);
  }
}

const click = (id: string, minutes: number, klass: ClickFact['clickClass'] = 'HUMAN'): TrackedClick => ({
  clickId: id, messageId: `m-${id}`, contactId: 'c1', offerId: 'o1', campaignId: 'camp', creativeId: 'cr',
  clickedAt: new Date(T0 + minutes * 60_000), clickClass: klass, firstClickOnMessage: true,
});

const conv = (id: string, clickId: string, over: Partial<ConversionToDecide> = {}): ConversionToDecide => ({
  partnerId: 'p', conversionId: id, conversionRef: `ref-${id}`, clickId, messageId: '', payout: { currency: 'USD', micros: 1_000_000n },
  status: 'APPROVED' as ConversionStatus, occurredAt: new Date(T0 + MS_PER_DAY), test: false, source: 'INGEST', payoutAbsent: false, ...over,
});

function setup() {
  const db = new Db();
  const clock = new ManualClock(new Date(T0 + 2 * MS_PER_DAY));
  const tracking = new FakeTracking(db);
  const writer: ClickProjectionWriter = { saveClicks: async (_tx, cs) => cs.forEach((c) => db.clicks.set(c.clickId, c)) };
  const flow = new DecisionFlow(new FakeUow(db), new FakeReader(db), new FakeStore(db), writer, tracking, clock, { policy: DEFAULT_POLICY, horizonMs: HORIZON_MS });
  const uow = new FakeUow(db);
  const batch = (convs: ConversionToDecide[], opts = {}) => uow.run((tx) => flow.decideWithin(tx, convs, opts));
  return { db, clock, tracking, flow, batch };
}

describe('DecisionFlow', () => {
  it('decides a batch with one load and one write: repeats, stored decisions and twins inside the batch', async () => {
    const { db, batch } = setup();
    db.clicks.set('k1', click('k1', 0));
    db.clicks.set('k2', click('k2', 5));
    const first = await batch([conv('a', 'k1')]);
    expect(first[0]).toMatchObject({ alreadyDecided: false, emitted: true });
    expect(db.found).toEqual([]);
    db.loads = 0;

    const res = await batch([
      conv('a', 'k1'), // decided before this batch
      conv('b', 'k2', { occurredAt: new Date(T0 + 3 * MS_PER_DAY) }),
      conv('b', 'k2', { occurredAt: new Date(T0 + 3 * MS_PER_DAY) }), // the same conversion twice in the batch
      conv('c', 'k2', { occurredAt: new Date(T0 + 3 * MS_PER_DAY + 300) }), // b's twin: same click, second and payout
    ]);
    expect(res.map((r) => [r.alreadyDecided, r.emitted])).toEqual([[true, false], [false, true], [true, false], [false, true]]);
    expect(res[1].attribution.creditedClickId).toBe('k1'); // first click wins
    expect(res[2].attribution).toEqual(res[1].attribution);
    expect(db.decisions.get(keyOf(conv('c', '')))).toMatchObject({ outcome: 'UNATTRIBUTED', reason: 'DUPLICATE' });
    expect(db.loads).toBe(1);
    // Only the conversion the load found decided is read back.
    expect(db.found).toEqual(['a']);
    expect(db.events.map((e) => `${e.conversionId}:${e.outcome}`)).toEqual(['a:ATTRIBUTED', 'b:ATTRIBUTED', 'c:UNATTRIBUTED']);
  });

  it('parks conversions naming a click the projection lacks (first retry due at once), and decides the rest', async () => {
    const { db, clock, batch } = setup();
    db.clicks.set('k1', click('k1', 0));
    const res = await batch([conv('a', 'late-click'), conv('b', 'k1'), conv('c', 'bad id!')], { retryNow: true });
    expect(res.map((r) => r.parked)).toEqual([true, false, false]);
    expect(db.parked.get(keyOf(conv('a', '')))!.nextAttemptAt).toEqual(clock.now());
    expect(db.decisions.get(keyOf(conv('c', '')))).toMatchObject({ reason: 'UNKNOWN_CLICK_ID' });
    // Redelivered while parked: still parked, nothing new.
    expect((await batch([conv('a', 'late-click')]))[0]).toMatchObject({ parked: true, emitted: false });
  });

  it('settles parked conversions when their click arrives', async () => {
    const { db, flow, batch } = setup();
    await batch([conv('a', 'k9'), conv('b', 'k9', { conversionId: 'b', occurredAt: new Date(T0 + MS_PER_DAY + 2000) })]);
    db.clicks.set('k9', click('k9', 0));
    const settled = await new FakeUow(db).run((tx) => flow.settleParkedForClicks(tx, ['k9']));
    expect(settled).toBe(2);
    expect(db.parked.size).toBe(0);
    expect([...db.decisions.values()].map((d) => d.creditedClickId)).toEqual(['k9', 'k9']);
  });

  it('parks an RPC conversion whose click is not projected yet, even one tracking knows, and never calls tracking (RPC)', async () => {
    const { db, tracking, flow } = setup();
    // The contact's earlier click may still be on its way behind this one: crediting now could credit the wrong click.
    tracking.known.set('kt', click('kt', 0));
    expect(await flow.attribute(conv('a', 'kt'))).toMatchObject({ parked: true });
    expect(db.clicks.has('kt')).toBe(false);
    expect(tracking.calls).toEqual([]);
    // Its event arrives: the contact's first click (k0, earlier on the stream) came with it and gets the credit.
    db.clicks.set('k0', click('k0', -60));
    db.clicks.set('kt', click('kt', 0));
    expect(await new FakeUow(db).run((tx) => flow.settleParkedForClicks(tx, ['kt']))).toBe(1);
    expect(db.decisions.get(keyOf(conv('a', '')))!.creditedClickId).toBe('k0');
  });

  it('sweeps due parked conversions: a click only tracking knows waits for its event until the horizon, then is taken from tracking; unknown settles at the horizon; unreachable is kept', async () => {
    const { db, clock, tracking, flow, batch } = setup();
    await batch([conv('a', 'ka'), conv('b', 'kb'), conv('c', 'kc')], { retryNow: true });
    tracking.known.set('ka', click('ka', 0));
    // Before the horizon tracking is not asked: every conversion waits for its click's event.
    expect(await flow.sweepParked()).toBe(0);
    expect(tracking.calls).toEqual([]);
    expect(db.parked.get(keyOf(conv('a', '')))!.attempts).toBe(1);

    clock.set(new Date(clock.now().getTime() + HORIZON_MS));
    tracking.down = true;
    expect(await flow.sweepParked()).toBe(0);
    expect(db.parked.get(keyOf(conv('b', '')))!.lastError).toMatch(/unreachable/);
    tracking.down = false;
    clock.set(new Date(clock.now().getTime() + HORIZON_MS));
    expect(await flow.sweepParked()).toBe(3);
    expect(db.decisions.get(keyOf(conv('a', '')))!.creditedClickId).toBe('ka');
    expect(db.decisions.get(keyOf(conv('b', '')))).toMatchObject({ reason: 'UNKNOWN_CLICK_ID' });
    expect(db.parked.size).toBe(0);
  });

  it('decides again as DUPLICATE when a concurrent twin took the fingerprint first', async () => {
    const { db, batch } = setup();
    db.clicks.set('k1', click('k1', 0));
    const [twin] = await batch([conv('twin', 'k1')]);
    const twinRow = db.decisions.get(keyOf(conv('twin', '')))!;
    db.decisions.clear();
    db.events = [];
    db.concurrent = twinRow; // committed by another replica between our load and our insert
    const [res] = await batch([conv('mine', 'k1', { occurredAt: new Date(twin.attribution.occurredAt!.getTime() + 1) })]);
    expect(res.attribution).toMatchObject({ outcome: 2, reason: expect.anything() });
    expect(db.decisions.get(keyOf(conv('mine', '')))).toMatchObject({ outcome: 'UNATTRIBUTED', reason: 'DUPLICATE' });
  });
});
