import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { CLOCK, Clock, NotFoundError, assertId } from '@trackly/kernel';
import { Events, Outbox, OutboxRelay } from '@trackly/messaging';
import type { Attribution } from '@trackly/contracts/attribution/v1/attribution';
import {
  AttributionPolicy,
  ClickFact,
  ConversionFacts,
  ConversionStatus,
  decide,
  Decision,
  fingerprint,
  lookback,
  NO_OFFER_TERMS,
  nextParkAttempt,
  OfferTerms,
  RULE_VERSION,
  SendFact,
} from '../domain/first-click.rules';
import { ConversionToDecide } from '../domain/conversion-input.rules';
import { CLICKS_IN_WINDOW_LIMIT, ProjectionsRepository, WindowRequest } from '../projections/projections.repository';
import { ATTRIBUTION_CONFIG } from '../attribution.tokens';
import type { AttributionConfig } from '../attribution.config';
import { ClickResolver, isPlausibleClickId } from './click-resolver';
import { DecisionEntity } from './decision.entity';
import { ParkedConversionEntity } from './parked.entity';
import { parkedToAttribution, toAttribution } from './attribution.mappers';

export interface AttributeResult {
  attribution: Attribution;
  alreadyDecided: boolean;
  /** True when the conversion is parked (outcome PENDING): no decision, no event yet. */
  parked: boolean;
  /** True when this call wrote events to the outbox (kick the relay after commit). */
  emitted: boolean;
}

/** Everything the rules were given for one decision. */
export interface DecisionContext {
  named?: ClickFact;
  contactClicks: ClickFact[];
  offer: OfferTerms;
  referencedSend?: SendFact;
  contactSends: SendFact[];
  duplicateOf?: string;
}

/** One conversion of a batch `contexts` call: its facts, its resolved named click, and clicks it must not see yet. */
export interface ContextRequest {
  facts: ConversionFacts;
  named?: ClickFact;
  /** Clicks the resolver saved into the projection for later conversions of the batch (the per-row path had not yet). */
  hidden?: ReadonlySet<string>;
}

/** A conversion ready to be decided again in a batch: `ctx.duplicateOf` is set from `CreditedTwins` at its turn. */
export interface Redecision {
  conv: ConversionToDecide;
  facts: ConversionFacts;
  fp: string | null;
  ctx: DecisionContext;
}

/**
 * The credited decision holding each fingerprint (as the decisions table has it), kept up to date in memory as a
 * re-attribution run changes decisions, so a batch sees its own earlier changes as the per-row path's queries did.
 */
export class CreditedTwins {
  /** Fingerprints freed by a change of this batch, and by which conversion. */
  private readonly released = new Map<string, string>();

  constructor(private readonly holders: Map<string, string>) {}

  /** What `creditedTwin(fp, conversionId)` would return now. */
  twinOf(fp: string | null, conversionId: string): string | undefined {
    if (!fp) return undefined;
    const holder = this.holders.get(fp);
    return holder !== undefined && holder !== conversionId ? holder : undefined;
  }

  /**
   * Records a decision's change (before → after, both as rows). Returns true when it takes a fingerprint another
   * conversion of this batch released: then one multi-row UPDATE could trip the unique index mid-statement, and the
   * changes must be written one by one in order.
   */
  moved(before: DecisionEntity, after: DecisionEntity): boolean {
    if (before.outcome === 'ATTRIBUTED' && before.fingerprint && this.holders.get(before.fingerprint) === before.conversionId) {
      this.holders.delete(before.fingerprint);
      this.released.set(before.fingerprint, before.conversionId);
    }
    if (after.outcome !== 'ATTRIBUTED' || !after.fingerprint) return false;
    this.holders.set(after.fingerprint, after.conversionId);
    const by = this.released.get(after.fingerprint);
    return by !== undefined && by !== after.conversionId;
  }
}

/**
 * Makes each conversion's decision exactly once and durably: the decision row (unique per partner + conversion, and
 * per duplicate fingerprint among credited ones) and its event commit together; asking again returns the first
 * decision unchanged. A conversion naming a click nobody knows yet is parked (PENDING) instead of settled.
 */
@Injectable()
export class AttributionService {
  readonly policy: AttributionPolicy;
  private readonly horizonMs: number;

  constructor(
    private readonly ds: DataSource,
    private readonly outbox: Outbox,
    private readonly relay: OutboxRelay,
    private readonly projections: ProjectionsRepository,
    private readonly clicks: ClickResolver,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ATTRIBUTION_CONFIG) config: AttributionConfig,
  ) {
    this.policy = {
      defaultWindowDays: config.ATTRIBUTION_DEFAULT_WINDOW_DAYS,
      directSessionMs: config.ATTRIBUTION_DIRECT_SESSION_MINUTES * 60_000,
    };
    this.horizonMs = config.ATTRIBUTION_PARK_HORIZON_SECONDS * 1000;
  }

  /** Decides in its own transaction (gRPC callers). */
  async attribute(conv: ConversionToDecide): Promise<AttributeResult> {
    const result = await this.ds.transaction((m) => this.attributeWithin(m, conv));
    if (result.emitted) this.relay.kick();
    return result;
  }

  /**
   * Decides inside the caller's transaction (the ConversionReceived consumer's, with its processed-event record).
   * An unknown (but plausible) click id parks the conversion unless `final` (the park horizon has passed).
   */
  async attributeWithin(m: EntityManager, conv: ConversionToDecide, opts: { final?: boolean } = {}): Promise<AttributeResult> {
    const existing = await m.findOneBy(DecisionEntity, { partnerId: conv.partnerId, conversionId: conv.conversionId });
    if (existing) return { attribution: toAttribution(existing), alreadyDecided: true, parked: false, emitted: false };

    const named = await this.clicks.resolve(m, conv.clickId);
    if (conv.clickId && !named && isPlausibleClickId(conv.clickId) && !opts.final) return this.park(m, conv);
    return this.settle(m, conv, named);
  }

  private async park(m: EntityManager, conv: ConversionToDecide): Promise<AttributeResult> {
    const now = this.clock.now();
    const horizonAt = new Date(now.getTime() + this.horizonMs);
    // Concurrent callers and redeliveries park it once; the first parking's facts and horizon stand.
    await m.query(
      `INSERT INTO "attribution".parked_conversions (partner_id, conversion_id, conversion_ref, click_id, message_id, payout_micros,
         currency, status, occurred_at, parked_at, attempts, next_attempt_at, horizon_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, $12) ON CONFLICT (partner_id, conversion_id) DO NOTHING`,
      [
        conv.partnerId, conv.conversionId, conv.conversionRef, conv.clickId, conv.messageId, conv.payout.micros.toString(), conv.payout.currency,
        conv.status, conv.occurredAt, now, nextParkAttempt(now, 0, horizonAt, this.retryBaseMs), horizonAt,
      ],
    );
    const parked = await m.findOneByOrFail(ParkedConversionEntity, { partnerId: conv.partnerId, conversionId: conv.conversionId });
    return { attribution: parkedToAttribution(parked), alreadyDecided: false, parked: true, emitted: false };
  }

  /** First retry after a thirtieth of the horizon (at most 30 s), doubling from there. */
  get retryBaseMs(): number {
    return Math.max(100, Math.min(30_000, Math.floor(this.horizonMs / 30)));
  }

  /** Gathers what the rules need from the projections. */
  async context(m: EntityManager, facts: ConversionFacts, named: ClickFact | undefined): Promise<DecisionContext> {
    const referencedSend = facts.messageId ? await this.projections.findSend(m, facts.messageId) : undefined;
    const offerId = named?.offerId ?? referencedSend?.offerId;
    const offer = offerId ? await this.projections.offerTerms(m, offerId) : NO_OFFER_TERMS;
    const windowDays = offer.clickWindowDays ?? this.policy.defaultWindowDays;
    const span = lookback(facts.occurredAt, windowDays);
    const contactClicks = named ? await this.projections.clicksInWindow(m, named.contactId, named.offerId, span.from, span.to) : [];
    let contactSends: SendFact[] = [];
    if (referencedSend && offer.viewThroughWindowDays != null) {
      const view = lookback(facts.occurredAt, offer.viewThroughWindowDays);
      contactSends = await this.projections.sendsInWindow(m, referencedSend.contactId, referencedSend.offerId, view.from, view.to);
    }
    return { named, contactClicks, offer, referencedSend, contactSends };
  }

  /**
   * `context` for many conversions at once, in a few set-based queries: each result equals what `context` returns
   * for that conversion (clicks listed in `hidden` left out, as if not yet in the projection).
   */
  async contexts(m: EntityManager, items: ContextRequest[]): Promise<DecisionContext[]> {
    const sends = await this.projections.findSends(m, items.map((x) => x.facts.messageId).filter((id) => !!id));
    const referenced = items.map((x) => (x.facts.messageId ? sends.get(x.facts.messageId) : undefined));
    const offerIds = items.map((x, i) => x.named?.offerId ?? referenced[i]?.offerId);
    const terms = await this.projections.offerTermsOf(m, offerIds.filter((id): id is string => !!id));
    const offers = offerIds.map((id) => (id ? terms.get(id) ?? NO_OFFER_TERMS : NO_OFFER_TERMS));

    const clickReqs: WindowRequest[] = [];
    const clickRows: number[] = [];
    const sendReqs: WindowRequest[] = [];
    const sendRows: number[] = [];
    items.forEach((x, i) => {
      if (x.named) {
        const span = lookback(x.facts.occurredAt, offers[i].clickWindowDays ?? this.policy.defaultWindowDays);
        // Hidden clicks may take places under the limit: ask for that many more, drop them, then cut.
        const limit = CLICKS_IN_WINDOW_LIMIT + (x.hidden?.size ?? 0);
        clickReqs.push({ contactId: x.named.contactId, offerId: x.named.offerId, from: span.from, to: span.to, limit });
        clickRows.push(i);
      }
      const send = referenced[i];
      if (send && offers[i].viewThroughWindowDays != null) {
        const view = lookback(x.facts.occurredAt, offers[i].viewThroughWindowDays!);
        sendReqs.push({ contactId: send.contactId, offerId: send.offerId, from: view.from, to: view.to });
        sendRows.push(i);
      }
    });
    const clicks = await this.projections.clicksInWindows(m, clickReqs);
    const contactSends = await this.projections.sendsInWindows(m, sendReqs);

    const out: DecisionContext[] = items.map((x, i) => ({ named: x.named, contactClicks: [], offer: offers[i], referencedSend: referenced[i], contactSends: [] }));
    clickRows.forEach((i, k) => {
      const hidden = items[i].hidden;
      out[i].contactClicks = hidden?.size ? clicks[k].filter((c) => !hidden.has(c.clickId)).slice(0, CLICKS_IN_WINDOW_LIMIT) : clicks[k];
    });
    sendRows.forEach((i, k) => (out[i].contactSends = contactSends[k]));
    return out;
  }

  /**
   * `redecide`'s reads for a chunk of conversions (in order), set-based. Named clicks missing from the projection go
   * through the resolver one by one, as before (it may ask tracking and save the click); a click saved that way
   * stays hidden from the chunk's earlier conversions, which the per-row path decided before it was saved.
   */
  async prepareRedecisions(m: EntityManager, convs: ConversionToDecide[]): Promise<{ items: Redecision[]; twins: CreditedTwins }> {
    const usable = (id: string) => !!id && isPlausibleClickId(id);
    const local = await this.projections.findClicks(m, convs.map((c) => c.clickId).filter(usable));
    const named: (ClickFact | undefined)[] = [];
    const appearedAt = new Map<string, number>();
    for (let i = 0; i < convs.length; i++) {
      const id = convs[i].clickId;
      const hit = usable(id) ? local.get(id) : undefined;
      if (hit || !usable(id)) {
        named.push(hit);
        continue;
      }
      const found = await this.clicks.resolve(m, id);
      if (found && !local.has(found.clickId) && !appearedAt.has(found.clickId)) appearedAt.set(found.clickId, i);
      named.push(found);
    }
    const facts = convs.map(factsOf);
    const hiddenFor = (i: number): Set<string> | undefined => {
      const later = [...appearedAt].filter(([, at]) => at > i).map(([id]) => id);
      return later.length ? new Set(later) : undefined;
    };
    const ctxs = await this.contexts(m, facts.map((f, i) => ({ facts: f, named: named[i], hidden: hiddenFor(i) })));
    const fps = facts.map(fingerprint);
    const twins = await this.creditedTwins(m, fps.filter((fp): fp is string => !!fp));
    return { items: convs.map((conv, i) => ({ conv, facts: facts[i], fp: fps[i], ctx: ctxs[i] })), twins };
  }

  /** The credited holder of each of these fingerprints (at most one each: a unique index enforces it). */
  async creditedTwins(m: EntityManager, fps: string[]): Promise<CreditedTwins> {
    if (!fps.length) return new CreditedTwins(new Map());
    const rows: { fingerprint: string; conversion_id: string }[] = await m.query(
      `SELECT fingerprint, conversion_id FROM "attribution".decisions
       WHERE fingerprint = ANY($1::text[]) AND outcome = 'ATTRIBUTED' AND fingerprint IS NOT NULL`,
      [[...new Set(fps)]],
    );
    return new CreditedTwins(new Map(rows.map((r) => [r.fingerprint, r.conversion_id])));
  }

  /** The credited conversion (another conversion id) holding this fingerprint, if any. */
  private async creditedTwin(m: EntityManager, fp: string | null, conversionId: string): Promise<string | undefined> {
    if (!fp) return undefined;
    const rows: { conversion_id: string }[] = await m.query(
      `SELECT conversion_id FROM "attribution".decisions WHERE fingerprint = $1 AND outcome = 'ATTRIBUTED' AND conversion_id <> $2`,
      [fp, conversionId],
    );
    return rows[0]?.conversion_id;
  }

  decideFor(facts: ConversionFacts, ctx: DecisionContext): Decision {
    return decide({ conversion: facts, ...ctx }, this.policy);
  }

  /** Decides and records the decision with its event; the parked row (if any) goes in the same transaction. */
  private async settle(m: EntityManager, conv: ConversionToDecide, named: ClickFact | undefined): Promise<AttributeResult> {
    const facts = factsOf(conv);
    const fp = fingerprint(facts);
    const ctx = await this.context(m, facts, named);
    ctx.duplicateOf = await this.creditedTwin(m, fp, conv.conversionId);
    for (let attempt = 0; ; attempt++) {
      const d = this.decideFor(facts, ctx);
      const row = this.rowOf(m, conv, d, fp);
      const inserted = await m.createQueryBuilder().insert().into(DecisionEntity).values(row).orIgnore().returning('partner_id').execute();
      await m.query(`DELETE FROM "attribution".parked_conversions WHERE partner_id = $1 AND conversion_id = $2`, [conv.partnerId, conv.conversionId]);
      if (inserted.raw.length) {
        const attribution = toAttribution(row);
        await this.outbox.add(m, d.outcome === 'ATTRIBUTED' ? Events.ConversionAttributed : Events.ConversionUnattributed, { attribution });
        return { attribution, alreadyDecided: false, parked: false, emitted: true };
      }
      const winner = await m.findOneBy(DecisionEntity, { partnerId: conv.partnerId, conversionId: conv.conversionId });
      // Decided concurrently by another caller: theirs stands.
      if (winner) return { attribution: toAttribution(winner), alreadyDecided: true, parked: false, emitted: false };
      // Not our key: a credited twin with the same fingerprint committed meanwhile, so this one is DUPLICATE.
      ctx.duplicateOf = await this.creditedTwin(m, fp, conv.conversionId);
      if (!ctx.duplicateOf || attempt > 0) throw new Error(`decision for ${conv.partnerId}/${conv.conversionId} conflicted and no winner is visible`);
    }
  }

  rowOf(m: EntityManager, conv: ConversionToDecide, d: Decision, fp: string | null): DecisionEntity {
    const touch = d.touch;
    const credited = d.outcome === 'ATTRIBUTED';
    return m.create(DecisionEntity, {
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
      payoutMicros: conv.payout.micros,
      currency: conv.payout.currency,
      status: conv.status,
      occurredAt: conv.occurredAt,
      creditedClickedAt: credited && touch ? touch.at : null,
      windowDays: d.windowDays,
      decidedAt: this.clock.now(),
      explanation: d.explanation,
      ruleVersion: RULE_VERSION,
      rule: d.rule,
      windowSource: d.windowSource,
      conversionMessageId: conv.messageId,
      fingerprint: fp,
      revision: 0,
      updatedAt: null,
    });
  }

  /** Decides a conversion again from its facts and the current projections (no insert): the row it would be. */
  async redecide(m: EntityManager, conv: ConversionToDecide): Promise<DecisionEntity> {
    const facts = factsOf(conv);
    const fp = fingerprint(facts);
    const named = await this.clicks.resolve(m, conv.clickId);
    const ctx = await this.context(m, facts, named);
    ctx.duplicateOf = await this.creditedTwin(m, fp, conv.conversionId);
    return this.rowOf(m, conv, this.decideFor(facts, ctx), fp);
  }

  /**
   * Retries parked conversions naming `clickId` (its ClickRecorded just arrived), inside the consumer's transaction.
   */
  async retryParkedForClick(m: EntityManager, clickId: string): Promise<number> {
    const parked = await m
      .createQueryBuilder(ParkedConversionEntity, 'p')
      .setLock('pessimistic_write')
      .where('p.click_id = :clickId', { clickId })
      .getMany();
    let settled = 0;
    for (const p of parked) {
      const named = await this.projections.findClick(m, p.clickId);
      if (!named) continue;
      await this.settleParked(m, p, named);
      settled++;
    }
    return settled;
  }

  /**
   * One backoff attempt for a due parked conversion (the sweeper's transaction): settled when the click is found or
   * the horizon has passed, else rescheduled. Returns true when it wrote events.
   */
  async retryParked(m: EntityManager, partnerId: string, conversionId: string): Promise<boolean> {
    const p = await m
      .createQueryBuilder(ParkedConversionEntity, 'p')
      .setLock('pessimistic_write')
      .setOnLocked('skip_locked')
      .where('p.partner_id = :partnerId AND p.conversion_id = :conversionId', { partnerId, conversionId })
      .getOne();
    if (!p) return false;
    const now = this.clock.now();
    let named: ClickFact | undefined;
    try {
      named = await this.clicks.resolve(m, p.clickId);
    } catch (e) {
      // Tracking unreachable is not "unknown click": keep waiting, even past the horizon.
      await this.reschedule(m, p, now, (e as Error).message);
      return false;
    }
    if (!named && now.getTime() < p.horizonAt.getTime()) {
      await this.reschedule(m, p, now, null);
      return false;
    }
    return (await this.settleParked(m, p, named)).emitted;
  }

  private async reschedule(m: EntityManager, p: ParkedConversionEntity, now: Date, error: string | null): Promise<void> {
    // Past the horizon only an unreachable tracking keeps it parked: try again after the base delay.
    const next = now.getTime() < p.horizonAt.getTime()
      ? nextParkAttempt(now, p.attempts + 1, p.horizonAt, this.retryBaseMs)
      : new Date(now.getTime() + this.retryBaseMs);
    await m.query(
      `UPDATE "attribution".parked_conversions SET attempts = attempts + 1, next_attempt_at = $3, last_error = $4
       WHERE partner_id = $1 AND conversion_id = $2`,
      [p.partnerId, p.conversionId, next, error],
    );
  }

  private settleParked(m: EntityManager, p: ParkedConversionEntity, named: ClickFact | undefined): Promise<AttributeResult> {
    return this.settle(m, parkedConversion(p), named);
  }

  /** Due parked conversions, oldest due first. */
  async dueParked(limit: number): Promise<{ partnerId: string; conversionId: string }[]> {
    const rows: { partner_id: string; conversion_id: string }[] = await this.ds.query(
      `SELECT partner_id, conversion_id FROM "attribution".parked_conversions WHERE next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2`,
      [this.clock.now(), limit],
    );
    return rows.map((r) => ({ partnerId: r.partner_id, conversionId: r.conversion_id }));
  }

  /** The decision, or the parked conversion as outcome PENDING. */
  async get(partnerId: string, conversionId: string): Promise<Attribution> {
    assertId(partnerId, 'partner_id');
    assertId(conversionId, 'conversion_id');
    const row = await this.ds.getRepository(DecisionEntity).findOneBy({ partnerId, conversionId });
    if (row) return toAttribution(row);
    const parked = await this.ds.getRepository(ParkedConversionEntity).findOneBy({ partnerId, conversionId });
    if (parked) return parkedToAttribution(parked);
    throw new NotFoundError('attribution for conversion', `${partnerId}/${conversionId}`);
  }
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
  };
}

export function parkedConversion(p: ParkedConversionEntity): ConversionToDecide {
  return {
    partnerId: p.partnerId,
    conversionId: p.conversionId,
    conversionRef: p.conversionRef,
    clickId: p.clickId,
    messageId: p.messageId,
    payout: { currency: p.currency, micros: p.payoutMicros },
    status: p.status as ConversionStatus,
    occurredAt: p.occurredAt,
  };
}
