import { randomUUID } from 'node:crypto';
import { headers as natsHeaders } from '@nats-io/nats-core';
import type { DataSource } from 'typeorm';
import { EVENT_ID_HEADER } from './events';
import { Messaging } from './messaging';
import type { RelayedEvent } from './publish-acked';

/**
 * Re-drive: a producer publishes again, under their ORIGINAL event ids, the events it already published in a time
 * range, from its own source of truth (its outbox, kept `retainPublishedMs` after publishing, or the rows a
 * TableRelay publishes). Consumers record every applied event id in processed_events, so an event they had applied
 * is only acknowledged; one the broker lost (a wiped store, a volume lost before fsync) is applied now. Only rows
 * already published are re-driven: unpublished ones are the relay's, and publishing them ahead of it could break
 * the order it keeps.
 */
export interface RedriveRange {
  /** Inclusive. */
  from: Date;
  /** Exclusive. */
  to: Date;
  /** Subjects (unprefixed) to re-drive; empty = every subject of the source. */
  subjects: string[];
}

export interface RedriveProgress {
  subject: string;
  /** Rows of the range that will be (or were, on a dry run) re-driven. */
  matched: number;
  /** Published so far (acknowledged by JetStream). */
  published: number;
}

/** Per day (UTC, YYYY-MM-DD) and subject: how many events a producer published, or a read model applied. */
export interface DailyCount {
  day: string;
  subject: string;
  count: number;
}

export interface RedriveSource {
  /** Counts per subject of what a re-drive of the range would publish. */
  count(range: RedriveRange): Promise<Map<string, number>>;
  /** Publishes the range again (`run` names this re-drive in the Nats-Msg-Ids), calling `progress` after each acknowledged batch. */
  publish(range: RedriveRange, progress: (subject: string, published: number) => void, run: string): Promise<void>;
  /** Published events per UTC day and subject in [from, to) (the drift check's producer side). */
  daily(from: Date, to: Date): Promise<DailyCount[]>;
}

const BATCH = 1000;

/**
 * Publishes a batch and resolves when JetStream acknowledged every message. Each goes out with its original id in
 * Trackly-Event-Id (what consumers record) and Nats-Msg-Id = `redrive:<run>:<id>`: under the original Nats-Msg-Id the
 * stream would drop an event first published less than its duplicate window (2 min) ago, which after a restore of
 * a read model from a backup is exactly the recent events it is missing. A batch retried within the run is still
 * dropped by the stream; a second run is absorbed by the consumers' processed_events.
 */
async function publishAll(messaging: Messaging, events: RelayedEvent[], run: string): Promise<void> {
  await Promise.all(
    events.map((e) => {
      const h = natsHeaders();
      for (const [k, v] of Object.entries(e.headers ?? {})) h.set(k, v);
      h.set(EVENT_ID_HEADER, e.id);
      return messaging.js.publish(messaging.subject(e.subject), e.payload, { msgID: `redrive:${run}:${e.id}`, headers: h });
    }),
  );
}

/** The outbox as a re-drive source: published rows still kept (see OutboxRelay's retainPublishedMs). */
export class OutboxRedriveSource implements RedriveSource {
  constructor(
    private readonly ds: DataSource,
    private readonly messaging: Messaging,
    private readonly schema: string,
  ) {}

  private where(range: RedriveRange, first: number): { sql: string; params: unknown[] } {
    const params: unknown[] = [range.from, range.to];
    let sql = `published_at IS NOT NULL AND created_at >= $${first} AND created_at < $${first + 1}`;
    if (range.subjects.length) {
      params.push(range.subjects);
      sql += ` AND subject = ANY($${first + 2}::text[])`;
    }
    return { sql, params };
  }

  async count(range: RedriveRange): Promise<Map<string, number>> {
    const w = this.where(range, 1);
    const rows: { subject: string; n: string }[] = await this.ds.query(
      `SELECT subject, count(*) AS n FROM "${this.schema}".outbox WHERE ${w.sql} GROUP BY subject ORDER BY subject`,
      w.params,
    );
    return new Map(rows.map((r) => [r.subject, Number(r.n)]));
  }

  async publish(range: RedriveRange, progress: (subject: string, published: number) => void, run: string): Promise<void> {
    await this.messaging.ensureKnownStreams();
    let after = '0';
    for (;;) {
      const w = this.where(range, 2);
      // Keyset over seq: the original publish order, and each batch its own short read.
      const rows: { seq: string; id: string; subject: string; payload: Buffer; headers: Record<string, string> }[] = await this.ds.query(
        `SELECT seq, id, subject, payload, headers FROM "${this.schema}".outbox
         WHERE seq > $1 AND ${w.sql} ORDER BY seq LIMIT ${BATCH}`,
        [after, ...w.params],
      );
      if (!rows.length) return;
      await publishAll(
        this.messaging,
        rows.map((r) => ({ subject: r.subject, id: r.id, payload: r.payload, headers: r.headers ?? {} })),
        run,
      );
      const per = new Map<string, number>();
      for (const r of rows) per.set(r.subject, (per.get(r.subject) ?? 0) + 1);
      for (const [s, n] of per) progress(s, n);
      after = rows[rows.length - 1].seq;
      if (rows.length < BATCH) return;
    }
  }

  async daily(from: Date, to: Date): Promise<DailyCount[]> {
    const rows: { day: string; subject: string; n: string }[] = await this.ds.query(
      `SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, subject, count(*) AS n
       FROM "${this.schema}".outbox WHERE published_at IS NOT NULL AND created_at >= $1 AND created_at < $2
       GROUP BY 1, 2 ORDER BY 1, 2`,
      [from, to],
    );
    return rows.map((r) => ({ day: r.day, subject: r.subject, count: Number(r.n) }));
  }
}

export interface TableRedriveOptions<Row> {
  ds: DataSource;
  messaging: Messaging;
  /** Schema holding table_relay_cursors. */
  schema: string;
  /** The TableRelay's cursor name: only rows at or behind it were published. */
  relay: string;
  /** The one event type the table's rows are (counted, asked for and reported per row, whatever events carry them). */
  subject: string;
  /** Schema-qualified source table, aliased `t`. */
  table: string;
  /** Select list (as the relay's) and joins. */
  columns: string;
  joins?: string;
  /** The row's time (an indexed timestamptz column of `t`) the range applies to. */
  timeColumn: string;
  /** The events of a page's rows, as the relay builds them (TableRelayOptions.toEvents). */
  toEvents(rows: Row[]): RelayedEvent[];
}

/**
 * A TableRelay's table as a re-drive source: rows of the time range that the relay has passed (at or behind its
 * cursor; rows without an xid predate the table being a source, their events went through the outbox). The event
 * is rebuilt from the row exactly as the relay builds it, with the same id.
 */
export class TableRedriveSource<Row extends Record<string, unknown>> implements RedriveSource {
  constructor(private readonly o: TableRedriveOptions<Row>) {}

  private get published(): string {
    return `t.xid IS NOT NULL AND (t.xid, t.seq) <= (SELECT c.xid, c.seq FROM "${this.o.schema}".table_relay_cursors AS c WHERE c.relay = '${this.o.relay}')`;
  }

  private wanted(range: RedriveRange): boolean {
    return !range.subjects.length || range.subjects.includes(this.o.subject);
  }

  async count(range: RedriveRange): Promise<Map<string, number>> {
    if (!this.wanted(range)) return new Map();
    const rows: { n: string }[] = await this.o.ds.query(
      `SELECT count(*) AS n FROM ${this.o.table} AS t WHERE t.${this.o.timeColumn} >= $1 AND t.${this.o.timeColumn} < $2 AND ${this.published}`,
      [range.from, range.to],
    );
    return new Map([[this.o.subject, Number(rows[0].n)]]);
  }

  async publish(range: RedriveRange, progress: (subject: string, published: number) => void, run: string): Promise<void> {
    if (!this.wanted(range)) return;
    await this.o.messaging.ensureKnownStreams();
    const tc = this.o.timeColumn;
    // Keyset over (time, xid, seq): served by the time index, whatever the size of the table outside the range; within
    // one time, rows come in the relay's own order, so events that carry runs of rows are cut as the relay cut them
    // (the same ids, which consumers that applied them skip), except where a page or a relay read ended.
    // The time travels as Postgres's own text, not a JS Date: a Date keeps milliseconds, the column microseconds, and
    // the rows of one RegisterMessages call share one created_at, so a truncated keyset would never move past them.
    let after: { at: string; xid: string; seq: string } | undefined;
    for (;;) {
      const params: unknown[] = [range.from, range.to];
      let keyset = '';
      if (after) {
        params.push(after.at, after.xid, after.seq);
        keyset = `AND (t.${tc}, t.xid, t.seq) > ($3::timestamptz, $4::xid8, $5::bigint)`;
      }
      const rows: (Row & { redrive_at: string; redrive_xid: string; redrive_seq: string })[] = await this.o.ds.query(
        `SELECT t.${tc}::text AS redrive_at, t.xid::text AS redrive_xid, t.seq::text AS redrive_seq, ${this.o.columns}
         FROM ${this.o.table} AS t ${this.o.joins ?? ''}
         WHERE t.${tc} >= $1 AND t.${tc} < $2 ${keyset} AND ${this.published}
         ORDER BY t.${tc}, t.xid, t.seq LIMIT ${BATCH}`,
        params,
      );
      if (!rows.length) return;
      await publishAll(this.o.messaging, this.o.toEvents(rows), run);
      progress(this.o.subject, rows.length);
      const last = rows[rows.length - 1];
      after = { at: last.redrive_at, xid: last.redrive_xid, seq: last.redrive_seq };
      if (rows.length < BATCH) return;
    }
  }

  async daily(from: Date, to: Date): Promise<DailyCount[]> {
    const rows: { day: string; n: string }[] = await this.o.ds.query(
      `SELECT to_char(t.${this.o.timeColumn} AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*) AS n
       FROM ${this.o.table} AS t WHERE t.${this.o.timeColumn} >= $1 AND t.${this.o.timeColumn} < $2 AND ${this.published}
       GROUP BY 1 ORDER BY 1`,
      [from, to],
    );
    return rows.map((r) => ({ day: r.day, subject: this.o.subject, count: Number(r.n) }));
  }
}

/**
 * Several sources of one service re-driven in order (e.g. tracking: catalog outbox, then sends, then taps), with
 * the total per subject known before the first publish (a dry run stops there).
 */
export class Redriver {
  constructor(private readonly sources: RedriveSource[]) {}

  async plan(range: RedriveRange): Promise<RedriveProgress[]> {
    const out: RedriveProgress[] = [];
    for (const s of this.sources) for (const [subject, matched] of await s.count(range)) out.push({ subject, matched, published: 0 });
    return out;
  }

  /** Re-drives the range; `onProgress` gets the whole table after each batch. Returns the final table. */
  async run(range: RedriveRange, onProgress: (p: RedriveProgress[]) => void = () => undefined): Promise<RedriveProgress[]> {
    const table = await this.plan(range);
    onProgress(table);
    const run = randomUUID().slice(0, 8);
    for (const s of this.sources) {
      await s.publish(range, (subject, n) => {
        let row = table.find((r) => r.subject === subject);
        if (!row) table.push((row = { subject, matched: 0, published: 0 }));
        row.published += n;
        onProgress(table);
      }, run);
    }
    return table;
  }

  async daily(from: Date, to: Date): Promise<DailyCount[]> {
    const all: DailyCount[] = [];
    for (const s of this.sources) all.push(...(await s.daily(from, to)));
    return all.sort((a, b) => a.day.localeCompare(b.day) || a.subject.localeCompare(b.subject));
  }
}

/** DDL: the outbox's time index, which re-drive ranges, drift counts and retention pruning read. */
export function outboxCreatedIndexSql(schema: string): string {
  return `CREATE INDEX IF NOT EXISTS outbox_created_idx ON "${schema}".outbox (created_at)`;
}

export function dropOutboxCreatedIndexSql(schema: string): string {
  return `DROP INDEX IF EXISTS "${schema}".outbox_created_idx`;
}

/** One count of the drift check: rows of `table` (schema-qualified) per UTC day of `timeColumn`, as `subject`. */
export interface DailyQuery {
  subject: string;
  table: string;
  timeColumn: string;
  /** Extra condition on the table's rows (aliased `t`). */
  where?: string;
}

/** Runs each DailyQuery over [from, to): per UTC day and subject, sorted. */
export async function countPerDay(ds: DataSource, queries: DailyQuery[], from: Date, to: Date): Promise<DailyCount[]> {
  const out: DailyCount[] = [];
  for (const q of queries) {
    const rows: { day: string; n: string }[] = await ds.query(
      `SELECT to_char(t.${q.timeColumn} AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*) AS n
       FROM ${q.table} AS t WHERE t.${q.timeColumn} >= $1 AND t.${q.timeColumn} < $2 ${q.where ? `AND (${q.where})` : ''}
       GROUP BY 1`,
      [from, to],
    );
    out.push(...rows.map((r) => ({ day: r.day, subject: q.subject, count: Number(r.n) })));
  }
  return out.sort((a, b) => a.day.localeCompare(b.day) || a.subject.localeCompare(b.subject));
}
