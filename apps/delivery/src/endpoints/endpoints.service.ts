import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { CLOCK, Clock, NotFoundError } from '@trackly/kernel';
import { Events, Outbox, OutboxRelay } from '@trackly/messaging';
import type { Endpoint } from '@trackly/contracts/delivery/v1/delivery';
import { EndpointSettings } from '../domain/endpoint.rules';
import { generateSecret } from '../domain/webhook-signing';
import type { DeliveryConfig } from '../delivery.config';
import { DELIVERY_CONFIG } from '../delivery.tokens';
import { ENDPOINT_COLUMNS, endpointFromRow, EndpointRow } from './endpoint.mappers';

/** Endpoints and their secrets; every change publishes EndpointUpserted through the outbox (never a secret). */
@Injectable()
export class EndpointsService {
  constructor(
    private readonly ds: DataSource,
    private readonly outbox: Outbox,
    private readonly relay: OutboxRelay,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(DELIVERY_CONFIG) private readonly config: DeliveryConfig,
  ) {}

  /** Creates or replaces; a new endpoint gets a secret returned only here. Re-activating clears an automatic disable. */
  async upsert(s: EndpointSettings): Promise<{ endpoint: Endpoint; created: boolean; secret: string }> {
    const now = this.clock.now();
    const secret = generateSecret();
    const result = await this.ds.transaction(async (m) => {
      const [row] = (await m.query(
        `INSERT INTO "delivery".endpoints AS e (endpoint_id, name, kind, url, event_types, campaign_ids, offer_ids, partner_ids, active,
           rate_limit_per_second, timeout_ms, secret, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)
         ON CONFLICT (endpoint_id) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind, url = EXCLUDED.url,
           event_types = EXCLUDED.event_types, campaign_ids = EXCLUDED.campaign_ids, offer_ids = EXCLUDED.offer_ids,
           partner_ids = EXCLUDED.partner_ids, active = EXCLUDED.active, rate_limit_per_second = EXCLUDED.rate_limit_per_second,
           timeout_ms = EXCLUDED.timeout_ms, updated_at = EXCLUDED.updated_at,
           consecutive_failures = CASE WHEN EXCLUDED.active AND NOT e.active THEN 0 ELSE e.consecutive_failures END,
           disabled_reason = CASE WHEN EXCLUDED.active THEN NULL ELSE e.disabled_reason END,
           disabled_at = CASE WHEN EXCLUDED.active THEN NULL ELSE e.disabled_at END
         RETURNING ${ENDPOINT_COLUMNS}, (xmax = 0) AS created`,
        [s.endpointId, s.name, s.kind, s.url, s.eventTypes, s.filters.campaignIds, s.filters.offerIds, s.filters.partnerIds, s.active,
          s.rateLimitPerSecond, s.timeoutMs, secret, now],
      )) as Array<EndpointRow & { created: boolean }>;
      const endpoint = endpointFromRow(row);
      await this.outbox.add(m, Events.EndpointUpserted, { endpoint });
      return { endpoint, created: row.created };
    });
    this.relay.kick();
    return { ...result, secret: result.created ? secret : '' };
  }

  async get(endpointId: string, m: EntityManager = this.ds.manager): Promise<Endpoint> {
    const [row] = (await m.query(`SELECT ${ENDPOINT_COLUMNS} FROM "delivery".endpoints WHERE endpoint_id = $1`, [endpointId])) as EndpointRow[];
    if (!row) throw new NotFoundError('endpoint', endpointId);
    return endpointFromRow(row);
  }

  async list(activeOnly: boolean): Promise<Endpoint[]> {
    const rows = (await this.ds.query(
      `SELECT ${ENDPOINT_COLUMNS} FROM "delivery".endpoints WHERE active OR NOT $1 ORDER BY endpoint_id`,
      [activeOnly],
    )) as EndpointRow[];
    return rows.map(endpointFromRow);
  }

  /** Deletes the endpoint; its pending deliveries fail (their log stays). */
  async delete(endpointId: string): Promise<number> {
    return this.ds.transaction(async (m) => {
      const [, deleted] = (await m.query(`DELETE FROM "delivery".endpoints WHERE endpoint_id = $1`, [endpointId])) as [unknown, number];
      if (!deleted) throw new NotFoundError('endpoint', endpointId);
      const [, failed] = (await m.query(
        `UPDATE "delivery".deliveries SET status = 'FAILED', last_error = 'endpoint deleted' WHERE endpoint_id = $1 AND status = 'PENDING'`,
        [endpointId],
      )) as [unknown, number];
      return failed;
    });
  }

  /** A new secret; the previous one keeps signing (both signatures sent) until the overlap ends. */
  async rotate(endpointId: string, overlapSeconds: number): Promise<{ endpoint: Endpoint; secret: string }> {
    const now = this.clock.now();
    const secret = generateSecret();
    const until = new Date(now.getTime() + (overlapSeconds || this.config.DELIVERY_SECRET_OVERLAP_SECONDS) * 1000);
    const result = await this.ds.transaction(async (m) => {
      const rows = (await m.query(
        `UPDATE "delivery".endpoints SET previous_secret = secret, previous_secret_expires_at = $3, secret = $2, updated_at = $4
         WHERE endpoint_id = $1 RETURNING ${ENDPOINT_COLUMNS}`,
        [endpointId, secret, until, now],
      )) as [EndpointRow[], number];
      const row = rows[0][0];
      if (!row) throw new NotFoundError('endpoint', endpointId);
      const endpoint = endpointFromRow(row);
      await this.outbox.add(m, Events.EndpointUpserted, { endpoint });
      return endpoint;
    });
    this.relay.kick();
    return { endpoint: result, secret };
  }
}
