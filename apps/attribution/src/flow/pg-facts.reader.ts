import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { ClickClass, ClickFact, NO_OFFER_TERMS, SendFact } from '../domain/first-click.rules';
import { CapUsage, capKey, capsFor, periodStart } from '../domain/caps.rules';
import { RulesRow, rulesFromRow } from '../rules/offer-rules.repository';
import {
  CLICKS_IN_WINDOW_LIMIT,
  ClickRow,
  OfferTermsRow,
  offerTermsFromRow,
  ProjectionsRepository,
  SENDS_IN_WINDOW_LIMIT,
  toFact,
} from '../projections/projections.repository';
import { BatchFacts, DecisionFactsReader, FactsRequest, keyOf, LoadedInput, Tx } from './ports';
import { preparedQuery } from '@trackly/database';

/** A windowed click as the load statement aggregates it: [id, message, contact, offer, campaign, creative, epoch ms, class]. */
type PackedClick = [string, string, string, string, string, string, number, ClickClass];
/** A windowed send as the load statement aggregates it: [message, contact, offer, campaign, creative, epoch ms]. */
type PackedSend = [string, string, string, string, string, number];

/** One row of the load statement per request, in order. */
interface LoadRow extends Partial<OfferTermsRow> {
  decided: boolean;
  holder: string | null;
  k_click_id: string | null;
  k_message_id: string;
  k_contact_id: string;
  k_offer_id: string;
  k_campaign_id: string;
  k_creative_id: string;
  k_clicked_at: Date;
  k_click_class: ClickClass;
  s_message_id: string | null;
  s_contact_id: string;
  s_offer_id: string;
  s_campaign_id: string;
  s_creative_id: string;
  s_sent_at: Date;
  has_terms: boolean;
  r_offer_id: string | null;
  r_time_zone: string;
  r_caps: RulesRow['caps'];
  r_over_cap_action: RulesRow['over_cap_action'];
  r_hold_days: number;
  r_updated_at: Date;
  clicks: PackedClick[] | null;
  sends: PackedSend[] | null;
}

/**
 * Everything a batch's decisions need, one row per conversion in the batch's order, in ONE statement (each join and
 * lateral runs over an index): whether it is decided already (primary key), its named click (clicks' primary key),
 * its referenced send (sends' primary key), the terms and rules of the offer (of the click, else of the send), the
 * named click's contact's clicks on that offer inside the window (earliest first, at most 100: the contact/offer/time
 * index), with view-through on the send's contact's sends for its offer inside the view window (at most 20), and the
 * credited holder of its fingerprint (the partial unique index). Windows are `[occurred_at - N × 24 h, occurred_at]`
 * exactly as `lookback` computes them (absolute hours, never calendar days). Windowed rows come back as JSON arrays
 * with times in epoch milliseconds.
 */
const LOAD_SQL = `
  WITH q AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[])
      WITH ORDINALITY AS q(partner_id, conversion_id, click_id, message_id, occurred_at, fp, i)
  ), b AS (
    SELECT q.*, k.click_id AS k_click_id, k.message_id AS k_message_id, k.contact_id AS k_contact_id, k.offer_id AS k_offer_id,
      k.campaign_id AS k_campaign_id, k.creative_id AS k_creative_id, k.clicked_at AS k_clicked_at, k.click_class AS k_click_class,
      s.message_id AS s_message_id, s.contact_id AS s_contact_id, s.offer_id AS s_offer_id, s.campaign_id AS s_campaign_id,
      s.creative_id AS s_creative_id, s.sent_at AS s_sent_at, coalesce(k.offer_id, s.offer_id) AS offer_id
    FROM q
    LEFT JOIN "attribution".clicks k ON k.click_id = q.click_id
    LEFT JOIN "attribution".sends s ON s.message_id = q.message_id
  )
  SELECT b.k_click_id, b.k_message_id, b.k_contact_id, b.k_offer_id, b.k_campaign_id, b.k_creative_id, b.k_clicked_at, b.k_click_class,
    b.s_message_id, b.s_contact_id, b.s_offer_id, b.s_campaign_id, b.s_creative_id, b.s_sent_at,
    o.offer_id IS NOT NULL AS has_terms, o.click_window_days, o.min_conversion_seconds, o.view_through_window_days,
    o.default_payout_micros, o.default_payout_currency,
    r.offer_id AS r_offer_id, r.time_zone AS r_time_zone, r.caps AS r_caps, r.over_cap_action AS r_over_cap_action,
    r.hold_days AS r_hold_days, r.updated_at AS r_updated_at,
    EXISTS (SELECT 1 FROM "attribution".decisions d WHERE d.partner_id = b.partner_id AND d.conversion_id = b.conversion_id) AS decided,
    (SELECT d.conversion_id FROM "attribution".decisions d
      WHERE d.fingerprint = b.fp AND d.outcome = 'ATTRIBUTED' AND d.fingerprint IS NOT NULL) AS holder,
    wc.clicks, ws.sends
  FROM b
  LEFT JOIN "attribution".offers o ON o.offer_id = b.offer_id
  LEFT JOIN "attribution".offer_rules r ON r.offer_id = b.offer_id
  LEFT JOIN LATERAL (
    SELECT json_agg(json_build_array(c.click_id, c.message_id, c.contact_id, c.offer_id, c.campaign_id, c.creative_id,
        floor(extract(epoch FROM c.clicked_at) * 1000), c.click_class) ORDER BY c.clicked_at, c.click_id) AS clicks
    FROM (
      SELECT * FROM "attribution".clicks c
      WHERE b.k_click_id IS NOT NULL AND c.contact_id = b.k_contact_id AND c.offer_id = b.k_offer_id
        AND c.clicked_at >= b.occurred_at - make_interval(secs => coalesce(o.click_window_days, $7::int) * 86400)
        AND c.clicked_at <= b.occurred_at
      ORDER BY c.clicked_at, c.click_id LIMIT $8::int) c
  ) wc ON true
  LEFT JOIN LATERAL (
    SELECT json_agg(json_build_array(x.message_id, x.contact_id, x.offer_id, x.campaign_id, x.creative_id,
        floor(extract(epoch FROM x.sent_at) * 1000)) ORDER BY x.sent_at, x.message_id) AS sends
    FROM (
      SELECT * FROM "attribution".sends x
      WHERE b.s_message_id IS NOT NULL AND o.view_through_window_days IS NOT NULL
        AND x.contact_id = b.s_contact_id AND x.offer_id = b.s_offer_id
        AND x.sent_at >= b.occurred_at - make_interval(secs => o.view_through_window_days * 86400)
        AND x.sent_at <= b.occurred_at
      ORDER BY x.sent_at, x.message_id LIMIT $9::int) x
  ) ws ON true
  ORDER BY b.i`;

const unpackClick = (p: PackedClick): ClickFact => ({
  clickId: p[0], messageId: p[1], contactId: p[2], offerId: p[3], campaignId: p[4], creativeId: p[5], clickedAt: new Date(p[6]), clickClass: p[7],
});

const unpackSend = (p: PackedSend): SendFact => ({
  messageId: p[0], contactId: p[1], offerId: p[2], campaignId: p[3], creativeId: p[4], sentAt: new Date(p[5]),
});

/**
 * The facts reader on Postgres: a batch's facts in one statement whatever its size (prepared: see preparedQuery), cap
 * usage in a second only when rules apply.
 */
@Injectable()
export class PgFactsReader implements DecisionFactsReader {
  constructor(private readonly projections: ProjectionsRepository) {}

  findClicks(tx: Tx, clickIds: string[]): Promise<Map<string, ClickFact>> {
    return this.projections.findClicks(tx as EntityManager, clickIds);
  }

  async load(tx: Tx, requests: FactsRequest[], defaultWindowDays: number): Promise<BatchFacts> {
    if (!requests.length) return { inputs: [], holders: new Map(), decided: new Set() };
    const rows = await preparedQuery<LoadRow>(tx as EntityManager, 'attribution-facts-load', LOAD_SQL, [
      requests.map((x) => x.key.partnerId),
      requests.map((x) => x.key.conversionId),
      requests.map((x) => x.clickId || null),
      requests.map((x) => x.facts.messageId || null),
      requests.map((x) => x.facts.occurredAt),
      requests.map((x) => x.fp),
      defaultWindowDays,
      CLICKS_IN_WINDOW_LIMIT,
      SENDS_IN_WINDOW_LIMIT,
    ]);
    if (rows.length !== requests.length) throw new Error(`facts load returned ${rows.length} rows for ${requests.length} conversions`);
    const holders = new Map<string, string>();
    const decided = new Set<string>();
    const inputs = rows.map((r, i): LoadedInput => {
      const req = requests[i];
      if (r.decided) decided.add(keyOf(req.key));
      if (r.holder !== null && req.fp) holders.set(req.fp, r.holder);
      const named = r.k_click_id !== null ? toFact(namedRow(r)) : undefined;
      const referencedSend: SendFact | undefined =
        r.s_message_id !== null
          ? { messageId: r.s_message_id, contactId: r.s_contact_id, offerId: r.s_offer_id, campaignId: r.s_campaign_id, creativeId: r.s_creative_id, sentAt: r.s_sent_at }
          : undefined;
      const input: LoadedInput = {
        conversion: req.facts,
        named,
        contactClicks: (r.clicks ?? []).map(unpackClick),
        offer: r.has_terms ? offerTermsFromRow(r as OfferTermsRow) : NO_OFFER_TERMS,
        referencedSend,
        contactSends: (r.sends ?? []).map(unpackSend),
      };
      if (r.r_offer_id !== null) {
        input.rules = rulesFromRow({
          offer_id: r.r_offer_id, time_zone: r.r_time_zone, caps: r.r_caps, over_cap_action: r.r_over_cap_action, hold_days: r.r_hold_days, updated_at: r.r_updated_at,
        });
      }
      return input;
    });
    return { inputs, holders, decided };
  }

  async capUsage(tx: Tx, inputs: LoadedInput[]): Promise<CapUsage> {
    const m = tx as EntityManager;
    const usage: CapUsage = new Map();
    const asks = new Map<string, { offerId: string; partnerId: string; unit: string; start: string; tz: string }>();
    for (const x of inputs) {
      const r = x.rules;
      if (!r) continue;
      for (const cap of capsFor(r, x.conversion.partnerId)) {
        const key = capKey(r.offerId, cap, x.conversion.occurredAt, r.timeZone);
        if (!asks.has(key)) asks.set(key, { offerId: r.offerId, partnerId: cap.partnerId, unit: cap.period, start: periodStart(cap, x.conversion.occurredAt, r.timeZone), tz: r.timeZone || 'UTC' });
      }
    }
    if (!asks.size) return usage;
    const keys = [...asks.keys()];
    const qs = [...asks.values()];
    const rows: { i: string; currency: string; n: number; micros: string }[] = await m.query(
      `SELECT q.i, d.currency, count(*)::int AS n, sum(d.payout_micros)::text AS micros
       FROM unnest($1::text[], $2::text[], $3::text[], $4::date[], $5::text[]) WITH ORDINALITY AS q(offer_id, partner_id, unit, start, tz, i)
       JOIN "attribution".decisions d ON d.offer_id = q.offer_id AND (q.partner_id = '' OR d.partner_id = q.partner_id)
         AND d.occurred_at >= (q.start::timestamp AT TIME ZONE q.tz)
         AND d.occurred_at < ((q.start::timestamp + CASE q.unit WHEN 'DAY' THEN interval '1 day' ELSE interval '1 month' END) AT TIME ZONE q.tz)
       WHERE d.outcome = 'ATTRIBUTED' AND NOT d.over_cap AND d.status NOT IN ('REJECTED', 'REVERSED') AND NOT d.test
         AND (d.partner_id, d.conversion_id) NOT IN (SELECT * FROM unnest($6::text[], $7::text[]))
       GROUP BY q.i, d.currency`,
      [
        qs.map((q) => q.offerId), qs.map((q) => q.partnerId), qs.map((q) => q.unit), qs.map((q) => q.start), qs.map((q) => q.tz),
        inputs.map((x) => x.conversion.partnerId), inputs.map((x) => x.conversion.conversionId),
      ],
    );
    for (const r of rows) {
      const key = keys[Number(r.i) - 1];
      const used = usage.get(key) ?? { conversions: 0, micros: {} };
      used.conversions += r.n;
      used.micros[r.currency] = (used.micros[r.currency] ?? 0n) + BigInt(r.micros);
      usage.set(key, used);
    }
    return usage;
  }
}

const namedRow = (r: LoadRow): ClickRow => ({
  click_id: r.k_click_id!, message_id: r.k_message_id, contact_id: r.k_contact_id, offer_id: r.k_offer_id, campaign_id: r.k_campaign_id,
  creative_id: r.k_creative_id, clicked_at: r.k_clicked_at, click_class: r.k_click_class,
});
