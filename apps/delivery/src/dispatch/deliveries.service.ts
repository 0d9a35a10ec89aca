import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Inject } from '@nestjs/common';
import { CLOCK, Clock, InvalidArgumentError, NotFoundError } from '@trackly/kernel';
import type { Delivery, DeliveryAttempt } from '@trackly/contracts/delivery/v1/delivery';
import { attemptFromRow, deliveryFromRow, DeliveryRow } from '../endpoints/endpoint.mappers';
import { Dispatcher } from './dispatcher';

const DELIVERY_COLUMNS = `d.delivery_id, d.endpoint_id, d.message_id, d.event_type, d.status, d.attempts, d.last_status_code, d.last_latency_ms,
  d.last_error, ev.occurred_at, d.created_at, d.next_attempt_at, d.delivered_at`;

/** The delivery log and manual redelivery. */
@Injectable()
export class DeliveriesService {
  constructor(
    private readonly ds: DataSource,
    private readonly dispatcher: Dispatcher,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Newest first; the page token is the last row's (created_at, delivery_id). */
  async list(endpointId: string, status: string | undefined, limit: number, pageToken: string): Promise<{ deliveries: Delivery[]; nextPageToken: string }> {
    const n = Math.min(Math.max(limit || 50, 1), 500);
    let after: [Date, string] | undefined;
    if (pageToken) {
      const [ts, id] = Buffer.from(pageToken, 'base64url').toString().split('|');
      if (!ts || !id || Number.isNaN(Date.parse(ts))) throw new InvalidArgumentError('page_token', 'is not a token this service issued');
      after = [new Date(ts), id];
    }
    const rows = (await this.ds.query(
      `SELECT ${DELIVERY_COLUMNS} FROM "delivery".deliveries d JOIN "delivery".events ev ON ev.event_key = d.event_key
       WHERE d.endpoint_id = $1 AND ($2::text IS NULL OR d.status = $2)
         AND ($3::timestamptz IS NULL OR (d.created_at, d.delivery_id) < ($3, $4::uuid))
       ORDER BY d.created_at DESC, d.delivery_id DESC LIMIT $5`,
      [endpointId, status ?? null, after?.[0] ?? null, after?.[1] ?? null, n + 1],
    )) as DeliveryRow[];
    const page = rows.slice(0, n);
    const last = page[page.length - 1];
    return {
      deliveries: page.map(deliveryFromRow),
      nextPageToken: rows.length > n ? Buffer.from(`${last.created_at.toISOString()}|${last.delivery_id}`).toString('base64url') : '',
    };
  }

  async attempts(deliveryId: string): Promise<DeliveryAttempt[]> {
    if (!/^[0-9a-f-]{36}$/i.test(deliveryId)) throw new InvalidArgumentError('delivery_id', 'must be a delivery id (UUID)');
    const rows = await this.ds.query(
      `SELECT delivery_id, attempt, status_code, latency_ms, error, attempted_at FROM "delivery".delivery_attempts WHERE delivery_id = $1 ORDER BY attempt`,
      [deliveryId],
    );
    return rows.map(attemptFromRow);
  }

  /**
   * Queues deliveries again with the same webhook-id: one, or every delivery of an endpoint created in [from, to).
   * Each gets a fresh retry horizon. An inactive endpoint's redeliveries wait until it is active again.
   */
  async redeliver(req: { deliveryId: string; endpointId: string; from?: Date; to?: Date }): Promise<number> {
    const now = this.clock.now();
    let queued: number;
    if (req.deliveryId) {
      if (!/^[0-9a-f-]{36}$/i.test(req.deliveryId)) throw new InvalidArgumentError('delivery_id', 'must be a delivery id (UUID)');
      const [, n] = (await this.ds.query(
        `UPDATE "delivery".deliveries SET status = 'PENDING', next_attempt_at = $2, queued_at = $2 WHERE delivery_id = $1`,
        [req.deliveryId, now],
      )) as [unknown, number];
      if (!n) throw new NotFoundError('delivery', req.deliveryId);
      queued = n;
    } else {
      const bad: Record<string, string> = {};
      if (!req.endpointId) bad.endpoint_id = 'is required without delivery_id';
      if (!req.from) bad.from = 'is required for a range';
      if (!req.to) bad.to = 'is required for a range';
      else if (req.from && req.to <= req.from) bad.to = 'must be after from';
      if (Object.keys(bad).length) throw InvalidArgumentError.of(bad);
      const [exists] = await this.ds.query(`SELECT 1 FROM "delivery".endpoints WHERE endpoint_id = $1`, [req.endpointId]);
      if (!exists) throw new NotFoundError('endpoint', req.endpointId);
      const [, n] = (await this.ds.query(
        `UPDATE "delivery".deliveries SET status = 'PENDING', next_attempt_at = $4, queued_at = $4
         WHERE endpoint_id = $1 AND created_at >= $2 AND created_at < $3`,
        [req.endpointId, req.from, req.to, now],
      )) as [unknown, number];
      queued = n;
    }
    if (queued) this.dispatcher.kick();
    return queued;
  }
}
