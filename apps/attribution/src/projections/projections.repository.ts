import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { Click, ClickClass as ClickClassEnum, Offer } from '@trackly/contracts/tracking/v1/tracking';
import type { MessageSent } from '@trackly/contracts/tracking/v1/tracking_events';
import { ClickClass, ClickFact, NO_OFFER_TERMS, OfferTerms, SendFact } from '../domain/first-click.rules';

interface ClickRow {
  click_id: string;
  message_id: string;
  contact_id: string;
  offer_id: string;
  campaign_id: string;
  creative_id: string;
  clicked_at: Date;
  click_class: ClickClass;
}

interface SendRow {
  message_id: string;
  contact_id: string;
  offer_id: string;
  campaign_id: string;
  creative_id: string;
  sent_at: Date;
}

const toFact = (r: ClickRow): ClickFact => ({
  clickId: r.click_id,
  messageId: r.message_id,
  contactId: r.contact_id,
  offerId: r.offer_id,
  campaignId: r.campaign_id,
  creativeId: r.creative_id,
  clickedAt: r.clicked_at,
  clickClass: r.click_class,
});

const toSend = (r: SendRow): SendFact => ({
  messageId: r.message_id,
  contactId: r.contact_id,
  offerId: r.offer_id,
  campaignId: r.campaign_id,
  creativeId: r.creative_id,
  sentAt: r.sent_at,
});

/** How many rows `clicksInWindow` / `sendsInWindow` return at most (previews and bots included). */
export const CLICKS_IN_WINDOW_LIMIT = 100;
export const SENDS_IN_WINDOW_LIMIT = 20;

/** One `clicksInWindow` / `sendsInWindow` call of a batch; limit defaults to the per-row method's. */
export interface WindowRequest {
  contactId: string;
  offerId: string;
  from: Date;
  to: Date;
  limit?: number;
}

const windowParams = (reqs: WindowRequest[], defaultLimit: number): unknown[] => [
  reqs.map((r) => r.contactId),
  reqs.map((r) => r.offerId),
  reqs.map((r) => r.from),
  reqs.map((r) => r.to),
  reqs.map((r) => r.limit ?? defaultLimit),
];

/** Unclassified clicks (UNSPECIFIED, or events from before classification) count as human. */
export function clickClassOf(c: ClickClassEnum): ClickClass {
  if (c === ClickClassEnum.CLICK_CLASS_PREVIEW) return 'PREVIEW';
  if (c === ClickClassEnum.CLICK_CLASS_BOT) return 'BOT';
  return 'HUMAN';
}

/** Attribution's own copies of tracking facts, built from tracking's events (never from tracking's tables). */
@Injectable()
export class ProjectionsRepository {
  async saveOffer(m: EntityManager, offer: Offer): Promise<void> {
    // Last write wins by the offer's own updated_at, so a late redelivery of an old version changes nothing.
    await m.query(
      `INSERT INTO "attribution".offers (offer_id, click_window_days, min_conversion_seconds, view_through_window_days, updated_at)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (offer_id) DO UPDATE SET click_window_days = EXCLUDED.click_window_days,
         min_conversion_seconds = EXCLUDED.min_conversion_seconds, view_through_window_days = EXCLUDED.view_through_window_days,
         updated_at = EXCLUDED.updated_at
       WHERE "attribution".offers.updated_at <= EXCLUDED.updated_at`,
      [offer.offerId, offer.clickWindowDays ?? null, offer.minConversionSeconds ?? null, offer.viewThroughWindowDays ?? null, offer.updatedAt ?? new Date(0)],
    );
  }

  async saveSend(m: EntityManager, e: MessageSent): Promise<void> {
    await m.query(
      `INSERT INTO "attribution".sends (message_id, contact_id, offer_id, campaign_id, creative_id, sent_at)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (message_id) DO NOTHING`,
      [e.messageId, e.contactId, e.offerId, e.campaignId, e.creativeId, e.sentAt],
    );
  }

  async saveClick(m: EntityManager, c: Click): Promise<void> {
    await m.query(
      `INSERT INTO "attribution".clicks (click_id, message_id, contact_id, offer_id, campaign_id, creative_id, clicked_at, first_click_on_message, click_class)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (click_id) DO NOTHING`,
      [c.clickId, c.messageId, c.contactId, c.offerId, c.campaignId, c.creativeId, c.clickedAt, c.firstClickOnMessage, clickClassOf(c.clickClass)],
    );
  }

  async findClick(m: EntityManager, clickId: string): Promise<ClickFact | undefined> {
    const rows: ClickRow[] = await m.query(`SELECT * FROM "attribution".clicks WHERE click_id = $1`, [clickId]);
    return rows[0] && toFact(rows[0]);
  }

  /**
   * The contact's clicks on the offer in [from, to], earliest first (the index serves exactly this). Previews and
   * bots are included (the rules skip them), so the limit is generous.
   */
  async clicksInWindow(m: EntityManager, contactId: string, offerId: string, from: Date, to: Date, limit = CLICKS_IN_WINDOW_LIMIT): Promise<ClickFact[]> {
    const rows: ClickRow[] = await m.query(
      `SELECT * FROM "attribution".clicks
       WHERE contact_id = $1 AND offer_id = $2 AND clicked_at >= $3 AND clicked_at <= $4
       ORDER BY clicked_at, click_id LIMIT $5`,
      [contactId, offerId, from, to, limit],
    );
    return rows.map(toFact);
  }

  /** All the contact's clicks on the offer, earliest first (ExplainConversion). */
  async contactClicks(m: EntityManager, contactId: string, offerId: string, limit = 100): Promise<ClickFact[]> {
    const rows: ClickRow[] = await m.query(
      `SELECT * FROM "attribution".clicks WHERE contact_id = $1 AND offer_id = $2 ORDER BY clicked_at, click_id LIMIT $3`,
      [contactId, offerId, limit],
    );
    return rows.map(toFact);
  }

  async findSend(m: EntityManager, messageId: string): Promise<SendFact | undefined> {
    const rows: SendRow[] = await m.query(`SELECT * FROM "attribution".sends WHERE message_id = $1`, [messageId]);
    return rows[0] && toSend(rows[0]);
  }

  /** Sends to the contact for the offer in [from, to], earliest first. */
  async sendsInWindow(m: EntityManager, contactId: string, offerId: string, from: Date, to: Date, limit = SENDS_IN_WINDOW_LIMIT): Promise<SendFact[]> {
    const rows: SendRow[] = await m.query(
      `SELECT * FROM "attribution".sends
       WHERE contact_id = $1 AND offer_id = $2 AND sent_at >= $3 AND sent_at <= $4
       ORDER BY sent_at, message_id LIMIT $5`,
      [contactId, offerId, from, to, limit],
    );
    return rows.map(toSend);
  }

  // Set-based twins of the per-row reads above, for re-attribution (one round trip per chunk instead of per row).
  // Each returns exactly what the per-row query would for every key / request, in the same order.

  async findClicks(m: EntityManager, clickIds: string[]): Promise<Map<string, ClickFact>> {
    if (!clickIds.length) return new Map();
    const rows: ClickRow[] = await m.query(`SELECT * FROM "attribution".clicks WHERE click_id = ANY($1::text[])`, [[...new Set(clickIds)]]);
    return new Map(rows.map((r) => [r.click_id, toFact(r)]));
  }

  async findSends(m: EntityManager, messageIds: string[]): Promise<Map<string, SendFact>> {
    if (!messageIds.length) return new Map();
    const rows: SendRow[] = await m.query(`SELECT * FROM "attribution".sends WHERE message_id = ANY($1::text[])`, [[...new Set(messageIds)]]);
    return new Map(rows.map((r) => [r.message_id, toSend(r)]));
  }

  /** Terms per offer id; an offer without a row is absent (the caller uses NO_OFFER_TERMS, as `offerTerms` does). */
  async offerTermsOf(m: EntityManager, offerIds: string[]): Promise<Map<string, OfferTerms>> {
    if (!offerIds.length) return new Map();
    const rows: { offer_id: string; click_window_days: number | null; min_conversion_seconds: number | null; view_through_window_days: number | null }[] =
      await m.query(
        `SELECT offer_id, click_window_days, min_conversion_seconds, view_through_window_days FROM "attribution".offers WHERE offer_id = ANY($1::text[])`,
        [[...new Set(offerIds)]],
      );
    return new Map(
      rows.map((r) => [r.offer_id, { clickWindowDays: r.click_window_days, minConversionSeconds: r.min_conversion_seconds, viewThroughWindowDays: r.view_through_window_days }]),
    );
  }

  /**
   * `clicksInWindow` for many requests in one statement: the very same filter, order and per-request limit, run
   * per request by a lateral join (so collation, timestamp precision and the limit cut are Postgres's, as before).
   */
  async clicksInWindows(m: EntityManager, reqs: WindowRequest[]): Promise<ClickFact[][]> {
    const out: ClickFact[][] = reqs.map(() => []);
    if (!reqs.length) return out;
    const rows: (ClickRow & { i: string })[] = await m.query(
      `SELECT q.i, c.click_id, c.message_id, c.contact_id, c.offer_id, c.campaign_id, c.creative_id, c.clicked_at, c.click_class
       FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::int[]) WITH ORDINALITY AS q(contact_id, offer_id, f, t, lim, i)
       CROSS JOIN LATERAL (
         SELECT * FROM "attribution".clicks k
         WHERE k.contact_id = q.contact_id AND k.offer_id = q.offer_id AND k.clicked_at >= q.f AND k.clicked_at <= q.t
         ORDER BY k.clicked_at, k.click_id LIMIT q.lim) c
       ORDER BY q.i, c.clicked_at, c.click_id`,
      windowParams(reqs, CLICKS_IN_WINDOW_LIMIT),
    );
    for (const r of rows) out[Number(r.i) - 1].push(toFact(r));
    return out;
  }

  /** `sendsInWindow` for many requests in one statement (same filter, order and per-request limit). */
  async sendsInWindows(m: EntityManager, reqs: WindowRequest[]): Promise<SendFact[][]> {
    const out: SendFact[][] = reqs.map(() => []);
    if (!reqs.length) return out;
    const rows: (SendRow & { i: string })[] = await m.query(
      `SELECT q.i, s.message_id, s.contact_id, s.offer_id, s.campaign_id, s.creative_id, s.sent_at
       FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::int[]) WITH ORDINALITY AS q(contact_id, offer_id, f, t, lim, i)
       CROSS JOIN LATERAL (
         SELECT * FROM "attribution".sends x
         WHERE x.contact_id = q.contact_id AND x.offer_id = q.offer_id AND x.sent_at >= q.f AND x.sent_at <= q.t
         ORDER BY x.sent_at, x.message_id LIMIT q.lim) s
       ORDER BY q.i, s.sent_at, s.message_id`,
      windowParams(reqs, SENDS_IN_WINDOW_LIMIT),
    );
    for (const r of rows) out[Number(r.i) - 1].push(toSend(r));
    return out;
  }

  async offerTerms(m: EntityManager, offerId: string): Promise<OfferTerms> {
    const rows: { click_window_days: number | null; min_conversion_seconds: number | null; view_through_window_days: number | null }[] = await m.query(
      `SELECT click_window_days, min_conversion_seconds, view_through_window_days FROM "attribution".offers WHERE offer_id = $1`,
      [offerId],
    );
    const r = rows[0];
    if (!r) return NO_OFFER_TERMS;
    return { clickWindowDays: r.click_window_days, minConversionSeconds: r.min_conversion_seconds, viewThroughWindowDays: r.view_through_window_days };
  }
}
