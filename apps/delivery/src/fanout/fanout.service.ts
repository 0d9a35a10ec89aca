import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { CLOCK, Clock } from '@trackly/kernel';
import { EndpointSettings, wants } from '../domain/endpoint.rules';
import { EventFacts } from '../domain/event-facts';
import { messageIdFor } from '../domain/webhook-signing';

type Matchable = Pick<EndpointSettings, 'endpointId' | 'eventTypes' | 'filters' | 'active'>;

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/**
 * Turns a batch of events into deliveries, set-based: one read of the active endpoints, one INSERT of the events
 * that any endpoint wants, one INSERT of the deliveries. Both INSERTs are ON CONFLICT DO NOTHING on business keys
 * (event key; endpoint × event key) and the webhook-id is derived from the same pair, so fanning an event out twice
 * neither duplicates a delivery nor gives it a second id.
 */
@Injectable()
export class FanoutService {
  /** Called after a batch created deliveries (the dispatcher wakes; it also polls, so a kick is only a hint). */
  onQueued: () => void = () => undefined;

  constructor(@Inject(CLOCK) private readonly clock: Clock) {}

  async activeEndpoints(m: EntityManager): Promise<Matchable[]> {
    const rows = (await m.query(
      `SELECT endpoint_id, event_types, campaign_ids, offer_ids, partner_ids FROM "delivery".endpoints WHERE active`,
    )) as Array<{ endpoint_id: string; event_types: string[]; campaign_ids: string[]; offer_ids: string[]; partner_ids: string[] }>;
    return rows.map((r) => ({
      endpointId: r.endpoint_id,
      eventTypes: r.event_types as EndpointSettings['eventTypes'],
      filters: { campaignIds: r.campaign_ids, offerIds: r.offer_ids, partnerIds: r.partner_ids },
      active: true,
    }));
  }

  /** Queues each event for every active endpoint that wants it. Returns the number of deliveries created. */
  async fanOut(m: EntityManager, facts: EventFacts[]): Promise<number> {
    if (!facts.length) return 0;
    const endpoints = await this.activeEndpoints(m);
    if (!endpoints.length) return 0;
    const pairs: Array<{ f: EventFacts; endpointId: string }> = [];
    for (const f of facts) for (const e of endpoints) if (wants(e, f)) pairs.push({ f, endpointId: e.endpointId });
    if (!pairs.length) return 0;
    const wanted = [...new Map(pairs.map((p) => [p.f.eventKey, p.f])).values()];
    await m.query(
      `INSERT INTO "delivery".events (event_key, event_type, body, macros, occurred_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::timestamptz[])
       ON CONFLICT (event_key) DO NOTHING`,
      [wanted.map((f) => f.eventKey), wanted.map((f) => f.type), wanted.map((f) => f.body), wanted.map((f) => JSON.stringify(f.macros)), wanted.map((f) => f.occurredAt)],
    );
    const now = this.clock.now();
    const rows = (await m.query(
      `INSERT INTO "delivery".deliveries (endpoint_id, event_key, message_id, event_type, status, next_attempt_at, queued_at, created_at)
       SELECT e, k, id, t, 'PENDING', $5, $5, $5 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS x(e, k, id, t)
       ON CONFLICT DO NOTHING RETURNING delivery_id`,
      [pairs.map((p) => p.endpointId), pairs.map((p) => p.f.eventKey), pairs.map((p) => messageIdFor(p.f.eventKey, p.endpointId, sha256)), pairs.map((p) => p.f.type), now],
    )) as unknown[];
    if (rows.length) setImmediate(() => this.onQueued());
    return rows.length;
  }
}
