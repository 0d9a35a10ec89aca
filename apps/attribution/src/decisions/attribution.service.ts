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
import { ProjectionsRepository } from '../projections/projections.repository';
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
