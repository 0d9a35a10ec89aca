import { Client, type ClientConfig, type Pool } from 'pg';
import { Counter, Gauge } from 'prom-client';
import type { Logger } from '@trackly/logging';
import { addScrapeHook, metricsRegistry } from '@trackly/observability';
import { Messaging } from './messaging';
import { PollLoop } from './poll-loop';
import { publishAcked, RelayedEvent } from './publish-acked';

export type { RelayedEvent } from './publish-acked';

/**
 * A relay that publishes the rows of a business table itself as events, for a write path where one durable row must
 * be the whole synchronous write (the click edge: no outbox row beside each click). The table carries, on each row
 * written for the relay, `xid xid8` = pg_current_xact_id() of the writing transaction and `seq bigint` from a
 * sequence; the relay reads rows in (xid, seq) order after a cursor kept in `table_relay_cursors`.
 *
 * Why not a cursor over `seq` alone: sequence values are taken when a row is inserted, not when its transaction
 * commits, so a row with a smaller seq can become visible after a larger one has been read; a cursor that moved
 * past it would never see it. Transaction ids have the same problem. The relay therefore reads only rows whose xid
 * is below the xmin of its snapshot (`pg_snapshot_xmin(pg_current_snapshot())`): every transaction with a smaller
 * xid has ended, so each such row is either visible now or will never exist, and no row can later appear behind
 * the cursor. The price: a row waits until every write transaction older than its own has ended (normally
 * milliseconds; an open write transaction anywhere on the cluster holds publication back for as long as it stays
 * open, which `table_relay_backlog_rows` and `table_relay_oldest_age_seconds` show).
 *
 * One relay publishes at a time per cursor (a session advisory lock; replicas that do not get it skip the pass).
 * Each event goes out with Nats-Msg-Id = the row's stable id (or, for an event carrying a run of rows, a digest of
 * theirs), and the cursor moves only after JetStream acknowledged the batch, so a crash between publish and cursor
 * update republishes, and the stream's duplicate window drops it. Runs are cut from what each read returned, so a
 * re-read that sees more rows at once may cut them otherwise: those rows go out again under new ids, and consumers
 * apply each row's record once by its own key (at-least-once on the stream, exactly-once in effect).
 */

/** DDL of the cursor table; run by a migration of the service that owns the source table. */
export function tableRelayCursorsSql(schema: string): string[] {
  return [
    `CREATE TABLE "${schema}".table_relay_cursors (
      relay text PRIMARY KEY,
      xid xid8 NOT NULL,
      seq bigint NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`,
  ];
}

export function dropTableRelayCursorsSql(schema: string): string[] {
  return [`DROP TABLE "${schema}".table_relay_cursors`];
}

/** DDL of the index the relay reads in order (partial: rows written before the table became a source have no xid). */
export function tableRelayIndexSql(table: string, indexName: string): string {
  return `CREATE INDEX ${indexName} ON ${table} (xid, seq) WHERE xid IS NOT NULL`;
}

export interface TableRelayOptions<Row> {
  pool: Pool;
  messaging: Messaging;
  /** Schema holding table_relay_cursors. */
  schema: string;
  /** This relay's cursor, unique within the schema (e.g. "clicks"). */
  name: string;
  /** The source table, schema-qualified; it is aliased `t` in `columns` and `joins`. */
  table: string;
  /** Select list for `toEvents` (columns of `t` and of the joins). */
  columns: string;
  /** Joins after `FROM <table> AS t` (e.g. a parent row the event also needs). */
  joins?: string;
  /**
   * The events of one read's rows, in order: one per row (`rows.map(…)`), or events that each carry a run of rows
   * (MessagesSent: up to 100 sends of one call).
   */
  toEvents(rows: Row[]): RelayedEvent[];
  /** A timestamp column of `t` for the age of the oldest unpublished row (metrics). */
  timeColumn?: string;
  /** Rows per read (default 1000). */
  batchSize?: number;
  /** Batches published while earlier ones wait for their acks (default 3). */
  inFlight?: number;
  /** After a kick, how long to let further commits gather before the pass (default 1 ms). */
  lingerMs?: number;
  /** Poll interval when nothing wakes the relay (another replica's writes, a missed kick); default 200 ms. */
  pollMs?: number;
  /** How long a published batch may wait for its acks before the pass fails and is retried (default 10 s). */
  ackTimeoutMs?: number;
  /** How often, at most, the acknowledged position is saved while a backlog is being published (default 100 ms). */
  cursorSaveMs?: number;
  /** On stop, how long to wait for committed rows still held behind an older open transaction (default 5 s). */
  stopWaitMs?: number;
  /**
   * Run the read with a generic plan, without JIT (on the relay's own connection). Postgres otherwise plans a read of
   * a partitioned table afresh each time: its generic plan's estimate (a tenth of the table for `LIMIT $3`) is above
   * what custom plans cost, and above jit_above_cost, so that plan would also be compiled on every execution. Only for
   * a read whose generic plan is as good (e.g. every join a nested loop of index probes).
   */
  genericPlan?: boolean;
  logger?: Logger;
}

const published = new Counter({
  name: 'table_relay_published_total',
  help: 'Rows of a table published as events by its relay',
  labelNames: ['relay'] as const,
  registers: [metricsRegistry],
});

const failures = new Counter({
  name: 'table_relay_publish_failures_total',
  help: 'Table relay passes that failed (retried)',
  labelNames: ['relay'] as const,
  registers: [metricsRegistry],
});

const backlog = new Gauge({
  name: 'table_relay_backlog_rows',
  help: 'Committed rows of a relayed table not yet published (past the cursor)',
  labelNames: ['relay'] as const,
  registers: [metricsRegistry],
});

const oldestAge = new Gauge({
  name: 'table_relay_oldest_age_seconds',
  help: 'Age of the oldest committed, unpublished row of a relayed table (0 when none)',
  labelNames: ['relay'] as const,
  registers: [metricsRegistry],
});

interface Cursor {
  xid: string;
  seq: string;
}

interface Leader {
  client: Client;
  /** Everything up to here is acknowledged by JetStream. */
  acked: Cursor;
  /** The cursor as saved in table_relay_cursors (at or behind `acked`), and when. */
  saved: Cursor;
  savedAt: number;
}

interface InFlightBatch {
  end: Cursor;
  count: number;
  acks: Promise<unknown>;
}

/** The session settings of a relay with `genericPlan`, on its own connection. */
export const GENERIC_PLAN_SETTINGS = 'SET plan_cache_mode = force_generic_plan; SET jit = off';

/**
 * A relay's read: the rows after the cursor (`$1` its xid, `$2` its seq), at most `$3`, in order. TableRelay prepares
 * it once on its connection; exported so that a service's spec can check the plan Postgres gives it.
 */
export function tableRelayRead(source: Pick<TableRelayOptions<never>, 'table' | 'columns' | 'joins'>): string {
  // xid below the snapshot's xmin: every older transaction has ended, so nothing can still appear behind the cursor.
  return `SELECT t.xid::text AS relay_xid, t.seq::text AS relay_seq, ${source.columns}
      FROM ${source.table} AS t ${source.joins ?? ''}
      WHERE t.xid IS NOT NULL AND (t.xid, t.seq) > ($1::xid8, $2::bigint)
        AND t.xid < pg_snapshot_xmin(pg_current_snapshot())
      ORDER BY t.xid, t.seq
      LIMIT $3`;
}

export class TableRelay<Row extends Record<string, unknown>> {
  /**
   * Test seam, empty in production (as OutboxRelay.seams): a fault test can preload a module that sets
   * `afterPublish` to kill the process between JetStream's acks and the cursor update.
   */
  static readonly seams: { afterPublish?: () => void } = {};

  private readonly loop: PollLoop;
  private removeScrapeHook?: () => void;
  private leader?: Leader;
  private conn?: Client;
  private readonly label: string;
  private readonly lockKey: string;
  private readonly selectSql: string;
  private readonly statementName: string;

  constructor(private readonly opts: TableRelayOptions<Row>) {
    this.label = `${opts.schema}.${opts.name}`;
    this.lockKey = `trackly-table-relay:${this.label}`;
    // Prepared once on the leader's connection: planning was a third of a small pass's database time.
    this.statementName = `trackly-table-relay:${this.label}`;
    this.selectSql = tableRelayRead(opts);
    // Passes back to back while a backlog lasts (a read came back full); otherwise waits for a kick or the poll, then
    // lingers so that the commits arriving meanwhile share the next pass: each pass costs a read, a cursor update and
    // an ack subscription, which must not be paid per click.
    const batch = opts.batchSize ?? 1000;
    this.loop = new PollLoop({
      pass: async () => (await this.pass()) >= batch,
      onFailure: (e, failed) => {
        failures.inc({ relay: this.label });
        this.opts.logger?.warn({ err: (e as Error).message, failures: failed, relay: this.label }, 'table relay: publish failed, will retry');
      },
      pollMs: opts.pollMs ?? 200,
      lingerMs: Math.max(1, opts.lingerMs ?? 1),
    });
  }

  start(): void {
    if (!this.loop.start()) return;
    const labels = { relay: this.label };
    const age = this.opts.timeColumn
      ? `EXTRACT(EPOCH FROM now() - min(t.${this.opts.timeColumn}))::float8`
      : 'NULL::float8';
    this.removeScrapeHook = addScrapeHook(async () => {
      const { rows } = await this.opts.pool.query<{ n: string; age: number | null }>(
        `SELECT count(*) AS n, ${age} AS age FROM ${this.opts.table} AS t, "${this.opts.schema}".table_relay_cursors AS c
         WHERE c.relay = $1 AND t.xid IS NOT NULL AND (t.xid, t.seq) > (c.xid, c.seq)`,
        [this.opts.name],
      );
      backlog.set(labels, Number(rows[0]?.n ?? 0));
      oldestAge.set(labels, rows[0]?.age ?? 0);
    });
  }

  /** Called after a commit that wrote source rows: publish soon instead of at the next poll. */
  kick(): void {
    this.loop.kick();
  }

  /** Stops polling after a final flush of what is committed (and publishable). */
  async stop(): Promise<void> {
    if (!(await this.loop.stop())) {
      // A relay only ever flushed by hand may still lead, and holds its connection.
      await this.resign();
      this.dropConnection();
      return;
    }
    await this.finalFlush().catch((e) => this.opts.logger?.warn({ err: e, relay: this.label }, 'table relay final flush failed'));
    await this.resign();
    this.dropConnection();
    this.removeScrapeHook?.();
    this.removeScrapeHook = undefined;
    backlog.remove({ relay: this.label });
    oldestAge.remove({ relay: this.label });
  }

  /** Publishes every publishable row; resolves when none is left (or another replica holds the relay). */
  async flush(): Promise<void> {
    while ((await this.pass()) > 0) {
      /* keep going */
    }
  }

  /**
   * Publishes what is committed, waiting up to `stopWaitMs` for rows that an older transaction still holds behind
   * xmin (another writer's transaction ending, on this cluster). What is still held after that is published by the
   * next relay to run (another replica, or this service after its restart): late, never lost.
   */
  private async finalFlush(): Promise<void> {
    const end = Date.now() + (this.opts.stopWaitMs ?? 5000);
    for (;;) {
      await this.flush();
      const leader = this.leader;
      if (!leader || Date.now() >= end) return;
      const { rows } = await leader.client.query<{ behind: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM ${this.opts.table} AS t WHERE t.xid IS NOT NULL AND (t.xid, t.seq) > ($1::xid8, $2::bigint)) AS behind`,
        [leader.acked.xid, leader.acked.seq],
      );
      if (!rows[0].behind) {
        if (leader.saved !== leader.acked) await this.saveCursor(leader);
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Between polls: everything committed before the last poll is published (specs wait on this, not on a sleep). */
  get waiting(): boolean {
    return this.loop.waiting;
  }

  /**
   * One pass as the leader (the holder of the relay's advisory lock): reads batches after the cursor and publishes
   * them, up to `inFlight` batches on the wire before the oldest one's acks are awaited and the cursor is moved past
   * it. Returns how many rows were published (0 also when another replica leads).
   */
  private async pass(): Promise<number> {
    const leader = await this.lead();
    if (!leader) return 0;
    try {
      return await this.publishFrom(leader);
    } catch (e) {
      void this.resign(e);
      throw e;
    }
  }

  /**
   * Leadership is kept between passes on the relay's own connection (outside the pool, so requests never wait for a
   * connection the relay holds), which holds a session advisory lock while it leads; the cursor is cached meanwhile,
   * so a busy relay costs one read per batch. The lock dies with the connection: a crashed or cut-off leader frees it
   * for another replica, which tries for it on each pass on its own connection.
   */
  private async lead(): Promise<Leader | undefined> {
    if (this.leader) return this.leader;
    const client = await this.connection();
    try {
      const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [this.lockKey]);
      if (!rows[0].ok) return undefined;
      const table = `"${this.opts.schema}".table_relay_cursors`;
      await client.query(`INSERT INTO ${table} (relay, xid, seq) VALUES ($1, '0', 0) ON CONFLICT (relay) DO NOTHING`, [this.opts.name]);
      const cursor = (await client.query<Cursor>(`SELECT xid::text AS xid, seq::text AS seq FROM ${table} WHERE relay = $1`, [this.opts.name])).rows[0];
      this.leader = { client, acked: cursor, saved: cursor, savedAt: Date.now() };
      return this.leader;
    } catch (e) {
      this.dropConnection(); // a lock it may have taken goes with it
      throw e;
    }
  }

  /** The relay's own connection, made with the pool's settings when first needed (or after it broke). */
  private async connection(): Promise<Client> {
    if (this.conn) return this.conn;
    const settings = (this.opts.pool as Pool & { options: ClientConfig }).options;
    const client = new Client({ ...settings, application_name: `${settings.application_name ?? 'trackly'}-relay` });
    client.on('error', () => undefined); // a broken connection fails the next query, which drops it
    await client.connect();
    if (this.opts.genericPlan) {
      try {
        await client.query(GENERIC_PLAN_SETTINGS);
      } catch (e) {
        client.end().catch(() => undefined);
        throw e;
      }
    }
    this.conn = client;
    return client;
  }

  private dropConnection(): void {
    const client = this.conn;
    this.conn = undefined;
    this.leader = undefined;
    client?.end().catch(() => undefined);
  }

  /** Gives leadership up: after an error by closing the connection (and so its lock), else by unlocking. */
  private async resign(error?: unknown): Promise<void> {
    if (error !== undefined) return this.dropConnection();
    const leader = this.leader;
    this.leader = undefined;
    if (leader) await leader.client.query('SELECT pg_advisory_unlock(hashtext($1))', [this.lockKey]).catch(() => this.dropConnection());
  }

  private async publishFrom(leader: Leader): Promise<number> {
    const { client } = leader;
    const limit = this.opts.batchSize ?? 1000;
    const inFlight = Math.max(1, this.opts.inFlight ?? 3);
    const saveEvery = this.opts.cursorSaveMs ?? 100;
    const window: InFlightBatch[] = [];
    let cursor = leader.acked;
    let total = 0;
    const settle = async (b: InFlightBatch) => {
      await b.acks;
      TableRelay.seams.afterPublish?.();
      leader.acked = b.end;
      published.inc({ relay: this.label }, b.count);
      total += b.count;
      if (Date.now() - leader.savedAt >= saveEvery) await this.saveCursor(leader);
    };
    try {
      for (;;) {
        const { rows } = await client.query<Row & { relay_xid: string; relay_seq: string }>({
          name: this.statementName,
          text: this.selectSql,
          values: [cursor.xid, cursor.seq, limit],
        });
        if (!rows.length) break;
        const acks = publishAcked(this.opts.messaging, this.opts.toEvents(rows), this.opts.ackTimeoutMs ?? 10_000);
        acks.catch(() => undefined); // awaited in settle(); never an unhandled rejection meanwhile
        const last = rows[rows.length - 1];
        cursor = { xid: last.relay_xid, seq: last.relay_seq };
        window.push({ end: cursor, count: rows.length, acks });
        if (window.length >= inFlight) await settle(window.shift()!);
        if (rows.length < limit) break;
      }
      while (window.length) await settle(window.shift()!);
      // Caught up: what was acknowledged is saved now (during a backlog, at most every cursorSaveMs).
      if (total === 0 && leader.saved !== leader.acked) await this.saveCursor(leader);
      return total;
    } catch (e) {
      // The saved cursor stays behind the unacknowledged batches: they are republished (and deduplicated) next pass.
      await Promise.allSettled(window.map((b) => b.acks));
      throw e;
    }
  }

  /**
   * Saves the acknowledged position. Saved lazily (every cursorSaveMs while busy, at once when caught up, on stop):
   * one UPDATE and one commit per batch was most of a small pass's cost; a crash in between only means events
   * published again from the last saved position: the stream's duplicate window drops those cut as before, and
   * consumers apply the rows of a run cut otherwise once by their own keys.
   */
  private async saveCursor(leader: Leader): Promise<void> {
    const at = leader.acked;
    await leader.client.query(`UPDATE "${this.opts.schema}".table_relay_cursors SET xid = $2::xid8, seq = $3::bigint, updated_at = now() WHERE relay = $1`, [
      this.opts.name,
      at.xid,
      at.seq,
    ]);
    leader.saved = at;
    leader.savedAt = Date.now();
  }
}
