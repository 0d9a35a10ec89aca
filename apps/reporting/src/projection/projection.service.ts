import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import {
  ClickFact,
  CreditedConversionFact,
  Dimensions,
  MessageFact,
  NameFact,
  rollupBucket,
  UnattributedConversionFact,
} from '../domain/facts';

/**
 * Applies events to the read models, always through the consumer's transaction. Each fact row is keyed by its
 * business id and inserted with ON CONFLICT DO NOTHING; rollups move only when that insert happened, so the same
 * fact delivered again under another event id is never counted twice.
 */
@Injectable()
export class ProjectionService {
  /** Last write by updatedAt wins, whatever order the upserts arrive in. */
  async recordName(m: EntityManager, f: NameFact): Promise<void> {
    await m.query(
      `INSERT INTO "reporting".names AS n (kind, id, name, updated_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (kind, id) DO UPDATE SET name = EXCLUDED.name, updated_at = EXCLUDED.updated_at
       WHERE n.updated_at <= EXCLUDED.updated_at`,
      [f.kind, f.id, f.name, f.updatedAt],
    );
  }

  async recordMessage(m: EntityManager, f: MessageFact): Promise<void> {
    const inserted = await m.query(
      `INSERT INTO "reporting".messages (message_id, contact_id, phone_masked, campaign_id, creative_id, offer_id, sent_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (message_id) DO NOTHING RETURNING 1`,
      [f.messageId, f.contactId, f.phoneMasked, f.campaignId, f.creativeId, f.offerId, f.sentAt],
    );
    if (inserted.length) await this.addActivity(m, f.sentAt, f, { sends: 1, clicks: 0, uniqueClicks: 0 });
  }

  /** Clicks carry their own dimensions: they count even when their MessageSent has not arrived yet. */
  async recordClick(m: EntityManager, f: ClickFact): Promise<void> {
    const inserted = await m.query(
      `INSERT INTO "reporting".clicks (click_id, message_id, contact_id, offer_id, campaign_id, creative_id, clicked_at, first_click_on_message)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (click_id) DO NOTHING RETURNING 1`,
      [f.clickId, f.messageId, f.contactId, f.offerId, f.campaignId, f.creativeId, f.clickedAt, f.firstClickOnMessage],
    );
    if (inserted.length) await this.addActivity(m, f.clickedAt, f, { sends: 0, clicks: 1, uniqueClicks: f.firstClickOnMessage ? 1 : 0 });
  }

  async recordCreditedConversion(m: EntityManager, f: CreditedConversionFact): Promise<void> {
    const micros = f.payout.micros.toString();
    const inserted = await m.query(
      `INSERT INTO "reporting".credited_conversions
         (partner_id, conversion_id, message_id, click_id, contact_id, offer_id, campaign_id, creative_id,
          payout_micros, currency, status, occurred_at, type)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
       ON CONFLICT (partner_id, conversion_id) DO NOTHING RETURNING 1`,
      [f.partnerId, f.conversionId, f.messageId, f.clickId, f.contactId, f.offerId, f.campaignId, f.creativeId,
        micros, f.payout.currency, f.status, f.occurredAt, f.type],
    );
    if (!inserted.length) return;
    await m.query(
      `INSERT INTO "reporting".revenue_rollup AS r
         (bucket, campaign_id, creative_id, offer_id, currency, conversions, approved_micros, pending_micros, reversed_micros)
       VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8)
       ON CONFLICT (bucket, campaign_id, creative_id, offer_id, currency) DO UPDATE SET
         conversions = r.conversions + EXCLUDED.conversions,
         approved_micros = r.approved_micros + EXCLUDED.approved_micros,
         pending_micros = r.pending_micros + EXCLUDED.pending_micros,
         reversed_micros = r.reversed_micros + EXCLUDED.reversed_micros`,
      [
        rollupBucket(f.occurredAt), f.campaignId, f.creativeId, f.offerId, f.payout.currency,
        f.status === 'approved' ? micros : '0',
        f.status === 'pending' ? micros : '0',
        f.status === 'reversed' ? micros : '0',
      ],
    );
  }

  /** Kept for reconciliation with the partners' totals; never part of the performance numbers. */
  async recordUnattributedConversion(m: EntityManager, f: UnattributedConversionFact): Promise<void> {
    await m.query(
      `INSERT INTO "reporting".unattributed_conversions
         (partner_id, conversion_id, reason, reported_click_id, payout_micros, currency, status, occurred_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (partner_id, conversion_id) DO NOTHING`,
      [f.partnerId, f.conversionId, f.reason, f.reportedClickId, f.payout.micros.toString(), f.payout.currency, f.status, f.occurredAt],
    );
  }

  private async addActivity(
    m: EntityManager,
    at: Date,
    d: Dimensions,
    add: { sends: number; clicks: number; uniqueClicks: number },
  ): Promise<void> {
    await m.query(
      `INSERT INTO "reporting".activity_rollup AS r (bucket, campaign_id, creative_id, offer_id, sends, clicks, unique_clicks)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (bucket, campaign_id, creative_id, offer_id) DO UPDATE SET
         sends = r.sends + EXCLUDED.sends,
         clicks = r.clicks + EXCLUDED.clicks,
         unique_clicks = r.unique_clicks + EXCLUDED.unique_clicks`,
      [rollupBucket(at), d.campaignId, d.creativeId, d.offerId, add.sends, add.clicks, add.uniqueClicks],
    );
  }
}
