import type { Pool, PoolClient } from 'pg';
import type { Clock } from '@trackly/kernel';
import type { Logger } from '@trackly/logging';
import { PeriodicTask } from '@trackly/platform';
import { parseBound, PartitionGranularity, planPartitions } from './partition-plan';
import { quoteIdent } from './data-source';

/** One table partitioned by RANGE on a timestamptz column, as the keeper maintains it. */
export interface KeptTable {
  schema: string;
  table: string;
  granularity: PartitionGranularity;
  /** Partitions whose every row is older than this are detached and dropped. */
  retentionDays: number;
  /** Periods made ahead of the current one (default: 7 days, or 2 months), so an insert never lacks a partition. */
  ahead?: number;
  /** Advisory lock name that one replica at a time holds while keeping this table (default `trackly-partitions:schema.table`). */
  lock?: string;
}

export interface KeptResult {
  created: string[];
  dropped: string[];
}

export interface PartitionKeeperOptions {
  pool: Pool;
  tables: KeptTable[];
  /** Longest any DDL statement waits for its lock before the run gives up (until the next run). */
  lockTimeoutMs: number;
  clock: Clock;
  logger: Logger;
  /** Between runs (default hourly); the first run is at start(). */
  intervalMs?: number;
}

const HOUR_MS = 3_600_000;

/**
 * Keeps time-partitioned tables: the current period and the ones ahead exist, partitions wholly older than the
 * retention are detached and dropped. At start and then hourly (PeriodicTask), each table under an advisory lock
 * so one replica at a time keeps it. Every DDL statement runs with a short lock_timeout: it waits for the hot path's
 * inserts at most that long, and those inserts queue behind it at most that long; a statement that cannot get its
 * lock fails and the table is tried again at the next run.
 */
export class PartitionKeeper {
  private readonly task: PeriodicTask;
  private first?: Promise<unknown>;

  constructor(private readonly o: PartitionKeeperOptions) {
    this.task = new PeriodicTask(o.intervalMs ?? HOUR_MS, () => this.runAll(), () => undefined);
  }

  start(): void {
    this.first ??= this.runAll();
    this.task.start();
  }

  async stop(): Promise<void> {
    await this.task.stop();
    await this.first;
  }

  /** Nest lifecycle: an app provides a keeper (useFactory) and it runs for the app's lifetime. */
  onApplicationBootstrap(): void {
    this.start();
  }

  onApplicationShutdown(): Promise<void> {
    return this.stop();
  }

  /** Every table once; a table that fails is logged and left for the next run, the others go on. */
  async runAll(): Promise<Record<string, KeptResult>> {
    const out: Record<string, KeptResult> = {};
    for (const t of this.o.tables) {
      try {
        out[`${t.schema}.${t.table}`] = await this.maintain(t);
      } catch (e) {
        this.o.logger.warn({ err: (e as Error).message, table: `${t.schema}.${t.table}` }, 'partition maintenance failed; next run in an hour');
      }
    }
    return out;
  }

  /** One pass over one table; what it created and dropped (nothing when another replica holds the table's lock). */
  async maintain(t: KeptTable): Promise<KeptResult> {
    const client = await this.o.pool.connect();
    const done: KeptResult = { created: [], dropped: [] };
    const lock = t.lock ?? `trackly-partitions:${t.schema}.${t.table}`;
    try {
      const { rows: got } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [lock]);
      if (!got[0].ok) return done;
      try {
        await client.query(`SET TIME ZONE 'UTC'`);
        await client.query(`SET lock_timeout = '${Math.floor(this.o.lockTimeoutMs)}ms'`);
        await this.keep(client, t, done);
        if (done.created.length || done.dropped.length) this.o.logger.info({ table: `${t.schema}.${t.table}`, ...done }, 'partitions maintained');
        return done;
      } finally {
        await client.query('RESET lock_timeout').catch(() => undefined);
        await client.query('RESET TIME ZONE').catch(() => undefined);
        await client.query('SELECT pg_advisory_unlock(hashtext($1))', [lock]).catch(() => undefined);
      }
    } finally {
      client.release();
    }
  }

  private async keep(client: PoolClient, t: KeptTable, done: KeptResult): Promise<void> {
    const parent = `${quoteIdent(t.schema)}.${quoteIdent(t.table)}`;
    const { rows } = await client.query<{ name: string; bound: string }>(
      `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass`,
      [parent],
    );
    const plan = planPartitions({
      table: t.table,
      granularity: t.granularity,
      now: this.o.clock.now(),
      existing: rows.map((r) => parseBound(r.name, r.bound)),
      retentionDays: t.retentionDays,
      ahead: t.ahead ?? (t.granularity === 'day' ? 7 : 2),
    });
    for (const p of plan.create) {
      try {
        await client.query(
          `CREATE TABLE IF NOT EXISTS ${quoteIdent(t.schema)}.${quoteIdent(p.name)} PARTITION OF ${parent} FOR VALUES FROM ('${p.from.toISOString()}') TO ('${p.to.toISOString()}')`,
        );
        done.created.push(p.name);
      } catch (e) {
        // E.g. the default partition already holds rows of that period (a clock that ran ahead): those rows stay
        // there and are found as before; the period is tried again at the next run, the others go on.
        this.o.logger.warn({ err: (e as Error).message, partition: p.name }, 'could not create a partition');
      }
    }
    for (const name of plan.drop) {
      // Detached first (metadata only, under the short lock_timeout), then dropped on its own.
      await client.query(`ALTER TABLE ${parent} DETACH PARTITION ${quoteIdent(t.schema)}.${quoteIdent(name)}`);
      await client.query(`DROP TABLE ${quoteIdent(t.schema)}.${quoteIdent(name)}`);
      done.dropped.push(name);
    }
  }
}
