import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager, MoreThan } from 'typeorm';
import { CLOCK, Clock, NotFoundError } from '@trackly/kernel';
import { Events, Outbox, OutboxRelay } from '@trackly/messaging';
import type { Campaign, Creative, Offer } from '@trackly/contracts/tracking/v1/tracking';
import { OfferInput, validateName, validateOffer } from '../domain/catalog.rules';
import { CatalogList, nextPageToken, readPageRequest } from '../domain/catalog-paging';
import { assertId } from '@trackly/kernel';
import { CampaignEntity, CreativeEntity, OfferEntity } from './catalog.entity';
import { toCampaign, toCreative, toOffer } from '../tracking.mappers';
import { LinkCache } from '../clicks/link-cache';

/** Offers, creatives and campaigns: upserts that publish their new state in the same transaction, and reads. */
@Injectable()
export class CatalogService {
  constructor(
    private readonly ds: DataSource,
    private readonly outbox: Outbox,
    private readonly relay: OutboxRelay,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly links: LinkCache,
  ) {}

  async upsertOffer(input: OfferInput): Promise<{ offer: Offer; created: boolean }> {
    const o = validateOffer(input);
    const result = await this.write(async (m) => {
      const [row] = await m.query(
        `INSERT INTO "tracking".offers AS t (offer_id, name, destination_url_template, default_payout_micros, currency,
           click_window_days, min_conversion_seconds, view_through_window_days, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
         ON CONFLICT (offer_id) DO UPDATE SET name = EXCLUDED.name, destination_url_template = EXCLUDED.destination_url_template,
           default_payout_micros = EXCLUDED.default_payout_micros, currency = EXCLUDED.currency,
           click_window_days = EXCLUDED.click_window_days, min_conversion_seconds = EXCLUDED.min_conversion_seconds,
           view_through_window_days = EXCLUDED.view_through_window_days, updated_at = EXCLUDED.updated_at
         RETURNING (xmax = 0) AS created`,
        [o.offerId, o.name, o.destinationUrlTemplate, o.defaultPayout.micros.toString(), o.defaultPayout.currency,
          o.clickWindowDays, o.minConversionSeconds, o.viewThroughWindowDays, this.clock.now()],
      );
      const offer = toOffer(await m.findOneByOrFail(OfferEntity, { offerId: o.offerId }));
      await this.outbox.add(m, Events.OfferUpserted, { offer });
      return { offer, created: row.created };
    });
    // After the commit: the next click on any of this offer's links reads the new template.
    this.links.invalidateOffer(o.offerId);
    return result;
  }

  async upsertCreative(creativeId: string, name: string): Promise<{ creative: Creative; created: boolean }> {
    assertId(creativeId, 'creative_id');
    const n = validateName(name);
    return this.write(async (m) => {
      const created = await this.upsertNamed(m, 'creatives', 'creative_id', creativeId, n);
      const creative = toCreative(await m.findOneByOrFail(CreativeEntity, { creativeId }));
      await this.outbox.add(m, Events.CreativeUpserted, { creative });
      return { creative, created };
    });
  }

  async upsertCampaign(campaignId: string, name: string): Promise<{ campaign: Campaign; created: boolean }> {
    assertId(campaignId, 'campaign_id');
    const n = validateName(name);
    return this.write(async (m) => {
      const created = await this.upsertNamed(m, 'campaigns', 'campaign_id', campaignId, n);
      const campaign = toCampaign(await m.findOneByOrFail(CampaignEntity, { campaignId }));
      await this.outbox.add(m, Events.CampaignUpserted, { campaign });
      return { campaign, created };
    });
  }

  async getOffer(offerId: string): Promise<Offer> {
    assertId(offerId, 'offer_id');
    const row = await this.ds.getRepository(OfferEntity).findOneBy({ offerId });
    if (!row) throw new NotFoundError('offer', offerId);
    return toOffer(row);
  }

  async getCreative(creativeId: string): Promise<Creative> {
    assertId(creativeId, 'creative_id');
    const row = await this.ds.getRepository(CreativeEntity).findOneBy({ creativeId });
    if (!row) throw new NotFoundError('creative', creativeId);
    return toCreative(row);
  }

  async getCampaign(campaignId: string): Promise<Campaign> {
    assertId(campaignId, 'campaign_id');
    const row = await this.ds.getRepository(CampaignEntity).findOneBy({ campaignId });
    if (!row) throw new NotFoundError('campaign', campaignId);
    return toCampaign(row);
  }

  async listOffers(pageSize: number, pageToken: string): Promise<{ offers: Offer[]; nextPageToken: string }> {
    const page = await this.page(OfferEntity, 'offerId', 'offers', pageSize, pageToken);
    return { offers: page.rows.map(toOffer), nextPageToken: page.next };
  }

  async listCreatives(pageSize: number, pageToken: string): Promise<{ creatives: Creative[]; nextPageToken: string }> {
    const page = await this.page(CreativeEntity, 'creativeId', 'creatives', pageSize, pageToken);
    return { creatives: page.rows.map(toCreative), nextPageToken: page.next };
  }

  async listCampaigns(pageSize: number, pageToken: string): Promise<{ campaigns: Campaign[]; nextPageToken: string }> {
    const page = await this.page(CampaignEntity, 'campaignId', 'campaigns', pageSize, pageToken);
    return { campaigns: page.rows.map(toCampaign), nextPageToken: page.next };
  }

  /** One keyset page in id order (primary key range): one row more than asked tells whether another page follows. */
  private async page<E extends object, K extends keyof E & string>(
    entity: new () => E,
    key: K,
    list: CatalogList,
    pageSize: number,
    pageToken: string,
  ): Promise<{ rows: E[]; next: string }> {
    const { limit, after } = readPageRequest(list, pageSize, pageToken);
    const rows = await this.ds.getRepository(entity).find({
      where: (after === undefined ? {} : { [key]: MoreThan(after) }) as never,
      order: { [key]: 'ASC' } as never,
      take: limit + 1,
    });
    const more = rows.length > limit;
    const served = more ? rows.slice(0, limit) : rows;
    return { rows: served, next: nextPageToken(list, served.length ? String(served[served.length - 1][key]) : undefined, more) };
  }

  private async upsertNamed(m: EntityManager, table: string, key: string, id: string, name: string): Promise<boolean> {
    const [row] = await m.query(
      `INSERT INTO "tracking".${table} AS t (${key}, name, created_at, updated_at) VALUES ($1, $2, $3, $3)
       ON CONFLICT (${key}) DO UPDATE SET name = EXCLUDED.name, updated_at = EXCLUDED.updated_at
       RETURNING (xmax = 0) AS created`,
      [id, name, this.clock.now()],
    );
    return row.created;
  }

  private async write<T>(fn: (m: EntityManager) => Promise<T>): Promise<T> {
    const result = await this.ds.transaction(fn);
    this.relay.kick();
    return result;
  }
}
