import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { assertId, CLOCK, Clock } from '@trackly/kernel';
import { Events, Outbox, OutboxRelay } from '@trackly/messaging';
import type { OfferRules as WireOfferRules } from '@trackly/contracts/attribution/v1/attribution';
import { offerRulesFromWire, offerRulesToWire } from '../flow/wire';
import { OfferRulesRepository } from './offer-rules.repository';

/** Offers' caps and hold periods: set (replacing, with an OfferRulesChanged event in the same transaction) and read. */
@Injectable()
export class OfferRulesService {
  constructor(
    private readonly ds: DataSource,
    private readonly repo: OfferRulesRepository,
    private readonly outbox: Outbox,
    private readonly relay: OutboxRelay,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async set(wire: WireOfferRules | undefined): Promise<WireOfferRules> {
    const rules = offerRulesFromWire(wire);
    const out = await this.ds.transaction(async (m) => {
      const saved = await this.repo.save(m, rules, this.clock.now());
      const w = offerRulesToWire(saved, saved.updatedAt);
      await this.outbox.add(m, Events.OfferRulesChanged, { rules: w });
      return w;
    });
    this.relay.kick();
    return out;
  }

  async get(offerId: string): Promise<WireOfferRules> {
    assertId(offerId, 'offer_id');
    const found = (await this.repo.rulesOf(this.ds.manager, [offerId])).get(offerId);
    return found
      ? offerRulesToWire(found, found.updatedAt)
      : offerRulesToWire({ offerId, timeZone: '', caps: [], overCapAction: 'REFUSE', holdDays: 0 }, undefined);
  }
}
