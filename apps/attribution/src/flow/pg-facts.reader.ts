import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { ClickFact, lookback, NO_OFFER_TERMS } from '../domain/first-click.rules';
import { ProjectionsRepository, WindowRequest } from '../projections/projections.repository';
import { BatchFacts, DecisionFactsReader, FactsRequest, Tx } from './ports';

/**
 * The facts reader on Postgres: a batch's facts in a fixed handful of set-based statements, whatever its size
 * (named sends, offer terms, every conversion's windowed clicks and sends by one lateral join each, the credited
 * holders of its fingerprints).
 */
@Injectable()
export class PgFactsReader implements DecisionFactsReader {
  constructor(private readonly projections: ProjectionsRepository) {}

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
    return { inputs, holders: await this.holders(m, fingerprints) };
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
