import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import type { Cap, OfferRules } from '../domain/caps.rules';

export interface RulesRow {
  offer_id: string;
  time_zone: string;
  caps: { period: Cap['period']; partnerId: string; maxConversions: number; maxPayout: { currency: string; micros: string } | null }[];
  over_cap_action: OfferRules['overCapAction'];
  hold_days: number;
  updated_at: Date;
}

/** A stored rules row as the rules take it. */
export const rulesFromRow = (r: RulesRow): OfferRules & { updatedAt: Date } => ({
  offerId: r.offer_id,
  timeZone: r.time_zone,
  caps: r.caps.map((c) => ({ ...c, maxPayout: c.maxPayout ? { currency: c.maxPayout.currency, micros: BigInt(c.maxPayout.micros) } : null })),
  overCapAction: r.over_cap_action,
  holdDays: r.hold_days,
  updatedAt: r.updated_at,
});

/** Offers' caps and hold periods (attribution's own table; caps as JSON, money as micros in strings). */
@Injectable()
export class OfferRulesRepository {
  async save(m: EntityManager, rules: OfferRules, now: Date): Promise<OfferRules & { updatedAt: Date }> {
    const caps = rules.caps.map((c) => ({ ...c, maxPayout: c.maxPayout ? { currency: c.maxPayout.currency, micros: c.maxPayout.micros.toString() } : null }));
    const [row]: RulesRow[] = await m.query(
      `INSERT INTO "attribution".offer_rules (offer_id, time_zone, caps, over_cap_action, hold_days, updated_at) VALUES ($1, $2, $3::jsonb, $4, $5, $6)
       ON CONFLICT (offer_id) DO UPDATE SET time_zone = EXCLUDED.time_zone, caps = EXCLUDED.caps, over_cap_action = EXCLUDED.over_cap_action,
         hold_days = EXCLUDED.hold_days, updated_at = EXCLUDED.updated_at
       RETURNING *`,
      [rules.offerId, rules.timeZone, JSON.stringify(caps), rules.overCapAction, rules.holdDays, now],
    );
    return rulesFromRow(row);
  }

  /** Rules per offer id; offers without rules are absent (no caps, no hold). */
  async rulesOf(m: EntityManager, offerIds: string[]): Promise<Map<string, OfferRules & { updatedAt: Date }>> {
    if (!offerIds.length) return new Map();
    const rows: RulesRow[] = await m.query(`SELECT * FROM "attribution".offer_rules WHERE offer_id = ANY($1::text[])`, [[...new Set(offerIds)]]);
    return new Map(rows.map((r) => [r.offer_id, rulesFromRow(r)]));
  }
}
