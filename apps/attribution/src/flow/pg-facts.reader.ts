import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { ClickFact, lookback, NO_OFFER_TERMS } from '../domain/first-click.rules';
import { CapUsage, capKey, capsFor, OfferRules, periodStart } from '../domain/caps.rules';
import { OfferRulesRepository } from '../rules/offer-rules.repository';
import { ProjectionsRepository, WindowRequest } from '../projections/projections.repository';
import { BatchFacts, DecisionFactsReader, FactsRequest, Tx } from './ports';

/**
 * The facts reader on Postgres: a batch's facts in a fixed handful of set-based statements, whatever its size
 * (named sends, offer terms, every conversion's windowed clicks and sends by one lateral join each, the credited
 * holders of its fingerprints).
 */
@Injectable()
export class PgFactsReader implements DecisionFactsReader {
  constructor(
    private readonly projections: ProjectionsRepository,
    private readonly rules: OfferRulesRepository,
  ) {}

  findClicks(tx: Tx, clickIds: string[]): Promise<Map<string, ClickFact>> {
    return this.projections.findClicks(tx as EntityManager, clickIds);
  }

  async load(tx: Tx, items: FactsRequest[], fingerprints: string[], defaultWindowDays: number): Promise<BatchFacts> {
    const m = tx as EntityManager;
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
        const span = lookback(x.facts.occurredAt, offers[i].clickWindowDays ?? defaultWindowDays);
        clickReqs.push({ contactId: x.named.contactId, offerId: x.named.offerId, from: span.from, to: span.to });
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
    const inputs: BatchFacts['inputs'] = items.map((x, i) => ({
      conversion: x.facts,
      named: x.named,
      contactClicks: [],
      offer: offers[i],
      referencedSend: referenced[i],
      contactSends: [],
    }));
    clickRows.forEach((i, k) => (inputs[i].contactClicks = clicks[k]));
    sendRows.forEach((i, k) => (inputs[i].contactSends = contactSends[k]));
    const rules = await this.rules.rulesOf(m, offerIds.filter((id): id is string => !!id));
    if (rules.size) {
      const usage = await this.usage(m, items, offerIds, rules);
      inputs.forEach((x, i) => {
        const r = offerIds[i] ? rules.get(offerIds[i]!) : undefined;
        if (r) Object.assign(x, { rules: r, usage });
      });
    }
    return { inputs, holders: await this.holders(m, fingerprints) };
  }

  /**
   * What is credited (not over cap, not rejected or reversed, not a test) in every cap period the batch's
   * conversions fall in, leaving out the batch's own conversions (a re-decision counts itself in memory).
   */
  private async usage(m: EntityManager, items: FactsRequest[], offerIds: (string | undefined)[], rules: Map<string, OfferRules>): Promise<CapUsage> {
    const usage: CapUsage = new Map();
    const asks = new Map<string, { offerId: string; partnerId: string; unit: string; start: string; tz: string }>();
    items.forEach((x, i) => {
      const r = offerIds[i] ? rules.get(offerIds[i]!) : undefined;
      if (!r) return;
      for (const cap of capsFor(r, x.facts.partnerId)) {
        const key = capKey(r.offerId, cap, x.facts.occurredAt, r.timeZone);
        if (!asks.has(key)) asks.set(key, { offerId: r.offerId, partnerId: cap.partnerId, unit: cap.period, start: periodStart(cap, x.facts.occurredAt, r.timeZone), tz: r.timeZone || 'UTC' });
      }
    });
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
        items.map((x) => x.facts.partnerId), items.map((x) => x.facts.conversionId),
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

  /** The credited holder of each of these fingerprints (at most one each: a unique index enforces it). */
  private async holders(m: EntityManager, fps: string[]): Promise<Map<string, string>> {
    if (!fps.length) return new Map();
    const rows: { fingerprint: string; conversion_id: string }[] = await m.query(
      `SELECT fingerprint, conversion_id FROM "attribution".decisions
       WHERE fingerprint = ANY($1::text[]) AND outcome = 'ATTRIBUTED' AND fingerprint IS NOT NULL`,
      [[...new Set(fps)]],
    );
    return new Map(rows.map((r) => [r.fingerprint, r.conversion_id]));
  }
}
