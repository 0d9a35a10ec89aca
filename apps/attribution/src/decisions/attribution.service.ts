import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { CLOCK, Clock, NotFoundError, assertId } from '@trackly/kernel';
import { Events, Outbox, OutboxRelay } from '@trackly/messaging';
import type { Attribution } from '@trackly/contracts/attribution/v1/attribution';
import { AttributionPolicy, decide, lookback } from '../domain/first-click.rules';
import { ConversionToDecide } from '../domain/conversion-input.rules';
import { ProjectionsRepository } from '../projections/projections.repository';
import { ATTRIBUTION_CONFIG } from '../attribution.tokens';
import type { AttributionConfig } from '../attribution.config';
import { ClickResolver } from './click-resolver';
import { DecisionEntity } from './decision.entity';
import { toAttribution } from './attribution.mappers';

/**
 * Makes each conversion's decision exactly once and durably: the decision row (unique per partner + conversion)
 * and its event commit together; asking again returns the first decision unchanged.
 */
@Injectable()
export class AttributionService {
  private readonly policy: AttributionPolicy;

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
  }

  /** Decides in its own transaction (gRPC callers). */
  async attribute(conv: ConversionToDecide): Promise<{ attribution: Attribution; alreadyDecided: boolean }> {
    const result = await this.ds.transaction((m) => this.attributeWithin(m, conv));
    if (!result.alreadyDecided) this.relay.kick();
    return result;
  }

  /** Decides inside the caller's transaction (the ConversionReceived consumer's, with its processed-event record). */
  async attributeWithin(m: EntityManager, conv: ConversionToDecide): Promise<{ attribution: Attribution; alreadyDecided: boolean }> {
    const existing = await m.findOneBy(DecisionEntity, { partnerId: conv.partnerId, conversionId: conv.conversionId });
    if (existing) return { attribution: toAttribution(existing), alreadyDecided: true };

    const named = await this.clicks.resolve(m, conv.clickId);
    const windowDays = named ? await this.projections.offerWindowDays(m, named.offerId) : null;
    const span = lookback(conv.occurredAt, windowDays ?? this.policy.defaultWindowDays);
    const contactClicks = named ? await this.projections.clicksInWindow(m, named.contactId, named.offerId, span.from, span.to) : [];
    const d = decide(
      { partnerId: conv.partnerId, conversionId: conv.conversionId, reportedClickId: conv.clickId, occurredAt: conv.occurredAt, status: conv.status, payout: conv.payout },
      named,
      contactClicks,
      windowDays,
      this.policy,
    );
    const credited = d.outcome === 'ATTRIBUTED' ? d.credited : d.named;
    const row = m.create(DecisionEntity, {
      partnerId: conv.partnerId,
      conversionId: conv.conversionId,
      conversionRef: conv.conversionRef,
      outcome: d.outcome,
      reason: d.outcome === 'UNATTRIBUTED' ? d.reason : null,
      type: d.outcome === 'ATTRIBUTED' ? d.type : null,
      reportedClickId: conv.clickId,
      creditedClickId: d.outcome === 'ATTRIBUTED' ? d.credited.clickId : null,
      // Unattributed decisions still name the matched click's message, so troubleshooting can show it.
      messageId: credited?.messageId ?? null,
      contactId: credited?.contactId ?? null,
      offerId: credited?.offerId ?? null,
      campaignId: credited?.campaignId ?? null,
      creativeId: credited?.creativeId ?? null,
      payoutMicros: conv.payout.micros,
      currency: conv.payout.currency,
      status: conv.status,
      occurredAt: conv.occurredAt,
      creditedClickedAt: d.outcome === 'ATTRIBUTED' ? d.credited.clickedAt : null,
      windowDays: d.windowDays,
      decidedAt: this.clock.now(),
      explanation: d.explanation,
    });
    const inserted = await m
      .createQueryBuilder()
      .insert()
      .into(DecisionEntity)
      .values(row)
      .orIgnore()
      .returning('partner_id')
      .execute();
    if (!inserted.raw.length) {
      // Decided concurrently by another caller: theirs stands.
      const winner = await m.findOneByOrFail(DecisionEntity, { partnerId: conv.partnerId, conversionId: conv.conversionId });
      return { attribution: toAttribution(winner), alreadyDecided: true };
    }
    const attribution = toAttribution(row);
    await this.outbox.add(m, d.outcome === 'ATTRIBUTED' ? Events.ConversionAttributed : Events.ConversionUnattributed, { attribution });
    return { attribution, alreadyDecided: false };
  }

  async get(partnerId: string, conversionId: string): Promise<Attribution> {
    assertId(partnerId, 'partner_id');
    assertId(conversionId, 'conversion_id');
    const row = await this.ds.getRepository(DecisionEntity).findOneBy({ partnerId, conversionId });
    if (!row) throw new NotFoundError('attribution for conversion', `${partnerId}/${conversionId}`);
    return toAttribution(row);
  }
}
