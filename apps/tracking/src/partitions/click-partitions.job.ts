import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Pool } from 'pg';
import { rawPool } from '@trackly/database';
import { CLOCK, Clock } from '@trackly/kernel';
import type { Logger } from '@trackly/logging';
import { PartitionRange, planClickPartitions } from '../domain/click-partitions';
import type { TrackingConfig } from '../tracking.config';
import { TRACKING_CONFIG, TRACKING_LOGGER } from '../tracking.tokens';

const LOCK = 'trackly-tracking-click-partitions';
const AHEAD_DAYS = 7;
const EVERY_MS = 3_600_000;

/** `FOR VALUES FROM ('…') TO ('…')` / `FROM (MINVALUE) …` / `DEFAULT` as pg_get_expr prints it (session in UTC). */
export function parseBound(name: string, bound: string): PartitionRange {
  if (bound.trim() === 'DEFAULT') return { name, isDefault: true };
  const m = /FROM \((.+?)\) TO \((.+?)\)/.exec(bound);
  if (!m) throw new Error(`unexpected partition bound of ${name}: ${bound}`);
  const value = (v: string) => (/^(MINVALUE|MAXVALUE)$/.test(v) ? undefined : new Date(v.replace(/^'|'$/g, '').replace(' ', 'T').replace(/\+00$/, 'Z')));
  return { name, from: value(m[1]), to: value(m[2]) };
}

/**
 * Keeps tracking.clicks' daily partitions: today and 7 days ahead exist, partitions wholly older than
 * TRACKING_CLICKS_RETENTION_DAYS are detached and dropped. At start and hourly, on one replica at a time (an advisory
 * lock). Every DDL statement runs with a short lock_timeout: it waits for the click edge's inserts at most that long
 * and otherwise gives up until the next run, so the hot path is never queued behind it for longer.
 */
@Injectable()
export class ClickPartitionsJob implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private readonly pool: Pool;

  constructor(
    ds: DataSource,
    @Inject(TRACKING_CONFIG) private readonly config: TrackingConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(TRACKING_LOGGER) private readonly logger: Logger,
  ) {
    this.pool = rawPool(ds);
  }

  onApplicationBootstrap(): void {
    const tick = () => {
      this.running ??= this.run()
        .then(() => undefined)
        .catch((e: Error) => this.logger.warn({ err: e.message }, 'click partition maintenance failed; next run in an hour'))
        .finally(() => (this.running = undefined));
    };
    tick();
    this.timer = setInterval(tick, EVERY_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One maintenance pass; returns what it created and dropped (nothing when another replica holds the lock). */
  async run(): Promise<{ created: string[]; dropped: string[] }> {
    const client = await this.pool.connect();
    const done = { created: [] as string[], dropped: [] as string[] };
    try {
      const { rows: lock } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [LOCK]);
      if (!lock[0].ok) return done;
      try {
        await client.query(`SET TIME ZONE 'UTC'`);
        await client.query(`SET lock_timeout = '${this.config.TRACKING_PARTITION_LOCK_TIMEOUT_MS}ms'`);
        const { rows } = await client.query<{ name: string; bound: string }>(
          `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
           FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = '"tracking".clicks'::regclass`,
        );
        const plan = planClickPartitions(this.clock.now(), rows.map((r) => parseBound(r.name, r.bound)), this.config.TRACKING_CLICKS_RETENTION_DAYS, AHEAD_DAYS);
        for (const p of plan.create) {
          try {
            await client.query(
              `CREATE TABLE IF NOT EXISTS "tracking".${p.name} PARTITION OF "tracking".clicks FOR VALUES FROM ('${p.from.toISOString()}') TO ('${p.to.toISOString()}')`,
            );
            done.created.push(p.name);
          } catch (e) {
            // E.g. the default partition already holds clicks of that day (a clock that ran ahead): those rows stay
            // there and are found as before; the day is tried again at the next run, the other days go on.
            this.logger.warn({ err: (e as Error).message, partition: p.name }, 'could not create a click partition');
          }
        }
        for (const name of plan.drop) {
          // Detached first (metadata only, under the short lock_timeout), then dropped on its own.
          await client.query(`ALTER TABLE "tracking".clicks DETACH PARTITION "tracking".${name}`);
          await client.query(`DROP TABLE "tracking".${name}`);
          done.dropped.push(name);
        }
        if (done.created.length || done.dropped.length) this.logger.info(done, 'click partitions maintained');
        return done;
      } finally {
        await client.query('RESET lock_timeout').catch(() => undefined);
        await client.query('RESET TIME ZONE').catch(() => undefined);
        await client.query('SELECT pg_advisory_unlock(hashtext($1))', [LOCK]).catch(() => undefined);
      }
    } finally {
      client.release();
    }
  }
}
