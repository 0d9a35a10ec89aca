/**
 * The one load–decide–save flow every decision goes through: live conversions (a pull's batch), the
 * AttributeConversion RPC (a batch of one), parked conversions whose click arrived or whose horizon passed,
 * adjustments that decide again, and re-attribution chunks.
 *
 * 1. load every fact the batch needs in one reader call: which conversions are decided already, the named clicks
 *    as the projection has them, sends, offer terms and rules, windowed clicks and sends, credited twins;
 * 2. park the conversions naming a click the projection lacks (tracking is asked only with no transaction open: by
 *    the backoff timer between its read and its write);
 * 3. decide the rest in memory, in order, twins credited earlier in the batch honoured (`decideInOrder`);
 * 4. save the decisions and their outbox rows in one write.
 */
import { Attribution, UnattributedReason } from '@trackly/contracts/attribution/v1/attribution';
import type { Clock } from '@trackly/kernel';
import { AttributionPolicy, ClickFact, ConversionFacts, Decision, fingerprint, nextParkAttempt, RULE_VERSION } from '../domain/first-click.rules';
import { CreditLedger, decideInOrder } from '../domain/decide-in-order.rules';
import type { ConversionToDecide } from '../domain/conversion-input.rules';
import { DecisionEntity } from '../decisions/decision.entity';
import type { ParkedConversionEntity } from '../decisions/parked.entity';
import { parkedToAttribution, toAttribution } from '../decisions/attribution.mappers';
import { conversionFromParked } from './wire';
import {
  BatchFacts,
  ClickProjectionWriter,
  ConversionKey,
  DecisionFactsReader,
  DecisionStore,
  keyOf,
  LoadedInput,
  TrackedClick,
  TrackingClicks,
  Tx,
  UnitOfWork,
} from './ports';

const PLAUSIBLE_CLICK_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** Tracking never issues other click ids: such a conversion cannot be waited for. */
export const isPlausibleClickId = (clickId: string): boolean => PLAUSIBLE_CLICK_ID.test(clickId);

export interface AttributeResult {
  attribution: Attribution;
  alreadyDecided: boolean;
  /** True when the conversion is parked (outcome PENDING): no decision, no event yet. */
  parked: boolean;
  /** True when this call wrote events to the outbox (kick the relay after commit). */
  emitted: boolean;
}

export interface FlowSettings {
  policy: AttributionPolicy;
  /** How long an unknown click id is waited for. */
  horizonMs: number;
}

export interface DecideOptions {
  /** Unknown click ids are settled UNKNOWN_CLICK_ID instead of parked (the horizon has passed). */
  final?: boolean;
  /** First retry of a newly parked conversion: now (tracking not asked yet) or after the backoff base. */
  retryNow?: boolean;
}

/** A re-decision of a stored decision: the row it would now be, and whether it takes a released fingerprint. */
export interface Redecided {
  row: DecisionEntity;
  takesReleased: boolean;
}

export function factsOf(conv: ConversionToDecide): ConversionFacts {
  return {
    partnerId: conv.partnerId,
    conversionId: conv.conversionId,
    reportedClickId: conv.clickId,
    messageId: conv.messageId,
    occurredAt: conv.occurredAt,
    status: conv.status,
    payout: conv.payout,
    payoutAbsent: conv.payoutAbsent,
    test: conv.test,
  };
}

/** The decision row a verdict makes (decided now, revision 0). */
export function decisionRow(conv: ConversionToDecide, d: Decision, fp: string | null, now: Date): DecisionEntity {
  const touch = d.touch;
  const credited = d.outcome === 'ATTRIBUTED';
  return Object.assign(new DecisionEntity(), {
    partnerId: conv.partnerId,
    conversionId: conv.conversionId,
    conversionRef: conv.conversionRef,
    outcome: d.outcome,
    reason: d.reason ?? null,
    type: d.type ?? null,
    reportedClickId: conv.clickId,
    creditedClickId: credited && touch?.clickId ? touch.clickId : null,
    // Unattributed decisions still name the matched click's message, so troubleshooting can show it.
    messageId: touch?.messageId ?? null,
    contactId: touch?.contactId ?? null,
    offerId: touch?.offerId ?? null,
    campaignId: touch?.campaignId ?? null,
    creativeId: touch?.creativeId ?? null,
    payoutMicros: d.payout.micros,
    currency: d.payout.currency,
    status: d.status,
    occurredAt: conv.occurredAt,
    creditedClickedAt: credited && touch ? touch.at : null,
    windowDays: d.windowDays,
    decidedAt: now,
    explanation: d.explanation,
    ruleVersion: RULE_VERSION,
    rule: d.rule,
    windowSource: d.windowSource,
    conversionMessageId: conv.messageId,
    fingerprint: fp,
    revision: 0,
    updatedAt: null,
    test: conv.test,
    source: conv.source,
    payoutDefaulted: d.payoutDefaulted,
    overCap: d.overCap,
    holdUntil: d.holdUntil ?? null,
  });
}

export class DecisionFlow {
  constructor(
    private readonly uow: UnitOfWork,
    private readonly reader: DecisionFactsReader,
    private readonly store: DecisionStore,
    private readonly clicks: ClickProjectionWriter,
    private readonly tracking: TrackingClicks,
    private readonly clock: Clock,
    private readonly settings: FlowSettings,
  ) {}

  get policy(): AttributionPolicy {
    return this.settings.policy;
  }

  /** First retry after a thirtieth of the horizon (at most 30 s), doubling from there. */
  get retryBaseMs(): number {
    return Math.max(100, Math.min(30_000, Math.floor(this.settings.horizonMs / 30)));
  }

  /**
   * The RPC: a batch of one in its own transaction. A click missing from the projection parks the conversion
   * (PENDING), even when tracking knows the click: its event has not arrived, and neither may the contact's earlier
   * clicks that come before it on the same stream, so crediting now could credit a later click than the first. The
   * click's event settles it (settleParkedForClicks) moments later.
   */
  async attribute(conv: ConversionToDecide): Promise<AttributeResult> {
    return this.uow.run(async (tx) => {
      const [result] = await this.decideWithin(tx, [conv], {});
      return result;
    });
  }

  /**
   * Decides a batch inside the caller's transaction, in order: a conversion decided before (or earlier in the
   * batch) gets that decision back, one naming a click unknown to the projection is parked (unless `final`), the
   * rest are decided together and saved in one write. The facts of the whole batch, and which conversions are
   * decided already, come from one reader call: the common case is one read and one write.
   */
  async decideWithin(tx: Tx, convs: ConversionToDecide[], opts: DecideOptions = {}): Promise<AttributeResult[]> {
    const results: (AttributeResult | undefined)[] = new Array(convs.length);
    const firstAt = new Map<string, number>();
    const unique: number[] = [];
    convs.forEach((c, i) => {
      const k = keyOf(c);
      if (!firstAt.has(k)) {
        firstAt.set(k, i);
        unique.push(i);
      }
    });
    const loaded = await this.load(tx, unique.map((i) => convs[i]));
    // Decided before this batch (a redelivery under another event id): read back only those.
    const stored = unique.filter((i) => loaded.decided.has(keyOf(convs[i])));
    const existing = stored.length ? await this.store.findDecisions(tx, stored.map((i) => convs[i])) : new Map<string, DecisionEntity>();
    const toPark: number[] = [];
    const toDecide: number[] = [];
    const inputs: LoadedInput[] = [];
    unique.forEach((i, n) => {
      const c = convs[i];
      const before = existing.get(keyOf(c));
      if (before) {
        results[i] = { attribution: toAttribution(before), alreadyDecided: true, parked: false, emitted: false };
        return;
      }
      const unknown = !!c.clickId && isPlausibleClickId(c.clickId) && !loaded.inputs[n].named;
      if (unknown && !opts.final) toPark.push(i);
      else {
        toDecide.push(i);
        inputs.push(loaded.inputs[n]);
      }
    });
    if (toPark.length) {
      const now = this.clock.now();
      const horizonAt = new Date(now.getTime() + this.settings.horizonMs);
      const next = opts.retryNow ? now : nextParkAttempt(now, 0, horizonAt, this.retryBaseMs);
      const parked = await this.store.park(tx, toPark.map((i) => convs[i]), now, next, horizonAt);
      const byKey = new Map(parked.map((p) => [keyOf(p), p]));
      for (const i of toPark) {
        const p = byKey.get(keyOf(convs[i]));
        if (!p) throw new Error(`parking ${convs[i].partnerId}/${convs[i].conversionId} left no row`);
        results[i] = { attribution: parkedToAttribution(p), alreadyDecided: false, parked: true, emitted: false };
      }
    }
    if (toDecide.length) {
      const decided = await this.save(tx, toDecide.map((i) => convs[i]), { inputs, holders: loaded.holders });
      toDecide.forEach((i, n) => (results[i] = decided[n]));
    }
    // A conversion twice in one batch: the second occurrence gets the first one's verdict back.
    convs.forEach((c, i) => {
      if (results[i]) return;
      const first = results[firstAt.get(keyOf(c))!]!;
      results[i] = { ...first, alreadyDecided: !first.parked, emitted: false };
    });
    return results as AttributeResult[];
  }

  /** Step 2 for these conversions: one reader call (their named clicks resolved from the projection). */
  private load(tx: Tx, convs: ConversionToDecide[]): Promise<BatchFacts> {
    return this.reader.load(
      tx,
      convs.map((c) => {
        const facts = factsOf(c);
        return { key: c, facts, fp: fingerprint(facts), clickId: c.clickId && isPlausibleClickId(c.clickId) ? c.clickId : '' };
      }),
      this.policy.defaultWindowDays,
    );
  }

  /**
   * Decide in order and insert, from facts loaded for exactly these conversions; a conversion that lost a race to a
   * concurrent twin is loaded and decided again (DUPLICATE).
   */
  private async save(tx: Tx, convs: ConversionToDecide[], facts: Pick<BatchFacts, 'inputs' | 'holders'>): Promise<AttributeResult[]> {
    const results: AttributeResult[] = new Array(convs.length);
    let pending = convs.map((_, i) => i);
    for (let attempt = 0; pending.length; attempt++) {
      const batch = pending.map((i) => convs[i]);
      const loaded = attempt === 0 ? facts : await this.load(tx, batch);
      const rows = (await this.decideRows(tx, batch, loaded)).map((r) => r.row);
      const inserted = await this.store.insertDecisions(tx, rows);
      const lost: number[] = [];
      pending.forEach((i, n) => {
        if (inserted.has(keyOf(rows[n]))) results[i] = { attribution: toAttribution(rows[n]), alreadyDecided: false, parked: false, emitted: true };
        else lost.push(i);
      });
      if (!lost.length) break;
      const winners = await this.store.findDecisions(tx, lost.map((i) => convs[i]));
      pending = [];
      for (const i of lost) {
        const w = winners.get(keyOf(convs[i]));
        // Decided concurrently by another caller: theirs stands.
        if (w) results[i] = { attribution: toAttribution(w), alreadyDecided: true, parked: false, emitted: false };
        else pending.push(i);
      }
      // Not our key: a credited twin committed meanwhile; the next load sees it, so this one is DUPLICATE.
      if (pending.length && attempt > 0) {
        const c = convs[pending[0]];
        throw new Error(`decision for ${c.partnerId}/${c.conversionId} conflicted and no winner is visible`);
      }
    }
    return results;
  }

  /** Step 3 for conversions whose facts are loaded (in the same order): cap usage when rules apply, then decisions in order. */
  private async decideRows(
    tx: Tx,
    convs: ConversionToDecide[],
    loaded: Pick<BatchFacts, 'inputs' | 'holders'>,
    before?: (DecisionEntity | undefined)[],
    apply = true,
  ): Promise<Redecided[]> {
    const fps = convs.map((c) => fingerprint(factsOf(c)));
    // One usage map shared by the batch: each credit decided in order counts against the caps of the next.
    const usage = loaded.inputs.some((x) => x.rules) ? await this.reader.capUsage(tx, loaded.inputs) : undefined;
    const ledger = new CreditLedger(new Map(loaded.holders));
    const decided = decideInOrder(
      loaded.inputs.map((input, i) => ({
        input: input.rules ? { ...input, usage } : input,
        fp: fps[i],
        before: before?.[i] ? { credited: before[i]!.outcome === 'ATTRIBUTED', fp: before[i]!.fingerprint } : undefined,
      })),
      ledger,
      this.policy,
      apply,
    );
    const now = this.clock.now();
    return decided.map((d, i) => ({ row: decisionRow(convs[i], d.decision, fps[i], now), takesReleased: d.takesReleased }));
  }

  /**
   * Decides stored conversions again from their facts and the current projections, without saving (re-attribution
   * chunks, an adjustment that un-rejects): the rows they would now be, in order. Named clicks come from the
   * projection only (no tracking call under the caller's transaction). `apply: false` (a dry run) decides each
   * against the stored credits only.
   */
  async redecide(tx: Tx, items: { conv: ConversionToDecide; before?: DecisionEntity }[], apply = true): Promise<Redecided[]> {
    if (!items.length) return [];
    const convs = items.map((x) => x.conv);
    return this.decideRows(tx, convs, await this.load(tx, convs), items.map((x) => x.before), apply);
  }

  /** ConversionSettled for the parked conversions these results decided; returns how many. */
  private async settled(tx: Tx, results: AttributeResult[]): Promise<number> {
    const decided = results.filter((r) => r.emitted);
    await this.store.settled(
      tx,
      decided.map((r) => ({ attribution: r.attribution, expired: r.attribution.reason === UnattributedReason.UNATTRIBUTED_REASON_UNKNOWN_CLICK_ID })),
    );
    return decided.length;
  }

  /** Parked conversions naming these clicks (just written to the projection, in the caller's transaction). */
  async settleParkedForClicks(tx: Tx, clickIds: string[]): Promise<number> {
    if (!clickIds.length) return 0;
    const parked = await this.store.parkedForClicks(tx, clickIds);
    if (!parked.length) return 0;
    const results = await this.decideWithin(tx, parked.map(conversionFromParked), {});
    return this.settled(tx, results);
  }

  /**
   * One pass of the backoff timer over due parked conversions. A click in the projection settles its conversion (its
   * event arrived after the park). A click only tracking knows does not, before the horizon: its event, and the
   * contact's earlier clicks ahead of it on the stream, are still on their way, and deciding without them could credit
   * the wrong click; the click's event settles it. At the horizon a click tracking knows is taken from tracking (its
   * event was lost: best effort, said in the explanation's rule trail) and one it does not know settles as unknown.
   * Tracking is asked with no transaction open; unreachable keeps a conversion parked, even past its horizon.
   * Returns how many were settled.
   */
  async sweepParked(limit = 100): Promise<number> {
    const now = this.clock.now();
    const due = await this.store.dueParked(now, limit);
    if (!due.length) return 0;
    const ids = [...new Set(due.map((d) => d.clickId).filter((id) => !!id && isPlausibleClickId(id)))];
    const local = ids.length ? await this.uow.run((tx) => this.reader.findClicks(tx, ids)) : new Map<string, ClickFact>();
    // Only conversions past their horizon need tracking's answer: the others wait for the click's event either way.
    const askIds = new Set(due.filter((d) => now.getTime() >= d.horizonAt.getTime()).map((d) => d.clickId).filter((id) => ids.includes(id) && !local.has(id)));
    const fetched: TrackedClick[] = [];
    const unreachable = new Map<string, string>();
    for (const id of askIds) {
      try {
        const c = await this.tracking.getClick(id);
        if (c) fetched.push(c);
      } catch (e) {
        unreachable.set(id, (e as Error).message);
      }
    }
    return this.uow.run(async (tx) => {
      const rows = await this.store.lockParked(tx, due);
      if (fetched.length) await this.clicks.saveClicks(tx, fetched);
      const settle: ParkedConversionEntity[] = [];
      const later: { key: ConversionKey; nextAttemptAt: Date; error: string | null }[] = [];
      for (const p of rows) {
        const error = unreachable.get(p.clickId) ?? null;
        const pastHorizon = now.getTime() >= p.horizonAt.getTime();
        if (local.has(p.clickId) || !isPlausibleClickId(p.clickId) || (pastHorizon && error === null)) settle.push(p);
        else {
          // Past the horizon only an unreachable tracking keeps it parked: try again after the base delay.
          const nextAttemptAt = pastHorizon ? new Date(now.getTime() + this.retryBaseMs) : nextParkAttempt(now, p.attempts + 1, p.horizonAt, this.retryBaseMs);
          later.push({ key: p, nextAttemptAt, error });
        }
      }
      if (later.length) await this.store.reschedule(tx, later);
      if (!settle.length) return 0;
      const results = await this.decideWithin(tx, settle.map(conversionFromParked), { final: true });
      return this.settled(tx, results);
    });
  }
}
