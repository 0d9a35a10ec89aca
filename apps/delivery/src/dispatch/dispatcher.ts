import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CLOCK, Clock } from '@trackly/kernel';
import type { Logger } from '@trackly/logging';
import { Events, Outbox, OutboxRelay, Wakeup } from '@trackly/messaging';
import { countDeliveryAttempts } from '@trackly/observability';
import { BackoffPolicy, isSuccess, nextAttemptAt } from '../domain/backoff.rules';
import { consecutiveFailuresAfter, shouldDisable } from '../domain/endpoint.rules';
import { MacroValues, renderTemplate } from '../domain/postback-template.rules';
import { TokenBucket } from '../domain/token-bucket';
import { webhookHeaders } from '../domain/webhook-signing';
import type { DeliveryConfig } from '../delivery.config';
import { DELIVERY_CONFIG, DELIVERY_LOGGER } from '../delivery.tokens';
import { FanoutService } from '../fanout/fanout.service';
import { HttpSender, SendResult } from './http-sender';

/** A claimed delivery with what its request needs. */
interface Claimed {
  delivery_id: string;
  endpoint_id: string;
  message_id: string;
  attempts: number;
  queued_at: Date;
  kind: 'WEBHOOK' | 'POSTBACK_TEMPLATE';
  url: string;
  timeout_ms: number;
  rate_limit_per_second: number;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: Date | null;
  body: string;
  /** Only for postback templates (a webhook sends the stored body). */
  macros: MacroValues | null;
}

interface Outcome {
  c: Claimed;
  r: SendResult;
  attemptedAt: Date;
}

/** Extra time a claim holds a delivery beyond its request timeout, before another dispatcher may take it again. */
const LEASE_MARGIN_MS = 60_000;
const CLAIM_MAX = 500;
const FLUSH_AT = 200;
const FLUSH_AFTER_MS = 20;

/**
 * Delivers at least once. Claims due deliveries (FOR UPDATE SKIP LOCKED, so replicas share the work; a claim
 * counts the attempt and pushes next_attempt_at past the request's timeout, so a crashed dispatcher's claims come
 * back by themselves), sends each with the same webhook-id on every attempt, then records results a group at a
 * time: one UPDATE of the deliveries, one INSERT of the attempt log, one UPDATE of the endpoints' failure counts;
 * endpoints that reach the failure threshold are disabled and EndpointDisabled goes out through the outbox.
 *
 * Rate limits are per replica: each endpoint has a token bucket, and a claim takes at most one second's worth of an
 * endpoint's deliveries and none of an endpoint that already has that many in flight here.
 */
@Injectable()
export class Dispatcher implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private running = false;
  private loop?: Promise<void>;
  private inFlight = 0;
  private readonly perEndpoint = new Map<string, number>();
  private readonly buckets = new Map<string, TokenBucket>();
  private outcomes: Outcome[] = [];
  private flushing?: Promise<void>;
  private flushTimer?: NodeJS.Timeout;
  private readonly wakeup = new Wakeup();
  /** The loop waits for room: a finished request wakes it. */
  private full = false;
  private readonly sender: HttpSender;
  private readonly policy: BackoffPolicy;

  constructor(
    private readonly ds: DataSource,
    private readonly outbox: Outbox,
    private readonly relay: OutboxRelay,
    fanout: FanoutService,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(DELIVERY_CONFIG) private readonly config: DeliveryConfig,
    @Inject(DELIVERY_LOGGER) private readonly logger: Logger,
  ) {
    this.sender = new HttpSender(config.DELIVERY_ALLOW_PRIVATE_DESTINATIONS, config.DELIVERY_MAX_IN_FLIGHT);
    this.policy = {
      baseMs: config.DELIVERY_BACKOFF_BASE_MS,
      maxStepMs: config.DELIVERY_BACKOFF_MAX_MS,
      horizonMs: config.DELIVERY_RETRY_HORIZON_SECONDS * 1000,
    };
    fanout.onQueued = () => this.kick();
  }

  onApplicationBootstrap(): void {
    this.running = true;
    this.loop = this.run();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.running = false;
    this.kick();
    await this.loop;
    // Requests in flight finish (each within its timeout) and their results are recorded before the database closes.
    while (this.inFlight > 0) await this.wakeup.sleep();
    await this.flush();
    this.sender.close();
  }

  /** Wakes the loop (new deliveries, a redeliver, a finished request). */
  kick(): void {
    this.wakeup.wake();
  }

  private async run(): Promise<void> {
    while (this.running) {
      const room = this.config.DELIVERY_MAX_IN_FLIGHT - this.inFlight;
      let claimed: Claimed[] = [];
      if (room > 0) {
        try {
          claimed = await this.claim(Math.min(room, CLAIM_MAX));
        } catch (e) {
          this.logger.warn({ err: (e as Error).message }, 'claiming deliveries failed; will try again');
        }
      }
      for (const c of claimed) void this.attempt(c);
      if (!this.running) break;
      // Full: wait for a finished request (or the poll). Nothing due: wait for a kick (new rows) or the poll.
      this.full = room <= 0 || claimed.length >= room;
      if (claimed.length === 0 || this.full) await this.wakeup.sleep(this.config.DELIVERY_POLL_MS);
    }
  }

  private async claim(limit: number): Promise<Claimed[]> {
    const saturated = [...this.perEndpoint.entries()].filter(([id, n]) => n >= (this.buckets.get(id)?.rate ?? Infinity)).map(([id]) => id);
    const rows = (await this.ds.query(
      `WITH due AS (
         SELECT d.delivery_id, d.endpoint_id, d.next_attempt_at FROM "delivery".deliveries d
         JOIN "delivery".endpoints e ON e.endpoint_id = d.endpoint_id AND e.active
         WHERE d.status = 'PENDING' AND d.next_attempt_at <= $1 AND NOT (d.endpoint_id = ANY ($2::text[]))
         ORDER BY d.next_attempt_at LIMIT $3
         FOR UPDATE OF d SKIP LOCKED
       ), ranked AS (
         SELECT delivery_id, row_number() OVER (PARTITION BY endpoint_id ORDER BY next_attempt_at) AS rn FROM due
       )
       UPDATE "delivery".deliveries d SET attempts = d.attempts + 1,
         next_attempt_at = $1::timestamptz + make_interval(secs => (e.timeout_ms + $4) / 1000.0)
       FROM ranked r, "delivery".endpoints e, "delivery".events ev
       WHERE d.delivery_id = r.delivery_id AND e.endpoint_id = d.endpoint_id AND r.rn <= e.rate_limit_per_second AND ev.event_key = d.event_key
       RETURNING d.delivery_id, d.endpoint_id, d.message_id, d.attempts, d.queued_at, e.kind, e.url, e.timeout_ms, e.rate_limit_per_second,
         e.secret, e.previous_secret, e.previous_secret_expires_at, ev.body,
         CASE WHEN e.kind = 'POSTBACK_TEMPLATE' THEN ev.macros END AS macros`,
      [this.clock.now(), saturated, limit, LEASE_MARGIN_MS],
    )) as [Claimed[], number];
    return rows[0];
  }

  private async attempt(c: Claimed): Promise<void> {
    this.inFlight++;
    this.perEndpoint.set(c.endpoint_id, (this.perEndpoint.get(c.endpoint_id) ?? 0) + 1);
    try {
      let bucket = this.buckets.get(c.endpoint_id);
      if (!bucket) this.buckets.set(c.endpoint_id, (bucket = new TokenBucket(c.rate_limit_per_second, Date.now())));
      else bucket.setRate(c.rate_limit_per_second);
      for (let wait = bucket.take(Date.now()); wait > 0; wait = bucket.take(Date.now())) await new Promise((r) => setTimeout(r, wait));
      const attemptedAt = this.clock.now();
      const r = await this.sender.send(this.request(c, attemptedAt)).catch((e: Error) => ({ statusCode: 0, latencyMs: 0, error: e.message }));
      this.outcomes.push({ c, r, attemptedAt });
      if (this.outcomes.length >= FLUSH_AT) void this.flush();
      else this.flushTimer ??= setTimeout(() => void this.flush(), FLUSH_AFTER_MS);
    } finally {
      this.inFlight--;
      const n = (this.perEndpoint.get(c.endpoint_id) ?? 1) - 1;
      if (n > 0) this.perEndpoint.set(c.endpoint_id, n);
      else this.perEndpoint.delete(c.endpoint_id);
      if (this.full || !this.running) this.kick();
    }
  }

  private request(c: Claimed, at: Date) {
    if (c.kind === 'POSTBACK_TEMPLATE') {
      return { method: 'GET' as const, url: renderTemplate(c.url, c.macros ?? {}), headers: { 'user-agent': 'Trackly-Postback/1' }, timeoutMs: c.timeout_ms };
    }
    const secrets = [c.secret];
    if (c.previous_secret && c.previous_secret_expires_at && c.previous_secret_expires_at > at) secrets.push(c.previous_secret);
    return {
      method: 'POST' as const,
      url: c.url,
      headers: { 'content-type': 'application/json', 'user-agent': 'Trackly-Webhooks/1', ...webhookHeaders(secrets, c.message_id, Math.floor(at.getTime() / 1000), c.body) },
      body: c.body,
      timeoutMs: c.timeout_ms,
    };
  }

  /** Records every finished attempt so far, in one transaction; serialised, so counts apply in completion order. */
  private flush(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const run = async (): Promise<void> => {
      while (this.outcomes.length) {
        const batch = this.outcomes;
        this.outcomes = [];
        for (;;) {
          try {
            await this.record(batch);
            break;
          } catch (e) {
            // The requests were made; losing their results would only resend them (at-least-once), but keep trying.
            this.logger.warn({ err: (e as Error).message, results: batch.length }, 'recording delivery results failed; retrying');
            await new Promise((r) => setTimeout(r, 500));
          }
        }
      }
    };
    this.flushing = (this.flushing ?? Promise.resolve()).then(run);
    return this.flushing;
  }

  private async record(batch: Outcome[]): Promise<void> {
    const now = this.clock.now();
    const rows = batch.map(({ c, r, attemptedAt }) => {
      const ok = isSuccess(r.statusCode);
      const next = ok ? undefined : nextAttemptAt(this.policy, c.attempts, c.queued_at, now, Math.random());
      return { c, r, attemptedAt, ok, next, status: ok ? 'DELIVERED' : next ? 'PENDING' : 'FAILED' };
    });
    const byEndpoint = new Map<string, { kind: string; outcomes: boolean[]; lastError: string }>();
    for (const x of rows) {
      const e = byEndpoint.get(x.c.endpoint_id) ?? { kind: x.c.kind, outcomes: [], lastError: '' };
      e.outcomes.push(x.ok);
      if (!x.ok) e.lastError = x.r.error;
      byEndpoint.set(x.c.endpoint_id, e);
    }
    const disabled: Array<{ endpointId: string; failures: number; lastError: string }> = [];
    await this.ds.transaction(async (m) => {
      await m.query(
        `UPDATE "delivery".deliveries d SET status = r.status, next_attempt_at = COALESCE(r.next, d.next_attempt_at),
           last_status_code = r.code, last_latency_ms = r.lat, last_error = NULLIF(r.err, ''),
           delivered_at = CASE WHEN r.status = 'DELIVERED' THEN r.at ELSE d.delivered_at END
         FROM unnest($1::uuid[], $2::int[], $3::text[], $4::timestamptz[], $5::int[], $6::int[], $7::text[], $8::timestamptz[])
           AS r(id, attempt, status, next, code, lat, err, at)
         WHERE d.delivery_id = r.id AND d.attempts = r.attempt AND d.status = 'PENDING'`,
        [rows.map((x) => x.c.delivery_id), rows.map((x) => x.c.attempts), rows.map((x) => x.status), rows.map((x) => x.next ?? null),
          rows.map((x) => x.r.statusCode), rows.map((x) => x.r.latencyMs), rows.map((x) => x.r.error), rows.map((x) => x.attemptedAt)],
      );
      await m.query(
        `INSERT INTO "delivery".delivery_attempts (delivery_id, attempt, status_code, latency_ms, error, attempted_at)
         SELECT * FROM unnest($1::uuid[], $2::int[], $3::int[], $4::int[], $5::text[], $6::timestamptz[]) ON CONFLICT DO NOTHING`,
        [rows.map((x) => x.c.delivery_id), rows.map((x) => x.c.attempts), rows.map((x) => x.r.statusCode), rows.map((x) => x.r.latencyMs),
          rows.map((x) => x.r.error), rows.map((x) => x.attemptedAt)],
      );
      const ids = [...byEndpoint.keys()];
      const counted = (await m.query(
        `UPDATE "delivery".endpoints e SET consecutive_failures = CASE WHEN r.reset THEN r.n ELSE e.consecutive_failures + r.n END
         FROM unnest($1::text[], $2::bool[], $3::int[]) AS r(id, reset, n) WHERE e.endpoint_id = r.id
         RETURNING e.endpoint_id, e.consecutive_failures, e.active`,
        [ids, ids.map((id) => byEndpoint.get(id)!.outcomes.includes(true)), ids.map((id) => {
          const o = byEndpoint.get(id)!.outcomes;
          return o.includes(true) ? consecutiveFailuresAfter(0, o) : o.length;
        })],
      )) as [Array<{ endpoint_id: string; consecutive_failures: number; active: boolean }>, number];
      for (const e of counted[0]) {
        if (e.active && shouldDisable(e.consecutive_failures, this.config.DELIVERY_DISABLE_AFTER_FAILURES)) {
          disabled.push({ endpointId: e.endpoint_id, failures: e.consecutive_failures, lastError: byEndpoint.get(e.endpoint_id)!.lastError });
        }
      }
      if (disabled.length) {
        await m.query(
          `UPDATE "delivery".endpoints SET active = false, disabled_at = $2, updated_at = $2,
             disabled_reason = 'disabled after ' || consecutive_failures || ' failed attempts in a row'
           WHERE endpoint_id = ANY ($1::text[])`,
          [disabled.map((d) => d.endpointId), now],
        );
        await this.outbox.addMany(m, Events.EndpointDisabled, disabled.map((d) => ({
          endpointId: d.endpointId, consecutiveFailures: d.failures, lastError: d.lastError, disabledAt: now,
        })));
      }
    });
    if (disabled.length) {
      this.relay.kick();
      for (const d of disabled) this.logger.warn({ endpoint: d.endpointId, failures: d.failures, err: d.lastError }, 'endpoint disabled after failures in a row');
    }
    for (const x of rows) countDeliveryAttempts(x.c.kind === 'WEBHOOK' ? 'webhook' : 'postback', x.ok ? 'delivered' : x.next ? 'retry' : 'failed');
  }
}
