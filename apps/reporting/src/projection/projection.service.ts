import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import {
  AttributedFact,
  ClickFact,
  CorrectionFact,
  countsAsClick,
  CreditedConversionFact,
  CreditStatus,
  Dimensions,
  MessageFact,
  NameFact,
  ReceivedConversionFact,
  RevenueDelta,
  revenueDelta,
  rollupBuckets,
  UnattributedConversionFact,
} from '../domain/facts';

type ActivityTable = 'activity_rollup' | 'cohort_activity_rollup';
type RevenueTable = 'revenue_rollup' | 'cohort_revenue_rollup';

interface StoredCredited {
  campaign_id: string;
  creative_id: string;
  offer_id: string;
  payout_micros: string;
  currency: string;
  status: CreditStatus;
  occurred_at: Date;
  cohort_at: Date | null;
}

/**
 * Applies events to the read models, always through the consumer's transaction. Each fact row is keyed by its
 * business id and inserted with ON CONFLICT DO NOTHING; rollups move only when that insert happened, so the same
 * fact delivered again under another event id is never counted twice. Corrections and adjustments are keyed by
 * their own ids in applied_changes for the same reason.
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
    if (!inserted.length) return;
    await this.addActivity(m, 'activity_rollup', f.sentAt, f, { sends: 1, clicks: 0, uniqueClicks: 0 });
    // Clicks and conversions that arrived before their send join its cohort now.
    const clicks: (Dimensions & { first: boolean })[] = await m.query(
      `WITH c AS (
         UPDATE "reporting".clicks SET cohort_at = $2
         WHERE message_id = $1 AND cohort_at IS NULL AND click_class IN ('HUMAN', 'UNSPECIFIED')
         RETURNING campaign_id, creative_id, offer_id, first_click_on_message)
       SELECT campaign_id AS "campaignId", creative_id AS "creativeId", offer_id AS "offerId", first_click_on_message AS first FROM c`,
      [f.messageId, f.sentAt],
    );
    for (const c of clicks) await this.addActivity(m, 'cohort_activity_rollup', f.sentAt, c, { sends: 0, clicks: 1, uniqueClicks: c.first ? 1 : 0 });
    const conversions: StoredCredited[] = await m.query(
      `WITH c AS (
         UPDATE "reporting".credited_conversions SET cohort_at = $2 WHERE message_id = $1 AND cohort_at IS NULL
         RETURNING campaign_id, creative_id, offer_id, payout_micros::text AS payout_micros, currency, status, occurred_at, cohort_at)
       SELECT * FROM c`,
      [f.messageId, f.sentAt],
    );
    for (const c of conversions) await this.addRevenue(m, 'cohort_revenue_rollup', f.sentAt, dims(c), c.currency, revenueDelta(storedPayout(c), 1));
  }

  /**
   * Clicks carry their own dimensions: they count even when their MessageSent has not arrived yet. Previews and
   * bots are stored with their class and never counted.
   */
  async recordClick(m: EntityManager, f: ClickFact): Promise<void> {
    const counted = countsAsClick(f);
    const inserted: { cohort_at: Date | null }[] = await m.query(
      `INSERT INTO "reporting".clicks
         (click_id, message_id, contact_id, offer_id, campaign_id, creative_id, clicked_at, first_click_on_message, click_class, cohort_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,
         CASE WHEN $10::boolean THEN coalesce($11::timestamptz, (SELECT sent_at FROM "reporting".messages WHERE message_id = $2)) END)
       ON CONFLICT (click_id) DO NOTHING RETURNING cohort_at`,
      [f.clickId, f.messageId, f.contactId, f.offerId, f.campaignId, f.creativeId, f.clickedAt, f.firstClickOnMessage, f.clickClass,
        counted, f.messageSentAt ?? null],
    );
    if (!inserted.length || !counted) return;
    const add = { sends: 0, clicks: 1, uniqueClicks: f.firstClickOnMessage ? 1 : 0 };
    await this.addActivity(m, 'activity_rollup', f.clickedAt, f, add);
    const cohortAt = inserted[0].cohort_at;
    if (cohortAt) await this.addActivity(m, 'cohort_activity_rollup', cohortAt, f, add);
  }

  /** A first decision: ignored when the conversion already has one (a late duplicate, or after a correction). */
  async recordCreditedConversion(m: EntityManager, f: CreditedConversionFact): Promise<void> {
    await this.insertCredited(m, f);
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

  /**
   * Undoes what the read models hold for the conversion and applies the corrected decision, once per correction
   * id: rollups lose exactly what the stored fact had added, so a chain of corrections nets out to the last one.
   */
  async applyCorrection(m: EntityManager, c: CorrectionFact): Promise<void> {
    const fresh = await m.query(
      `INSERT INTO "reporting".applied_changes (kind, change_id, partner_id, conversion_id, cause) VALUES ('correction', $1, $2, $3, $4)
       ON CONFLICT DO NOTHING RETURNING 1`,
      [c.correctionId, c.partnerId, c.conversionId, c.cause],
    );
    if (!fresh.length) return;
    const removed: StoredCredited[] = await m.query(
      `WITH d AS (
         DELETE FROM "reporting".credited_conversions WHERE partner_id = $1 AND conversion_id = $2
         RETURNING campaign_id, creative_id, offer_id, payout_micros::text AS payout_micros, currency, status, occurred_at, cohort_at)
       SELECT * FROM d`,
      [c.partnerId, c.conversionId],
    );
    for (const r of removed) {
      const undo = revenueDelta(storedPayout(r), -1);
      await this.addRevenue(m, 'revenue_rollup', r.occurred_at, dims(r), r.currency, undo);
      if (r.cohort_at) await this.addRevenue(m, 'cohort_revenue_rollup', r.cohort_at, dims(r), r.currency, undo);
    }
    await m.query(`DELETE FROM "reporting".unattributed_conversions WHERE partner_id = $1 AND conversion_id = $2`, [c.partnerId, c.conversionId]);
    await this.applyDecision(m, c.next);
  }

  /** The received side of reconciliation: each stored conversion once. */
  async recordReceivedConversion(m: EntityManager, f: ReceivedConversionFact): Promise<void> {
    await m.query(
      `INSERT INTO "reporting".received_conversions (partner_id, conversion_id, payout_micros, currency, status, occurred_at, received_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (partner_id, conversion_id) DO NOTHING`,
      [f.partnerId, f.conversionId, f.payout.micros.toString(), f.payout.currency, f.status, f.occurredAt, f.receivedAt],
    );
  }

  /** An adjustment carries the conversion's new state: it replaces the stored one, once per adjustment id. */
  async recordAdjustedConversion(m: EntityManager, adjustmentId: string, cause: string, f: ReceivedConversionFact): Promise<void> {
    const fresh = await m.query(
      `INSERT INTO "reporting".applied_changes (kind, change_id, partner_id, conversion_id, cause) VALUES ('adjustment', $1, $2, $3, $4)
       ON CONFLICT DO NOTHING RETURNING 1`,
      [adjustmentId, f.partnerId, f.conversionId, cause],
    );
    if (!fresh.length) return;
    await m.query(
      `INSERT INTO "reporting".received_conversions (partner_id, conversion_id, payout_micros, currency, status, occurred_at, received_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (partner_id, conversion_id) DO UPDATE SET payout_micros = EXCLUDED.payout_micros, currency = EXCLUDED.currency,
         status = EXCLUDED.status, occurred_at = EXCLUDED.occurred_at`,
      [f.partnerId, f.conversionId, f.payout.micros.toString(), f.payout.currency, f.status, f.occurredAt, f.receivedAt],
    );
  }

  private async applyDecision(m: EntityManager, d: AttributedFact): Promise<void> {
    if (d.kind === 'credited') await this.insertCredited(m, d.fact);
    else await this.recordUnattributedConversion(m, d.fact);
  }

  private async insertCredited(m: EntityManager, f: CreditedConversionFact): Promise<void> {
    const inserted: { cohort_at: Date | null }[] = await m.query(
      `INSERT INTO "reporting".credited_conversions
         (partner_id, conversion_id, message_id, click_id, contact_id, offer_id, campaign_id, creative_id,
          payout_micros, currency, status, occurred_at, type, cohort_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, (SELECT sent_at FROM "reporting".messages WHERE message_id = $3))
       ON CONFLICT (partner_id, conversion_id) DO NOTHING RETURNING cohort_at`,
      [f.partnerId, f.conversionId, f.messageId, f.clickId, f.contactId, f.offerId, f.campaignId, f.creativeId,
        f.payout.micros.toString(), f.payout.currency, f.status, f.occurredAt, f.type],
    );
    if (!inserted.length) return;
    const delta = revenueDelta(f, 1);
    await this.addRevenue(m, 'revenue_rollup', f.occurredAt, f, f.payout.currency, delta);
    const cohortAt = inserted[0].cohort_at;
    if (cohortAt) await this.addRevenue(m, 'cohort_revenue_rollup', cohortAt, f, f.payout.currency, delta);
  }

  private async addActivity(
    m: EntityManager,
    table: ActivityTable,
    at: Date,
    d: Dimensions,
    add: { sends: number; clicks: number; uniqueClicks: number },
  ): Promise<void> {
    const { grains, buckets } = rollupBuckets(at);
    // The dimensional rows and the bucket's total (by-date reports), in one statement.
    await m.query(
      `WITH dims AS (
         INSERT INTO "reporting".${table} AS r (grain, bucket, campaign_id, creative_id, offer_id, sends, clicks, unique_clicks)
         SELECT g, b, $3, $4, $5, $6, $7, $8 FROM unnest($1::smallint[], $2::timestamptz[]) AS u(g, b)
         ON CONFLICT (grain, bucket, campaign_id, creative_id, offer_id) DO UPDATE SET
           sends = r.sends + EXCLUDED.sends,
           clicks = r.clicks + EXCLUDED.clicks,
           unique_clicks = r.unique_clicks + EXCLUDED.unique_clicks)
       INSERT INTO "reporting".${totalTable(table)} AS r (grain, bucket, sends, clicks, unique_clicks)
       SELECT g, b, $6, $7, $8 FROM unnest($1::smallint[], $2::timestamptz[]) AS u(g, b)
       ON CONFLICT (grain, bucket) DO UPDATE SET
         sends = r.sends + EXCLUDED.sends,
         clicks = r.clicks + EXCLUDED.clicks,
         unique_clicks = r.unique_clicks + EXCLUDED.unique_clicks`,
      [grains, buckets, d.campaignId, d.creativeId, d.offerId, add.sends, add.clicks, add.uniqueClicks],
    );
  }

  private async addRevenue(m: EntityManager, table: RevenueTable, at: Date, d: Dimensions, currency: string, x: RevenueDelta): Promise<void> {
    const { grains, buckets } = rollupBuckets(at);
    const set = `conversions = r.conversions + EXCLUDED.conversions,
         reversed_conversions = r.reversed_conversions + EXCLUDED.reversed_conversions,
         approved_micros = r.approved_micros + EXCLUDED.approved_micros,
         pending_micros = r.pending_micros + EXCLUDED.pending_micros,
         reversed_micros = r.reversed_micros + EXCLUDED.reversed_micros`;
    await m.query(
      `WITH dims AS (
         INSERT INTO "reporting".${table} AS r
           (grain, bucket, campaign_id, creative_id, offer_id, currency, conversions, reversed_conversions, approved_micros, pending_micros, reversed_micros)
         SELECT g, b, $3, $4, $5, $6, $7, $8, $9, $10, $11 FROM unnest($1::smallint[], $2::timestamptz[]) AS u(g, b)
         ON CONFLICT (grain, bucket, campaign_id, creative_id, offer_id, currency) DO UPDATE SET ${set})
       INSERT INTO "reporting".${totalTable(table)} AS r
         (grain, bucket, currency, conversions, reversed_conversions, approved_micros, pending_micros, reversed_micros)
       SELECT g, b, $6, $7, $8, $9, $10, $11 FROM unnest($1::smallint[], $2::timestamptz[]) AS u(g, b)
       ON CONFLICT (grain, bucket, currency) DO UPDATE SET ${set}`,
      [grains, buckets, d.campaignId, d.creativeId, d.offerId, currency,
        x.conversions.toString(), x.reversedConversions.toString(), x.approvedMicros.toString(), x.pendingMicros.toString(), x.reversedMicros.toString()],
    );
  }
}

/** Each rollup's per-bucket total across dimensions (created by migration 1764700000000). */
function totalTable<T extends ActivityTable | RevenueTable>(table: T): string {
  return table.replace(/_rollup$/, '_total_rollup');
}

function dims(r: StoredCredited): Dimensions {
  return { campaignId: r.campaign_id, creativeId: r.creative_id, offerId: r.offer_id };
}

function storedPayout(r: StoredCredited): Pick<CreditedConversionFact, 'status' | 'payout'> {
  return { status: r.status, payout: { currency: r.currency, micros: BigInt(r.payout_micros) } };
}
