/**
 * The books after a fault: each service's own schema in the private Postgres, the reports over gRPC, the streams
 * and consumers in the private NATS — compared with what the load driver sent.
 */
import { Pool } from 'pg';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { createGrpcClient } from '@trackly/grpc';
import { Events, Streams } from '@trackly/messaging';
import { GetPerformanceReportRequest, ReportGrouping, ReportingServiceService } from '@trackly/contracts/reporting/v1/reporting_service';
import { ConversionAttributed, ConversionUnattributed } from '@trackly/contracts/attribution/v1/attribution_events';
import { ConversionReceived, ConversionsReceived } from '@trackly/contracts/ingest/v1/ingest_events';
import type { Conversion } from '@trackly/contracts/ingest/v1/ingest';
import { sleep } from './infra';
import type { Sale } from './load';

export const SCHEMAS = ['tracking', 'ingest', 'attribution', 'reporting'] as const;

export interface Expected {
  stored: number;
  credited: number;
  unattributed: Record<string, number>;
  /** Credited payouts per currency (approved + pending), micros. */
  revenue: Record<string, bigint>;
}

export function expectedBooks(sales: Sale[]): Expected {
  const unique = sales.filter((s) => !s.resend);
  const e: Expected = { stored: unique.length, credited: 0, unattributed: {}, revenue: {} };
  const bump = (reason: string) => (e.unattributed[reason] = (e.unattributed[reason] ?? 0) + 1);
  for (const s of unique) {
    if (s.status === 'rejected') bump('REJECTED');
    else if (s.kind === 'unknown') bump('UNKNOWN_CLICK_ID');
    else if (s.twin) bump('DUPLICATE'); // one of the pair, whichever was decided second; same payout either way
    else {
      e.credited++;
      e.revenue[s.currency] = (e.revenue[s.currency] ?? 0n) + s.micros;
    }
  }
  return e;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface Books {
  stored: number;
  ingestPending: number;
  decisions: number;
  parked: number;
  credited: number;
  unattributed: Record<string, number>;
  /** Reporting's read model (credited_conversions), per currency. */
  revenueRead: Record<string, bigint>;
  /** GetPerformanceReport's row for the scenario's offer, revenue + pending per currency. */
  revenueReport: Record<string, bigint>;
  reportConversions: number;
  reportClicks: number;
  reportingRows: number;
  decisionEvents: number;
  decisionEventConversions: number;
  /** Ingest-stream events carrying any of the partner's conversions: ConversionReceived alone or ConversionsReceived runs. */
  receivedEvents: number;
  /** Of those, the ConversionsReceived runs. */
  receivedRuns: number;
  /** The partner's conversions those events carry, counted as often as they are carried. */
  receivedCarried: number;
  /** The partner's distinct conversions carried. */
  receivedEventConversions: number;
  unpublishedOutbox: number;
  lag: { pending: number; ackPending: number; detail: string };
  deadLetters: number;
}

const num = (v: unknown) => Number(v ?? 0);

/**
 * The conversions an ingest-stream event carries: ConversionReceived's one, or each of a ConversionsReceived run (the
 * relay's conversions read together). Throws on an undecodable payload.
 */
export function conversionsOf(subject: string, data: Uint8Array): Conversion[] {
  if (subject === Events.ConversionsReceived.subject) return ConversionsReceived.decode(data).conversions;
  const one = ConversionReceived.decode(data).conversion;
  return one ? [one] : [];
}

export class Auditor {
  readonly reporting;
  private readonly pg: Pool;
  constructor(
    url: string,
    private readonly nc: NatsConnection,
    reportingGrpc: string,
  ) {
    this.reporting = createGrpcClient(ReportingServiceService, reportingGrpc);
    this.pg = new Pool({ connectionString: url, max: 3, connectionTimeoutMillis: 5000, query_timeout: 60_000 });
    this.pg.on('error', () => undefined);
  }

  close(): void {
    this.reporting.close();
  }

  /** A pool, not a client: it opens new connections by itself after Postgres restarted under it (scenario e). */
  async q<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await this.pg.query(sql, params)).rows as T[];
  }

  async end(): Promise<void> {
    await this.pg.end().catch(() => undefined);
    await this.reportingPg?.end().catch(() => undefined);
  }

  private reportingPg?: Pool;

  /** Reporting's schema now lives on a Postgres server of its own (scenario k): its queries go there from now on. */
  useReportingServer(url: string): void {
    this.reportingPg = new Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 5000, query_timeout: 60_000 });
    this.reportingPg.on('error', () => undefined);
  }

  /** A query on one service's schema, on the server that holds it. */
  async qs<T = Record<string, unknown>>(schema: string, sql: string, params: unknown[] = []): Promise<T[]> {
    const pool = schema === 'reporting' && this.reportingPg ? this.reportingPg : this.pg;
    return (await pool.query(sql, params)).rows as T[];
  }

  /**
   * Events committed and not yet published: unpublished outbox rows of every schema, plus the rows behind their table
   * relay's cursor (tracking's clicks and sends, ingest's conversions are their own event source; see
   * libs/messaging/src/table-relay.ts).
   */
  async unpublishedOutbox(): Promise<number> {
    let n = 0;
    for (const s of SCHEMAS) n += num((await this.qs(s, `SELECT count(*) AS n FROM "${s}".outbox WHERE published_at IS NULL`))[0].n);
    for (const [schema, relay, table] of [['tracking', 'clicks', 'clicks'], ['tracking', 'messages', 'messages'], ['ingest', 'conversions', 'conversions']]) {
      const [row] = await this.qs(
        schema,
        `SELECT count(*) AS n FROM "${schema}".${table} t
         LEFT JOIN "${schema}".table_relay_cursors c ON c.relay = $1
         WHERE t.xid IS NOT NULL AND (c.relay IS NULL OR (t.xid, t.seq) > (c.xid, c.seq))`,
        [relay],
      );
      n += num(row.n);
    }
    return n;
  }

  async deadLetters(): Promise<number> {
    let n = 0;
    for (const s of SCHEMAS) n += num((await this.qs(s, `SELECT count(*) AS n FROM "${s}".dead_letters`))[0].n);
    return n;
  }

  /** Every durable consumer on every stream: messages not yet delivered and delivered but not acknowledged. */
  async lag(): Promise<{ pending: number; ackPending: number; detail: string }> {
    const jsm = await jetstreamManager(this.nc);
    let pending = 0;
    let ackPending = 0;
    const parts: string[] = [];
    for await (const s of jsm.streams.list()) {
      for await (const c of jsm.consumers.list(s.config.name)) {
        if (!c.config.durable_name) continue;
        pending += c.num_pending;
        ackPending += c.num_ack_pending;
        if (c.num_pending || c.num_ack_pending) parts.push(`${c.config.durable_name}@${s.config.name}: ${c.num_pending}/${c.num_ack_pending}`);
      }
    }
    return { pending, ackPending, detail: parts.join(', ') };
  }

  /**
   * The partner's conversions on a stream (subjects filtered): the messages carrying any of them, how many of those
   * are runs, the conversions carried (a run's each, as often as carried) and the distinct conversions.
   */
  async streamCount(stream: string, subjects: string[], partner: string): Promise<{ messages: number; runs: number; carried: number; conversions: number }> {
    const js = jetstream(this.nc);
    // Whole stream, filtered here: filter_subjects needs nats-server 2.10.
    const consumer = await js.consumers.get(stream);
    const seen = new Map<string, number>();
    let messages = 0;
    let runs = 0;
    let carried = 0;
    for (;;) {
      const batch = await consumer.fetch({ max_messages: 1000, expires: 1500 });
      let got = 0;
      for await (const m of batch) {
        got++;
        if (!subjects.includes(m.subject)) continue;
        let keys: ({ partnerId?: string; conversionId?: string } | undefined)[];
        try {
          if (m.subject === Events.ConversionAttributed.subject) keys = [ConversionAttributed.decode(m.data).attribution];
          else if (m.subject === Events.ConversionUnattributed.subject) keys = [ConversionUnattributed.decode(m.data).attribution];
          else keys = conversionsOf(m.subject, m.data);
        } catch {
          continue; // the poison messages of scenario g
        }
        const mine = keys.filter((k) => k?.partnerId === partner);
        if (!mine.length) continue;
        messages++;
        if (m.subject === Events.ConversionsReceived.subject) runs++;
        carried += mine.length;
        for (const k of mine) seen.set(k!.conversionId!, (seen.get(k!.conversionId!) ?? 0) + 1);
      }
      if (!got) break;
    }
    return { messages, runs, carried, conversions: seen.size };
  }

  async books(partner: string, offer: string): Promise<Books> {
    const [ing] = await this.q(`SELECT count(*) AS n, count(*) FILTER (WHERE attribution_state = 'PENDING') AS pending FROM ingest.conversions WHERE partner_id = $1`, [partner]);
    const dec = await this.q<{ outcome: string; reason: string | null; n: string }>(
      `SELECT outcome, reason, count(*) AS n FROM attribution.decisions WHERE partner_id = $1 GROUP BY 1, 2`, [partner]);
    const [parked] = await this.q(`SELECT count(*) AS n FROM attribution.parked_conversions WHERE partner_id = $1`, [partner]);
    const unattributed: Record<string, number> = {};
    let credited = 0;
    let decisions = 0;
    for (const r of dec) {
      decisions += num(r.n);
      if (r.outcome === 'ATTRIBUTED') credited += num(r.n);
      else unattributed[r.reason ?? '(none)'] = (unattributed[r.reason ?? '(none)'] ?? 0) + num(r.n);
    }
    const read = await this.qs<{ currency: string; micros: string }>('reporting',
      `SELECT currency, sum(payout_micros)::text AS micros FROM reporting.credited_conversions
       WHERE partner_id = $1 AND status IN ('approved', 'pending') GROUP BY 1`, [partner]);
    const [rows] = await this.qs('reporting',
      `SELECT (SELECT count(*) FROM reporting.credited_conversions WHERE partner_id = $1) + (SELECT count(*) FROM reporting.unattributed_conversions WHERE partner_id = $1) AS n`,
      [partner]);
    const revenueReport: Record<string, bigint> = {};
    let reportConversions = 0;
    const today = new Date();
    const day = (d: number) => new Date(today.getTime() + d * 86_400_000).toISOString().slice(0, 10);
    const report = await this.reporting.getPerformanceReport(
      GetPerformanceReportRequest.fromPartial({ groupBy: ReportGrouping.REPORT_GROUPING_OFFER, fromDate: day(-2), toDate: day(2), timeZone: 'UTC' }),
    );
    const row = report.rows.find((r) => r.key === offer);
    for (const t of row?.revenue ?? []) {
      const cur = t.revenue?.currencyCode || t.pendingRevenue?.currencyCode || '?';
      revenueReport[cur] = BigInt(t.revenue?.amountMicros ?? '0') + BigInt(t.pendingRevenue?.amountMicros ?? '0');
    }
    reportConversions = Number(row?.conversions ?? 0);
    const reportClicks = Number(row?.clicks ?? 0);
    const decided = await this.streamCount(Streams.attribution.name, [Events.ConversionAttributed.subject, Events.ConversionUnattributed.subject], partner);
    const received = await this.streamCount(Streams.ingest.name, [Events.ConversionReceived.subject, Events.ConversionsReceived.subject], partner);
    return {
      stored: num(ing.n),
      ingestPending: num(ing.pending),
      decisions,
      parked: num(parked.n),
      credited,
      unattributed,
      revenueRead: Object.fromEntries(read.map((r) => [r.currency, BigInt(r.micros)])),
      revenueReport,
      reportConversions,
      reportClicks,
      reportingRows: num(rows.n),
      decisionEvents: decided.messages,
      decisionEventConversions: decided.conversions,
      receivedEvents: received.messages,
      receivedRuns: received.runs,
      receivedCarried: received.carried,
      receivedEventConversions: received.conversions,
      unpublishedOutbox: await this.unpublishedOutbox(),
      lag: await this.lag(),
      deadLetters: await this.deadLetters(),
    };
  }

  /** Sends of an offer in GetPerformanceReport (grouped by offer, two days around today, UTC). */
  async offerSends(offer: string): Promise<number> {
    const day = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString().slice(0, 10);
    const report = await this.reporting.getPerformanceReport(
      GetPerformanceReportRequest.fromPartial({ groupBy: ReportGrouping.REPORT_GROUPING_OFFER, fromDate: day(-2), toDate: day(2), timeZone: 'UTC' }),
    );
    return Number(report.rows.find((r) => r.key === offer)?.sends ?? 0);
  }

  /** Waits until the partner's conversions are all decided, reported, published and consumed (or the timeout). */
  async settle(partner: string, stored: number, timeoutMs: number): Promise<{ settled: boolean; ms: number }> {
    const start = Date.now();
    while (Date.now() - start < timeoutMs) {
      try {
        const [r] = await this.q(
          `SELECT (SELECT count(*) FROM ingest.conversions WHERE partner_id = $1 AND attribution_state <> 'PENDING') AS ing,
                  (SELECT count(*) FROM attribution.decisions WHERE partner_id = $1) AS dec`, [partner]);
        const [rep] = await this.qs('reporting',
          `SELECT (SELECT count(*) FROM reporting.credited_conversions WHERE partner_id = $1)
                + (SELECT count(*) FROM reporting.unattributed_conversions WHERE partner_id = $1) AS rep`, [partner]);
        r.rep = rep.rep;
        if (num(r.ing) === stored && num(r.dec) === stored && num(r.rep) === stored && (await this.unpublishedOutbox()) === 0) {
          const lag = await this.lag();
          if (!lag.pending && !lag.ackPending) return { settled: true, ms: Date.now() - start };
        }
      } catch {
        /* Postgres or NATS still coming back */
      }
      await sleep(500);
    }
    return { settled: false, ms: Date.now() - start };
  }
}

/** Exact amounts: micros as a decimal with six places, e.g. "USD 4774.160000". */
const fmt = (m: Record<string, bigint>) =>
  Object.keys(m).sort().map((k) => `${k} ${m[k] / 1_000_000n}.${String(m[k] % 1_000_000n).padStart(6, '0')}`).join(', ') || '-';
const eqMoney = (a: Record<string, bigint>, b: Record<string, bigint>) => fmt(a) === fmt(b);
const eqCounts = (a: Record<string, number>, b: Record<string, number>) =>
  JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

export interface BookOptions {
  deadLetters?: number;
  clicks: number;
  /** Copies of each decision event on the stream (scenario f publishes them all again). */
  eventCopies?: number;
  /**
   * The ingest relay was faulted (killed, or its broker or database gone) and may have published conversions again
   * under another cut: a run's id is the digest of its rows, so a restarted relay that reads more rows together
   * makes new runs the stream cannot drop. Each conversion must be there; some may be carried more than once.
   */
  recut?: boolean;
  /** Conversions carried on the ingest stream in all, when the scenario published some again itself (f). */
  receivedCarried?: number;
}

/** The name of the ingest-stream check of an unfaulted relay (dropped by the re-drive scenarios, whose streams are new). */
export const RECEIVED_ONCE = 'each conversion on the ingest stream once (alone or in a run)';

/** The ingest stream's check: the partner's conversions carried alone (ConversionReceived) or in ConversionsReceived runs. */
function receivedCheck(e: Expected, b: Books, opts: BookOptions): Check {
  const all = b.receivedEventConversions === e.stored;
  const detail =
    `${b.receivedEventConversions} conversions carried ${b.receivedCarried} times by ${b.receivedEvents} events ` +
    `(${b.receivedEvents - b.receivedRuns} ConversionReceived, ${b.receivedRuns} ConversionsReceived)`;
  if (opts.receivedCarried !== undefined) {
    return { name: `conversions on the ingest stream (${opts.receivedCarried} carried with the copies injected)`, ok: all && b.receivedCarried === opts.receivedCarried, detail };
  }
  if (opts.recut) {
    return {
      name: 'every conversion on the ingest stream (a restarted relay may carry some again in runs cut otherwise)',
      ok: all && b.receivedCarried >= b.receivedEventConversions,
      detail: `${detail}; ${b.receivedCarried - b.receivedEventConversions} carried again`,
    };
  }
  return { name: RECEIVED_ONCE, ok: all && b.receivedCarried === b.receivedEventConversions, detail };
}

/** The checks every scenario must pass. */
export function checkBooks(e: Expected, b: Books, opts: BookOptions): Check[] {
  const copies = opts.eventCopies ?? 1;
  return [
    { name: 'stored once', ok: b.stored === e.stored, detail: `${b.stored} stored, ${e.stored} expected` },
    { name: 'every stored postback decided', ok: b.decisions === b.stored && b.ingestPending === 0 && b.parked === 0, detail: `${b.decisions} decisions, ${b.ingestPending} pending in ingest, ${b.parked} parked` },
    { name: 'credited', ok: b.credited === e.credited, detail: `${b.credited} credited, ${e.credited} expected` },
    { name: 'unattributed by reason', ok: eqCounts(b.unattributed, e.unattributed), detail: `${JSON.stringify(b.unattributed)} vs ${JSON.stringify(e.unattributed)}` },
    { name: 'revenue in read model = payouts sent', ok: eqMoney(b.revenueRead, e.revenue), detail: `${fmt(b.revenueRead)} vs ${fmt(e.revenue)}` },
    { name: 'revenue in GetPerformanceReport = payouts sent', ok: eqMoney(b.revenueReport, e.revenue) && b.reportConversions === e.credited, detail: `${fmt(b.revenueReport)} (${b.reportConversions} conv.) vs ${fmt(e.revenue)} (${e.credited})` },
    { name: 'reporting saw each decision once', ok: b.reportingRows === e.stored, detail: `${b.reportingRows} rows` },
    { name: 'clicks in report = clicks made', ok: b.reportClicks === opts.clicks, detail: `${b.reportClicks} vs ${opts.clicks}` },
    {
      name: copies > 1 ? `decision events on stream (${copies} copies injected)` : 'one decision event per conversion',
      ok: b.decisionEvents === copies * b.decisionEventConversions && b.decisionEventConversions === e.stored,
      detail: `${b.decisionEvents} events for ${b.decisionEventConversions} conversions`,
    },
    receivedCheck(e, b, opts),
    { name: 'every event published (outboxes and table relays)', ok: b.unpublishedOutbox === 0, detail: `${b.unpublishedOutbox} unpublished` },
    { name: 'consumer lag zero', ok: b.lag.pending === 0 && b.lag.ackPending === 0, detail: b.lag.detail || 'all durables 0/0' },
    { name: 'dead letters', ok: b.deadLetters === (opts.deadLetters ?? 0), detail: `${b.deadLetters} (expected ${opts.deadLetters ?? 0})` },
  ];
}

export { fmt };
