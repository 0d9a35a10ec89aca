import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { preparedQuery, textArrayParam } from '@trackly/database';
import {
  AttributedFact,
  ClickFact,
  CorrectionFact,
  CreditedConversionFact,
  CreditStatus,
  Dimensions,
  GRAINS,
  MessageFact,
  NameFact,
  ReceivedConversionFact,
  RevenueDelta,
  revenueDelta,
  UnattributedConversionFact,
} from '../domain/facts';
import { engagementsSql, isTap, tapSql } from '../domain/engagement';
import { ActivityDelta, activityDeltas, revenueDeltas, RollupDeltas, RollupRow } from '../domain/rollup-deltas';
import { binSql } from './rollup-rebuild';

type ActivityTable = 'activity_rollup' | 'cohort_activity_rollup';
type RevenueTable = 'revenue_rollup' | 'cohort_revenue_rollup';

/** The columns of a stored credited fact that its rollup deltas come from. */
const storedCredited = (a: string) =>
  `${a}.partner_id, ${a}.campaign_id, ${a}.creative_id, ${a}.offer_id, ${a}.payout_micros::text AS payout_micros, ${a}.currency, ${a}.status, ${a}.occurred_at, ${a}.cohort_at, ${a}.test`;

interface StoredCredited {
  test: boolean;
  partner_id: string;
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
  /**
   * Serialises, per message, the send and the clicks and conversions applied by other consumers (they are on
   * different streams and so commit concurrently): a click or credited conversion inserted while its MessageSent is
   * being applied would otherwise miss its send-date cohort on both sides. Ids are locked in sorted order, so two
   * batches never deadlock.
   */
  async lockMessages(m: EntityManager, messageIds: readonly string[]): Promise<void> {
    const ids = [...new Set(messageIds.filter((id) => !!id))].sort();
    if (ids.length) {
      await preparedQuery(m, 'reporting_lock_messages', `SELECT pg_advisory_xact_lock(hashtext('reporting.message:' || id)) FROM unnest($1::text[]) AS id`, [
        textArrayParam(ids),
      ]);
    }
  }

  /**
   * The conversion facts are partitioned by occurred_at, so their key holds it, but a conversion's time can change
   * (an adjustment): one fact per conversion is kept by inserting only where no partition holds the conversion, under
   * a lock per conversion key taken first (sorted, and for a whole batch at once before its credited and unattributed
   * subsets lock again, so two batches never deadlock), so two transactions never both find it absent. Conversions are few (≈ 3/s on average), so the per-partition probe is cheap.
   */
  private async lockConversions(m: EntityManager, facts: readonly { partnerId: string; conversionId: string }[]): Promise<void> {
    // JSON, not conversionKey: text cannot hold its NUL separator.
    const keys = [...new Set(facts.map((f) => JSON.stringify([f.partnerId, f.conversionId])))].sort();
    if (!keys.length) return;
    await query(m, `SELECT pg_advisory_xact_lock(hashtext('reporting.conversion:' || k)) FROM unnest($1::text[]) AS k`, [keys]);
  }

  /** Last write by updatedAt wins, whatever order the upserts arrive in. */
  async recordName(m: EntityManager, f: NameFact): Promise<void> {
    await query(m,
      `INSERT INTO "reporting".names AS n (kind, id, name, updated_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (kind, id) DO UPDATE SET name = EXCLUDED.name, updated_at = EXCLUDED.updated_at
       WHERE n.updated_at <= EXCLUDED.updated_at`,
      [f.kind, f.id, f.name, f.updatedAt],
    );
  }

  /**
   * A batch of sends, in one statement: the messages inserted, their activity rollups and per-bucket totals moved by
   * the count of new sends per bucket and dimensions (buckets as rollup-rebuild.ts bins them), and the taps and
   * credited conversions stored before their send (cohort_at still NULL) joined to its cohort. Only those joined facts
   * come back (rare: a ClickRecorded carries its send's time); their cohort rollups, and which joined tap is its
   * message's engagement, take further statements only when there are some.
   */
  async recordMessages(m: EntityManager, facts: readonly MessageFact[]): Promise<void> {
    const unique = uniqueBy(facts, (f) => f.messageId);
    if (!unique.length) return;
    type Joined = DimRow & { kind: 'tap' | 'credited'; at: Date; message_id: string | null; click_id: string | null } & Partial<StoredCredited>;
    const joined = await preparedQuery<Joined>(m, 'reporting_record_messages', RECORD_MESSAGES_SQL(), [
      textArrayParam(col(unique, (f) => f.messageId)), textArrayParam(col(unique, (f) => f.contactId)), textArrayParam(col(unique, (f) => f.phoneMasked)),
      textArrayParam(col(unique, (f) => f.campaignId)), textArrayParam(col(unique, (f) => f.creativeId)), textArrayParam(col(unique, (f) => f.offerId)),
      textArrayParam(col(unique, (f) => f.sentAt.toISOString())), GRAIN_ARRAY,
    ]);
    if (!joined.length) return;
    const cohort = activityDeltas();
    const revenue = revenueDeltas();
    const taps = new Map<string, Joined>();
    for (const r of joined) {
      if (r.kind === 'tap') {
        cohort.at(r.at, dimsOf(r), { sends: 0n, taps: 1n, engagements: 0n });
        taps.set(r.click_id!, r);
      } else {
        const c = r as unknown as StoredCredited;
        revenue.at(r.at, dims(c), revenueDelta(storedPayout(c), 1), c.currency);
      }
    }
    // A joined tap that is its message's engagement moves the cohort's engagements too.
    if (taps.size) {
      const ids = [...new Set([...taps.values()].map((t) => t.message_id!))];
      const engaged: { click_id: string }[] = await m.query(engagementsSql('message_id = ANY($1::text[])'), [ids]);
      for (const e of engaged) {
        const t = taps.get(e.click_id);
        if (t) cohort.at(t.at, dimsOf(t), { sends: 0n, taps: 0n, engagements: 1n });
      }
    }
    await this.writeRollups(m, { cohort_activity_rollup: cohort }, { cohort_revenue_rollup: revenue });
  }

  /**
   * A batch of clicks. Clicks carry their own dimensions: they count even when their MessageSent has not arrived
   * yet. Previews and bots are stored with their class and never counted. Each tap counts as a tap; a message's
   * engagement (domain/engagement.ts) is read before and after the insert, so a tap older than the one counted so
   * far moves the engagement to its own time instead of adding one.
   */
  async recordClicks(m: EntityManager, facts: readonly ClickFact[]): Promise<void> {
    const unique = uniqueBy(facts, (f) => f.clickId);
    if (!unique.length) return;
    const messageIds = [...new Set(unique.filter((f) => isTap(f) && f.messageId).map((f) => f.messageId))];
    type Engagement = DimRow & { message_id: string; click_id: string; clicked_at: Date; cohort_at: Date | null };
    const engagements = async (): Promise<Map<string, Engagement>> => {
      if (!messageIds.length) return new Map();
      const rows: Engagement[] = await m.query(engagementsSql('message_id = ANY($1::text[])'), [messageIds]);
      return new Map(rows.map((r) => [r.message_id, r]));
    };
    const before = await engagements();
    const inserted: (DimRow & { clicked_at: Date; cohort_at: Date | null; click_class: string })[] = await m.query(
      `WITH x AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::boolean[], $9::text[],
           $10::timestamptz[]) AS x(click_id, message_id, contact_id, offer_id, campaign_id, creative_id, clicked_at, first_click_on_message,
           click_class, message_sent_at))
       INSERT INTO "reporting".clicks AS c
         (click_id, message_id, contact_id, offer_id, campaign_id, creative_id, clicked_at, first_click_on_message, click_class, cohort_at)
       SELECT x.click_id, x.message_id, x.contact_id, x.offer_id, x.campaign_id, x.creative_id, x.clicked_at, x.first_click_on_message, x.click_class,
         CASE WHEN ${tapSql('x')} THEN coalesce(x.message_sent_at, (SELECT sent_at FROM "reporting".messages WHERE message_id = x.message_id)) END
       FROM x
       ON CONFLICT (click_id, clicked_at) DO NOTHING RETURNING c.campaign_id, c.creative_id, c.offer_id, c.clicked_at, c.cohort_at, c.click_class`,
      [col(unique, (f) => f.clickId), col(unique, (f) => f.messageId), col(unique, (f) => f.contactId), col(unique, (f) => f.offerId),
        col(unique, (f) => f.campaignId), col(unique, (f) => f.creativeId), col(unique, (f) => f.clickedAt), col(unique, (f) => f.firstClickOnMessage),
        col(unique, (f) => f.clickClass), col(unique, (f) => f.messageSentAt ?? null)],
    );
    const activity = activityDeltas();
    const cohort = activityDeltas();
    for (const c of inserted) {
      if (!isTap({ clickClass: c.click_class })) continue;
      const tap = { sends: 0n, taps: 1n, engagements: 0n };
      activity.at(c.clicked_at, dimsOf(c), tap);
      if (c.cohort_at) cohort.at(c.cohort_at, dimsOf(c), tap);
    }
    if (inserted.length) {
      const after = await engagements();
      for (const [messageId, now] of after) {
        const was = before.get(messageId);
        if (was?.click_id === now.click_id) continue;
        if (was) {
          activity.at(was.clicked_at, dimsOf(was), { sends: 0n, taps: 0n, engagements: -1n });
          if (was.cohort_at) cohort.at(was.cohort_at, dimsOf(was), { sends: 0n, taps: 0n, engagements: -1n });
        }
        activity.at(now.clicked_at, dimsOf(now), { sends: 0n, taps: 0n, engagements: 1n });
        if (now.cohort_at) cohort.at(now.cohort_at, dimsOf(now), { sends: 0n, taps: 0n, engagements: 1n });
      }
    }
    await this.writeRollups(m, { activity_rollup: activity, cohort_activity_rollup: cohort });
  }

  /**
   * First decisions, a batch of them: ignored for a conversion that already has one (a late duplicate, or after a
   * correction). Credited and unattributed facts each in one statement, the rollups once per key.
   */
  async recordDecisions(m: EntityManager, decisions: readonly AttributedFact[]): Promise<void> {
    // Every conversion of the batch locked at once, in one order, before either insert locks its own subset.
    await this.lockConversions(m, decisions.map((d) => d.fact));
    await this.insertCredited(m, decisions.filter((d) => d.kind === 'credited').map((d) => d.fact as CreditedConversionFact));
    await this.recordUnattributedConversions(m, decisions.filter((d) => d.kind === 'unattributed').map((d) => d.fact as UnattributedConversionFact));
  }

  /** Kept for reconciliation with the partners' totals; never part of the performance numbers. */
  async recordUnattributedConversions(m: EntityManager, facts: readonly UnattributedConversionFact[]): Promise<void> {
    const u = uniqueBy(facts, conversionKey);
    if (!u.length) return;
    await this.lockConversions(m, u);
    await m.query(
      `INSERT INTO "reporting".unattributed_conversions
         (partner_id, conversion_id, reason, reported_click_id, payout_micros, currency, status, occurred_at, test, source)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::timestamptz[],
         $9::boolean[], $10::text[]) AS x(partner_id, conversion_id)
       WHERE NOT EXISTS (SELECT 1 FROM "reporting".unattributed_conversions e WHERE e.partner_id = x.partner_id AND e.conversion_id = x.conversion_id)
       ON CONFLICT (partner_id, conversion_id, occurred_at) DO NOTHING`,
      [col(u, (f) => f.partnerId), col(u, (f) => f.conversionId), col(u, (f) => f.reason), col(u, (f) => f.reportedClickId),
        col(u, (f) => f.payout.micros.toString()), col(u, (f) => f.payout.currency), col(u, (f) => f.status), col(u, (f) => f.occurredAt),
        col(u, (f) => f.test), col(u, (f) => f.source)],
    );
  }

  /**
   * Corrections, a batch of them, each applied once per correction id: the read models' fact of each corrected
   * conversion is removed with exactly what it had added to the rollups, then the conversion's last fresh correction
   * in stream order is applied (the ones between would be undone by it: a chain nets out to its last step).
   */
  async applyCorrections(m: EntityManager, corrections: readonly CorrectionFact[]): Promise<void> {
    const u = uniqueBy(corrections, (c) => c.correctionId);
    if (!u.length) return;
    const freshRows: { change_id: string }[] = await query(m,
      `INSERT INTO "reporting".applied_changes (kind, change_id, partner_id, conversion_id, cause)
       SELECT 'correction', * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
       ON CONFLICT DO NOTHING RETURNING change_id`,
      [col(u, (c) => c.correctionId), col(u, (c) => c.partnerId), col(u, (c) => c.conversionId), col(u, (c) => c.cause)],
    );
    const fresh = new Set(freshRows.map((r) => r.change_id));
    const last = new Map<string, CorrectionFact>();
    for (const c of u) if (fresh.has(c.correctionId)) last.set(conversionKey(c), c);
    const latest = [...last.values()];
    if (!latest.length) return;
    await this.lockConversions(m, latest);
    const keys = [col(latest, (c) => c.partnerId), col(latest, (c) => c.conversionId)];
    const removed: StoredCredited[] = await m.query(
      `WITH d AS (
         DELETE FROM "reporting".credited_conversions c USING unnest($1::text[], $2::text[]) AS k(partner_id, conversion_id)
         WHERE c.partner_id = k.partner_id AND c.conversion_id = k.conversion_id
         RETURNING ${storedCredited('c')})
       SELECT * FROM d`,
      keys,
    );
    const revenue = revenueDeltas();
    const cohort = revenueDeltas();
    for (const r of removed) {
      const undo = revenueDelta(storedPayout(r), -1);
      revenue.at(r.occurred_at, dims(r), undo, r.currency);
      if (r.cohort_at) cohort.at(r.cohort_at, dims(r), undo, r.currency);
    }
    await m.query(
      `WITH d AS (DELETE FROM "reporting".unattributed_conversions u USING unnest($1::text[], $2::text[]) AS k(partner_id, conversion_id)
         WHERE u.partner_id = k.partner_id AND u.conversion_id = k.conversion_id RETURNING 1) SELECT count(*) FROM d`,
      keys,
    );
    await this.insertCredited(m, latest.filter((c) => c.next.kind === 'credited').map((c) => c.next.fact as CreditedConversionFact), { revenue, cohort });
    await this.recordUnattributedConversions(m, latest.filter((c) => c.next.kind === 'unattributed').map((c) => c.next.fact as UnattributedConversionFact));
  }

  /** The received side of reconciliation: each stored conversion once. */
  async recordReceivedConversions(m: EntityManager, facts: readonly ReceivedConversionFact[]): Promise<void> {
    await this.upsertReceived(m, uniqueBy(facts, conversionKey), false);
  }

  /** An adjustment carries the conversion's new state: it replaces the stored one, once per adjustment id (the last fresh one of a batch wins). */
  async recordAdjustedConversions(m: EntityManager, adjustments: readonly { adjustmentId: string; cause: string; fact: ReceivedConversionFact }[]): Promise<void> {
    const u = uniqueBy(adjustments, (a) => a.adjustmentId);
    if (!u.length) return;
    const freshRows: { change_id: string }[] = await query(m,
      `INSERT INTO "reporting".applied_changes (kind, change_id, partner_id, conversion_id, cause)
       SELECT 'adjustment', * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
       ON CONFLICT DO NOTHING RETURNING change_id`,
      [col(u, (a) => a.adjustmentId), col(u, (a) => a.fact.partnerId), col(u, (a) => a.fact.conversionId), col(u, (a) => a.cause)],
    );
    const fresh = new Set(freshRows.map((r) => r.change_id));
    const last = new Map<string, ReceivedConversionFact>();
    for (const a of u) if (fresh.has(a.adjustmentId)) last.set(conversionKey(a.fact), a.fact);
    await this.upsertReceived(m, [...last.values()], true);
  }

  private async upsertReceived(m: EntityManager, facts: readonly ReceivedConversionFact[], replace: boolean): Promise<void> {
    if (!facts.length) return;
    await query(m,
      `INSERT INTO "reporting".received_conversions (partner_id, conversion_id, payout_micros, currency, status, occurred_at, received_at, test, source)
       SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[], $8::boolean[], $9::text[])
       ON CONFLICT (partner_id, conversion_id) ${
         replace
           ? `DO UPDATE SET payout_micros = EXCLUDED.payout_micros, currency = EXCLUDED.currency, status = EXCLUDED.status, occurred_at = EXCLUDED.occurred_at,
               test = EXCLUDED.test`
           : 'DO NOTHING'
       }`,
      [col(facts, (f) => f.partnerId), col(facts, (f) => f.conversionId), col(facts, (f) => f.payout.micros.toString()), col(facts, (f) => f.payout.currency),
        col(facts, (f) => f.status), col(facts, (f) => f.occurredAt), col(facts, (f) => f.receivedAt), col(facts, (f) => f.test), col(facts, (f) => f.source)],
    );
  }

  /** Credited facts in one statement; the rollups of those inserted (first wins) move once per key, with `more` deltas if given. */
  private async insertCredited(
    m: EntityManager,
    facts: readonly CreditedConversionFact[],
    more: { revenue: RollupDeltas<RevenueDelta>; cohort: RollupDeltas<RevenueDelta> } = { revenue: revenueDeltas(), cohort: revenueDeltas() },
  ): Promise<void> {
    const u = uniqueBy(facts, conversionKey);
    if (u.length) {
      await this.lockConversions(m, u);
      const inserted: StoredCredited[] = await m.query(
        `WITH x AS (
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[],
             $10::text[], $11::text[], $12::timestamptz[], $13::text[], $14::boolean[], $15::text[], $16::boolean[], $17::timestamptz[])
             AS x(partner_id, conversion_id, message_id, click_id, contact_id, offer_id, campaign_id, creative_id, payout_micros, currency, status, occurred_at, type,
               test, source, over_cap, hold_until))
         INSERT INTO "reporting".credited_conversions AS c
           (partner_id, conversion_id, message_id, click_id, contact_id, offer_id, campaign_id, creative_id,
            payout_micros, currency, status, occurred_at, type, test, source, over_cap, hold_until, cohort_at)
         SELECT x.*, (SELECT sent_at FROM "reporting".messages WHERE message_id = x.message_id) FROM x
         WHERE NOT EXISTS (SELECT 1 FROM "reporting".credited_conversions e WHERE e.partner_id = x.partner_id AND e.conversion_id = x.conversion_id)
         ON CONFLICT (partner_id, conversion_id, occurred_at) DO NOTHING
         RETURNING ${storedCredited('c')}`,
        [col(u, (f) => f.partnerId), col(u, (f) => f.conversionId), col(u, (f) => f.messageId), col(u, (f) => f.clickId), col(u, (f) => f.contactId),
          col(u, (f) => f.offerId), col(u, (f) => f.campaignId), col(u, (f) => f.creativeId), col(u, (f) => f.payout.micros.toString()),
          col(u, (f) => f.payout.currency), col(u, (f) => f.status), col(u, (f) => f.occurredAt), col(u, (f) => f.type), col(u, (f) => f.test),
          col(u, (f) => f.source), col(u, (f) => f.overCap), col(u, (f) => f.holdUntil ?? null)],
      );
      for (const r of inserted) {
        const delta = revenueDelta(storedPayout(r), 1);
        more.revenue.at(r.occurred_at, dims(r), delta, r.currency);
        if (r.cohort_at) more.cohort.at(r.cohort_at, dims(r), delta, r.currency);
      }
    }
    await this.writeRollups(m, {}, { revenue_rollup: more.revenue, cohort_revenue_rollup: more.cohort });
  }

  /**
   * The batch's summed deltas, every rollup given and its per-bucket totals, in ONE statement (an upsert per table;
   * rollup columns: clicks = taps, unique_clicks = engagements). Rows go in key order, so concurrent batches lock
   * shared rollup rows in the same order.
   */
  private async writeRollups(
    m: EntityManager,
    activity: Partial<Record<ActivityTable, RollupDeltas<ActivityDelta>>>,
    revenue: Partial<Record<RevenueTable, RollupDeltas<RevenueDelta>>> = {},
  ): Promise<void> {
    const params: unknown[] = [];
    const arr = (values: unknown[], type: string) => `$${params.push(values)}::${type}[]`;
    const parts: string[] = [];
    const activitySet = `sends = r.sends + EXCLUDED.sends, clicks = r.clicks + EXCLUDED.clicks, unique_clicks = r.unique_clicks + EXCLUDED.unique_clicks`;
    for (const [table, deltas] of Object.entries(activity) as [ActivityTable, RollupDeltas<ActivityDelta>][]) {
      const rows = sortedRows(deltas.list());
      if (!rows.length) continue;
      const totals = sortedRows(deltas.totals());
      const measures = (rs: RollupRow<ActivityDelta>[]) =>
        `${arr(col(rs, (r) => r.delta.sends.toString()), 'bigint')}, ${arr(col(rs, (r) => r.delta.taps.toString()), 'bigint')}, ${arr(col(rs, (r) => r.delta.engagements.toString()), 'bigint')}`;
      parts.push(
        `INSERT INTO "reporting".${table} AS r (grain, bucket, campaign_id, creative_id, offer_id, sends, clicks, unique_clicks)
         SELECT * FROM unnest(${arr(col(rows, (r) => r.grain), 'smallint')}, ${arr(col(rows, (r) => r.bucket.toISOString()), 'timestamptz')},
           ${arr(col(rows, (r) => r.dims.campaignId), 'text')}, ${arr(col(rows, (r) => r.dims.creativeId), 'text')}, ${arr(col(rows, (r) => r.dims.offerId), 'text')},
           ${measures(rows)})
         ON CONFLICT (grain, bucket, campaign_id, creative_id, offer_id) DO UPDATE SET ${activitySet}`,
        `INSERT INTO "reporting".${totalTable(table)} AS r (grain, bucket, sends, clicks, unique_clicks)
         SELECT * FROM unnest(${arr(col(totals, (r) => r.grain), 'smallint')}, ${arr(col(totals, (r) => r.bucket.toISOString()), 'timestamptz')}, ${measures(totals)})
         ON CONFLICT (grain, bucket) DO UPDATE SET ${activitySet}`,
      );
    }
    const revenueSet = `conversions = r.conversions + EXCLUDED.conversions,
         reversed_conversions = r.reversed_conversions + EXCLUDED.reversed_conversions,
         approved_micros = r.approved_micros + EXCLUDED.approved_micros,
         pending_micros = r.pending_micros + EXCLUDED.pending_micros,
         reversed_micros = r.reversed_micros + EXCLUDED.reversed_micros`;
    for (const [table, deltas] of Object.entries(revenue) as [RevenueTable, RollupDeltas<RevenueDelta>][]) {
      const rows = sortedRows(deltas.list());
      if (!rows.length) continue;
      const totals = sortedRows(deltas.totals());
      const measures = (rs: RollupRow<RevenueDelta>[]) =>
        [
          col(rs, (r) => r.delta.conversions.toString()), col(rs, (r) => r.delta.reversedConversions.toString()), col(rs, (r) => r.delta.approvedMicros.toString()),
          col(rs, (r) => r.delta.pendingMicros.toString()), col(rs, (r) => r.delta.reversedMicros.toString()),
        ].map((v) => arr(v, 'bigint')).join(', ');
      parts.push(
        `INSERT INTO "reporting".${table} AS r
           (grain, bucket, campaign_id, creative_id, offer_id, partner_id, currency, conversions, reversed_conversions, approved_micros, pending_micros,
            reversed_micros)
         SELECT * FROM unnest(${arr(col(rows, (r) => r.grain), 'smallint')}, ${arr(col(rows, (r) => r.bucket.toISOString()), 'timestamptz')},
           ${arr(col(rows, (r) => r.dims.campaignId), 'text')}, ${arr(col(rows, (r) => r.dims.creativeId), 'text')}, ${arr(col(rows, (r) => r.dims.offerId), 'text')},
           ${arr(col(rows, (r) => r.dims.partnerId ?? ''), 'text')}, ${arr(col(rows, (r) => r.currency), 'text')}, ${measures(rows)})
         ON CONFLICT (grain, bucket, campaign_id, creative_id, offer_id, partner_id, currency) DO UPDATE SET ${revenueSet}`,
        `INSERT INTO "reporting".${totalTable(table)} AS r
           (grain, bucket, currency, conversions, reversed_conversions, approved_micros, pending_micros, reversed_micros)
         SELECT * FROM unnest(${arr(col(totals, (r) => r.grain), 'smallint')}, ${arr(col(totals, (r) => r.bucket.toISOString()), 'timestamptz')},
           ${arr(col(totals, (r) => r.currency), 'text')}, ${measures(totals)})
         ON CONFLICT (grain, bucket, currency) DO UPDATE SET ${revenueSet}`,
      );
    }
    if (!parts.length) return;
    const last = parts.pop()!;
    await query(m, parts.length ? `WITH ${parts.map((p, i) => `w${i} AS (${p})`).join(',\n')}\n${last}` : last, params);
  }
}

/** SQL: rollup rows in the key order writeRollups uses (code point order, as JavaScript compares the ids). */
const ROLLUP_KEY_ORDER = 'grain, bucket, campaign_id COLLATE "C", creative_id COLLATE "C", offer_id COLLATE "C"';

/**
 * recordMessages' statement: the same text for every batch, so it runs prepared (preparedQuery): a custom plan of it
 * (two UPDATEs over every month of clicks and credited conversions) took 4–6 ms of planning per batch, a third of
 * the statement's backend CPU at 1,000 sends; the generic plan has the same shape (hash joins on the batch).
 */
let recordMessagesSql: string | undefined;
const RECORD_MESSAGES_SQL = (): string =>
  (recordMessagesSql ??= `WITH ins AS (
         INSERT INTO "reporting".messages (message_id, contact_id, phone_masked, campaign_id, creative_id, offer_id, sent_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
         ON CONFLICT (message_id, sent_at) DO NOTHING RETURNING message_id, campaign_id, creative_id, offer_id, sent_at),
       sent AS (
         SELECT g.grain, ${binSql('ins.sent_at', 'g.grain')} AS bucket, ins.campaign_id, ins.creative_id, ins.offer_id, count(*) AS n
         FROM ins CROSS JOIN unnest($8::smallint[]) AS g(grain) GROUP BY 1, 2, 3, 4, 5),
       dims AS (
         INSERT INTO "reporting".activity_rollup AS r (grain, bucket, campaign_id, creative_id, offer_id, sends, clicks, unique_clicks)
         SELECT grain, bucket, campaign_id, creative_id, offer_id, n, 0, 0 FROM sent ORDER BY ${ROLLUP_KEY_ORDER}
         ON CONFLICT (grain, bucket, campaign_id, creative_id, offer_id) DO UPDATE SET sends = r.sends + EXCLUDED.sends),
       totals AS (
         INSERT INTO "reporting".activity_total_rollup AS r (grain, bucket, sends, clicks, unique_clicks)
         SELECT grain, bucket, sum(n), 0, 0 FROM sent GROUP BY 1, 2 ORDER BY 1, 2
         ON CONFLICT (grain, bucket) DO UPDATE SET sends = r.sends + EXCLUDED.sends),
       taps AS (
         UPDATE "reporting".clicks c SET cohort_at = ins.sent_at FROM ins
         WHERE c.message_id = ins.message_id AND c.cohort_at IS NULL AND ${tapSql('c')}
         RETURNING c.click_id, c.message_id, c.campaign_id, c.creative_id, c.offer_id, c.cohort_at),
       credited AS (
         UPDATE "reporting".credited_conversions c SET cohort_at = ins.sent_at FROM ins
         WHERE c.message_id = ins.message_id AND c.cohort_at IS NULL
         RETURNING ${storedCredited('c')})
       SELECT 'tap' AS kind, campaign_id, creative_id, offer_id, cohort_at AS at, message_id, click_id,
         NULL AS partner_id, NULL AS payout_micros, NULL AS currency, NULL AS status, NULL::boolean AS test
       FROM taps
       UNION ALL
       SELECT 'credited', campaign_id, creative_id, offer_id, cohort_at, NULL, NULL, partner_id, payout_micros, currency, status, test FROM credited`);
const GRAIN_ARRAY = `{${GRAINS.join(',')}}`;

/** Rollup rows in key order (see writeRollups). */
function sortedRows<D>(rows: RollupRow<D>[]): RollupRow<D>[] {
  const key = (r: RollupRow<D>) => [r.grain, r.bucket.getTime(), r.dims.campaignId, r.dims.creativeId, r.dims.offerId, r.dims.partnerId ?? '', r.currency];
  return rows.sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i] < kb[i] ? -1 : 1;
    return 0;
  });
}

/** Each rollup's per-bucket total across dimensions (created by migration 1764700000000). */
function totalTable<T extends ActivityTable | RevenueTable>(table: T): string {
  return table.replace(/_rollup$/, '_total_rollup');
}

interface DimRow {
  campaign_id: string;
  creative_id: string;
  offer_id: string;
}

function dimsOf(r: DimRow): Dimensions {
  return { campaignId: r.campaign_id, creativeId: r.creative_id, offerId: r.offer_id };
}

/**
 * Runs one of the projection's statements that write only unpartitioned tables (rollups and their totals, received
 * conversions, applied changes, names, locks) prepared on the transaction's connection (preparedQuery), named by its
 * text (one of a few fixed shapes): their plans never change with the data, and the steady flow's small batches paid
 * a custom plan each (a decision batch's rollup statement: 1.0 instead of 1.8 ms of backend CPU per group of 10).
 * Statements that read the facts (a partition per month) keep custom plans: a generic plan made while a month's
 * partition was still empty and unanalysed scanned it (measured: 0.39 instead of 0.31 ms per conversion in groups of
 * 100) until autovacuum analysed it. A text never seen before past the cap (none expected) runs unprepared.
 */
const statementNames = new Map<string, string>();
const MAX_PREPARED = 100;
function query<T = unknown>(m: EntityManager, text: string, values: unknown[]): Promise<T[]> {
  let name = statementNames.get(text);
  if (!name) {
    if (statementNames.size >= MAX_PREPARED) return m.query(text, values);
    statementNames.set(text, (name = `reporting_projection_${statementNames.size}`));
  }
  return preparedQuery<T>(m, name, text, values);
}

/** One column of a multi-row statement (unnest of parallel arrays). */
function col<T, V>(rows: readonly T[], f: (r: T) => V): V[] {
  return rows.map(f);
}

/** First occurrence of each key: a batch may carry the same fact twice under two event ids. */
function uniqueBy<T>(rows: readonly T[], key: (r: T) => string): T[] {
  const seen = new Set<string>();
  return rows.filter((r) => (seen.has(key(r)) ? false : (seen.add(key(r)), true)));
}

function conversionKey(f: { partnerId: string; conversionId: string }): string {
  return `${f.partnerId}\u0000${f.conversionId}`;
}

/** A conversion's rollup dimensions carry its partner (migration 1765700000000): a partner's numbers move with it. */
function dims(r: StoredCredited): Dimensions {
  return { campaignId: r.campaign_id, creativeId: r.creative_id, offerId: r.offer_id, partnerId: r.partner_id };
}

function storedPayout(r: StoredCredited): Pick<CreditedConversionFact, 'status' | 'payout' | 'test'> {
  return { status: r.status, payout: { currency: r.currency, micros: BigInt(r.payout_micros) }, test: r.test };
}
