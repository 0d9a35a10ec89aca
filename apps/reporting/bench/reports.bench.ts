/**
 * npm run bench:reports [-- --quick] : seeds a throwaway database with 10 M clicks and 1 M conversions (quick: 10 k
 * and 1 k), rebuilds the rollups, starts the reporting service and measures 30-day performance reports over gRPC.
 * The database is dropped at the end. Not part of `npm test`.
 *
 * Seeding streams generated rows into the fact tables with COPY FROM STDIN (pg-copy-streams), in the shapes the
 * projection stores, then builds the rollups with the real rebuild code (src/projection/rollup-rebuild.ts).
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { createGrpcClient } from '@trackly/grpc';
import { DateBasis, ReportGrouping, ReportingServiceService } from '@trackly/contracts/reporting/v1/reporting_service';
import { rebuildRollupsSql } from '../src/projection/rollup-rebuild';
import { loadReportingConfig } from '../src/reporting.config';
import { migrateReporting, startReporting } from '../src/reporting.app';

const quick = process.argv.includes('--quick');
/** Keeps the seeded database (its name is printed) to look at plans afterwards. */
const keep = process.argv.includes('--keep');
const CLICKS = quick ? 10_000 : 10_000_000;
const CONVERSIONS = quick ? 1_000 : 1_000_000;
const MESSAGES = quick ? 20_000 : 12_000_000;
const DAYS = 90;
const RUNS = quick ? 20 : 200;
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

// 50 campaigns x 8 creatives each = 400 creatives, each tied to one of 100 offers. The creative is a hash of the
// message number, not i % 400, so every creative sends all day long (dense rollups, as in production).
const CREATIVES = 400;
const START_MS = Date.UTC(2026, 0, 1);
const MINUTE_MS = 60_000;

/** A fixed integer mix (murmur3's finaliser): spreads consecutive message numbers over the creatives. */
function creativeNo(i: number): number {
  let h = Math.imul(i ^ (i >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) % CREATIVES;
}
// Row generation is the seed's bottleneck next to COPY itself: the 400 creatives' dimension columns and the seeded
// minutes' timestamps are formatted once, not per row (Date#toISOString per row halves the rows per second).
const DIMS_BY_CREATIVE = Array.from({ length: CREATIVES }, (_, c) => ({
  campaign: `camp-${Math.floor(c / 8)}`, creative: `cr-${c}`, offer: `off-${c % 100}`,
}));
const dimsOf = (m: number) => DIMS_BY_CREATIVE[creativeNo(m)];
// Three partners report conversions on every creative: the worst case for the partner-keyed revenue rollups (in
// production an offer mostly belongs to one network, so most creatives have one partner).
const PARTNERS = ['tune', 'everflow', 'impact'];
const MINUTES = (DAYS + 4) * 1440; // sends span DAYS; clicks and conversions land up to 72 hours later
const MINUTE_TEXT = Array.from({ length: MINUTES }, (_, i) => new Date(START_MS + i * MINUTE_MS).toISOString().slice(0, 16).replace('T', ' '));
const SECOND_TEXT = Array.from({ length: 60 }, (_, s) => `:${String(s).padStart(2, '0')}+00`);
const sentMinute = (m: number) => m % (DAYS * 1440);
/** The timestamp `minute` minutes and `second` seconds after the seed's start, in COPY text ('2026-01-01 00:05:07+00'). */
const ts = (minute: number, second = 0) => MINUTE_TEXT[minute + Math.floor(second / 60)] + SECOND_TEXT[second % 60];

/**
 * The fact rows, as the projection stores them for the events a real stream would carry (COPY text format: tab
 * separated, \N for null; no value here contains a tab, newline or backslash). Clicks go to the first messages: one
 * in ten is a second click on the same message, one in twenty a link preview (stored, never counted, no cohort time).
 * Counted clicks and conversions carry their message's send time (`cohort_at`), as the projection fills it in.
 */
interface SeedTable {
  table: string;
  columns: string;
  count: number;
  row: (i: number) => string;
}
function seedTables(): SeedTable[] {
  const names: [string, string, string][] = [];
  for (let c = 0; c < CREATIVES; c++) names.push(['creative', `cr-${c}`, `Creative ${c}`]);
  for (let o = 0; o < 100; o++) names.push(['offer', `off-${o}`, `Offer ${o}`]);
  for (let p = 0; p < CREATIVES / 8; p++) names.push(['campaign', `camp-${p}`, `Campaign ${p}`]);
  return [
    {
      table: 'names', columns: 'kind, id, name, updated_at', count: names.length,
      row: (i) => `${names[i - 1].join('\t')}\t${ts(0)}\n`,
    },
    {
      table: 'messages', columns: 'message_id, contact_id, phone_masked, campaign_id, creative_id, offer_id, sent_at', count: MESSAGES,
      row: (i) => {
        const d = dimsOf(i);
        return `m${i}\tc${i % 5_000_000}\t+1***0000\t${d.campaign}\t${d.creative}\t${d.offer}\t${ts(sentMinute(i))}\n`;
      },
    },
    {
      table: 'clicks',
      columns: 'click_id, message_id, contact_id, offer_id, campaign_id, creative_id, clicked_at, first_click_on_message, click_class, cohort_at',
      count: CLICKS,
      row: (i) => {
        const m = i % 10 === 0 ? i - 1 : i;
        const d = dimsOf(m);
        const preview = i % 20 === 7;
        const sent = sentMinute(m);
        return `k${i}\tm${m}\tc${m % 5_000_000}\t${d.offer}\t${d.campaign}\t${d.creative}\t${ts(sent, i % 600)}\t${i % 10 !== 0 ? 't' : 'f'}\t${
          preview ? 'PREVIEW' : 'HUMAN'}\t${preview ? '\\N' : ts(sent)}\n`;
      },
    },
    {
      table: 'credited_conversions',
      columns: `partner_id, conversion_id, message_id, click_id, contact_id, offer_id, campaign_id, creative_id, payout_micros, currency,
        status, occurred_at, type, cohort_at`,
      count: CONVERSIONS,
      row: (i) => {
        // Every tenth click's message (never a preview: those are i % 20 = 7).
        const m = i * Math.floor(CLICKS / CONVERSIONS) - 1;
        const d = dimsOf(m);
        const sent = sentMinute(m);
        const status = i % 7 === 0 ? 'pending' : i % 31 === 0 ? 'reversed' : 'approved';
        return `${PARTNERS[i % PARTNERS.length]}\to${i}\tm${m}\tk${m}\tc${m % 5_000_000}\t${d.offer}\t${d.campaign}\t${d.creative}\t${1_000_000 + (i % 50) * 490_000}\t${
          i % 10 === 0 ? 'EUR' : 'USD'}\t${status}\t${ts(sent + (i % 72) * 60)}\tCLICK_THROUGH\t${ts(sent)}\n`;
      },
    },
  ];
}

/** Rows in chunks of ~1 MB: few stream writes, bounded memory (the COPY stream's backpressure paces the generator). */
function* chunks(t: SeedTable): Generator<string> {
  const PER_CHUNK = 10_000;
  for (let from = 1; from <= t.count; from += PER_CHUNK) {
    let s = '';
    for (let i = from, end = Math.min(t.count, from + PER_CHUNK - 1); i <= end; i++) s += t.row(i);
    yield s;
  }
}

/**
 * COPY each fact table from a stream of generated rows. The tables' indexes (primary keys included) are dropped
 * first and rebuilt from their own definitions afterwards: one sort per index instead of 10 M random insertions
 * (the bulk-load advice of the Postgres manual). Returns rows and seconds per table.
 */
async function seedFacts(db: Client): Promise<{ table: string; rows: number; seconds: number }[]> {
  await db.query(`SET maintenance_work_mem = '1GB'`);
  const out: { table: string; rows: number; seconds: number }[] = [];
  for (const t of seedTables()) {
    const started = Date.now();
    const { rows: indexes } = await db.query<{ name: string; def: string; constraint_def: string | null }>(
      `SELECT i.relname AS name, pg_get_indexdef(i.oid) AS def, pg_get_constraintdef(c.oid) AS constraint_def
       FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid LEFT JOIN pg_constraint c ON c.conindid = i.oid AND c.contype = 'p'
       WHERE x.indrelid = $1::regclass`,
      [`"reporting".${t.table}`],
    );
    for (const ix of indexes) {
      await db.query(ix.constraint_def ? `ALTER TABLE "reporting".${t.table} DROP CONSTRAINT "${ix.name}"` : `DROP INDEX "reporting"."${ix.name}"`);
    }
    const copy = db.query(copyFrom(`COPY "reporting".${t.table} (${t.columns}) FROM STDIN`));
    await pipeline(Readable.from(chunks(t)), copy);
    const copied = Date.now();
    for (const ix of indexes) {
      // A partitioned table's index reads back as `CREATE INDEX … ON ONLY parent`, which would build it on no partition:
      // rebuild it on the parent and every partition, as the migration made it.
      await db.query(ix.constraint_def ? `ALTER TABLE "reporting".${t.table} ADD CONSTRAINT "${ix.name}" ${ix.constraint_def}` : ix.def.replace(' ON ONLY ', ' ON '));
    }
    const seconds = (Date.now() - started) / 1000;
    console.log(`seeded ${t.table}: ${t.count} rows, COPY ${((copied - started) / 1000).toFixed(1)} s + ${indexes.length} indexes ${
      ((Date.now() - copied) / 1000).toFixed(1)} s = ${seconds.toFixed(1)} s (${Math.round(t.count / seconds)} rows/s)`);
    out.push({ table: t.table, rows: copy.rowCount ?? t.count, seconds });
  }
  return out;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main(): Promise<void> {
  const name = `trackly_bench_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const dbUrl = url.toString();
  const prefix = `bench${randomBytes(3).toString('hex')}`;
  let app: Awaited<ReturnType<typeof startReporting>> | undefined;
  try {
    await migrateReporting(dbUrl);
    const db = new Client({ connectionString: dbUrl });
    await db.connect();
    const t0 = Date.now();
    const seeded = await seedFacts(db);
    const t1 = Date.now();
    // The rollups come from the real rebuild code: what the benchmark reads is what the facts add up to.
    await db.query(`SET work_mem = '256MB'`);
    for (const sql of rebuildRollupsSql()) await db.query(sql);
    // VACUUM sets the rollups' visibility map, as autovacuum does on a live database: index-only scans need it.
    const { rows: rollups } = await db.query<{ name: string }>(
      `SELECT tablename AS name FROM pg_tables WHERE schemaname = 'reporting' AND tablename LIKE '%rollup'`,
    );
    for (const r of rollups) await db.query(`VACUUM (ANALYZE) "reporting"."${r.name}"`);
    await db.query('ANALYZE');
    const sizes = await db.query(
      `SELECT relname AS table, n_live_tup::bigint AS rows FROM pg_stat_user_tables WHERE schemaname = 'reporting' AND n_live_tup > 0 ORDER BY relname`,
    );
    const factRows = seeded.reduce((n, t) => n + t.rows, 0);
    const seedSeconds = (t1 - t0) / 1000;
    console.log(`facts: ${factRows} rows in ${seedSeconds.toFixed(1)} s (${Math.round(factRows / seedSeconds)} rows/s, indexes included); ` +
      `rollups rebuilt and vacuumed in ${((Date.now() - t1) / 1000).toFixed(1)} s; seed total ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    console.table(sizes.rows);
    await db.end();

    // The launcher's freePort (the OS hands out a free port; run from the repo root, as emitReportResults): a random
    // pick in 40000-60000 lands in the ephemeral range and collided with a client socket's local port in CI.
    const { freePort } = require(require('node:path').resolve('tools/launcher')) as { freePort: () => Promise<number> };
    const port = await freePort();
    app = await startReporting(
      loadReportingConfig({
        DATABASE_URL: dbUrl, NATS_URL, NATS_PREFIX: prefix, REPORTING_HOST: '127.0.0.1', REPORTING_GRPC_PORT: String(port), LOG_LEVEL: 'warn',
      }),
    );
    const client = createGrpcClient(ReportingServiceService, `127.0.0.1:${port}`, { deadlineMs: 30_000 });
    // Every report kind in UTC, in a whole-hour zone with DST and in a +05:45 zone (quarter-hour rollups at the edges).
    const { OFFER, CREATIVE, DATE, PARTNER } = {
      OFFER: ReportGrouping.REPORT_GROUPING_OFFER, CREATIVE: ReportGrouping.REPORT_GROUPING_CREATIVE, DATE: ReportGrouping.REPORT_GROUPING_DATE,
      PARTNER: ReportGrouping.REPORT_GROUPING_PARTNER,
    };
    const tuneOnly = { campaignIds: [], offerIds: [], creativeIds: [], partnerIds: ['tune'] };
    const kinds: [string, ReportGrouping, DateBasis][] = [
      ['by offer', OFFER, DateBasis.DATE_BASIS_CONVERSION],
      ['by creative', CREATIVE, DateBasis.DATE_BASIS_CONVERSION],
      ['by date', DATE, DateBasis.DATE_BASIS_CONVERSION],
    ];
    type Case = [string, ReportGrouping, string, DateBasis, { thenBy?: ReportGrouping; filter?: typeof tuneOnly }?];
    const cases: Case[] = [
      ...['UTC', 'America/New_York', 'Asia/Kathmandu'].flatMap((zone) =>
        kinds.map(([kind, groupBy, basis]): Case => [`${kind}, ${zone}`, groupBy, zone, basis]),
      ),
      ['by creative, send-date cohort, America/New_York', CREATIVE, 'America/New_York', DateBasis.DATE_BASIS_SEND],
      ['by date, send-date cohort, America/New_York', DATE, 'America/New_York', DateBasis.DATE_BASIS_SEND],
      // The partner dimension (conversions only): by partner, by partner then creative, and one partner's offers.
      ['by partner, America/New_York', PARTNER, 'America/New_York', DateBasis.DATE_BASIS_CONVERSION],
      ['by partner then creative, America/New_York', PARTNER, 'America/New_York', DateBasis.DATE_BASIS_CONVERSION, { thenBy: CREATIVE }],
      ['by offer, partner tune, America/New_York', OFFER, 'America/New_York', DateBasis.DATE_BASIS_CONVERSION, { filter: tuneOnly }],
      ['by date, partner tune, America/New_York', DATE, 'America/New_York', DateBasis.DATE_BASIS_CONVERSION, { filter: tuneOnly }],
    ];
    const results: Record<string, string | number>[] = [];
    for (const [label, groupBy, timeZone, dateBasis, more] of cases) {
      const times: number[] = [];
      for (let r = -3; r < RUNS; r++) {
        // 30-day windows ending on different days of the seeded 90, so no answer is a repeat of the last.
        const end = new Date(Date.UTC(2026, 0, 31 + (Math.abs(r) % 55)));
        const start = new Date(end.getTime() - 29 * 86_400_000);
        const t = process.hrtime.bigint();
        const report = await client.getPerformanceReport({
          groupBy, fromDate: start.toISOString().slice(0, 10), toDate: end.toISOString().slice(0, 10), timeZone, thenBy: more?.thenBy ?? 0, dateBasis,
          filter: more?.filter, includeTest: false, reportingCurrency: '',
        });
        if (r >= 0) times.push(Number(process.hrtime.bigint() - t) / 1e6);
        if (r === 0 && !report.rows.length) throw new Error(`${label}: empty report`);
      }
      times.sort((a, b) => a - b);
      results.push({
        report: label, runs: times.length,
        p50_ms: +percentile(times, 50).toFixed(1), p95_ms: +percentile(times, 95).toFixed(1), p99_ms: +percentile(times, 99).toFixed(1),
        max_ms: +times[times.length - 1].toFixed(1),
      });
    }
    client.close();
    console.log(`\n${quick ? 'QUICK ' : ''}seed: ${MESSAGES} sends, ${CLICKS} clicks, ${CONVERSIONS} conversions over ${DAYS} days; 30-day reports over gRPC`);
    console.table(results);
    emitReportResults(results, quick);
  } finally {
    await app?.close().catch(() => undefined);
    if (keep) console.log(`kept database ${name}`);
    else await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch((e) => console.error(e));
    await admin.end();
    const { connect } = await import('@nats-io/transport-node');
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const nc = await connect({ servers: NATS_URL });
    const jsm = await jetstreamManager(nc);
    for await (const s of jsm.streams.list()) if (s.config.name.startsWith(`${prefix.toUpperCase()}_`)) await jsm.streams.delete(s.config.name);
    await nc.close();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);

/** `--json=<path>`: the result in the common format of `npm run bench` (bench/lib/results.js, run from the repo root). */
function emitReportResults(results: Record<string, string | number>[], isQuick: boolean): void {
  const { metric, emitResults } = require(require('node:path').resolve('bench/lib/results.js'));
  const hwm = /VmHWM:\s+(\d+) kB/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'));
  emitResults({
    scenario: 'reports',
    mode: isQuick ? 'quick' : 'full',
    config: { clicks: CLICKS, conversions: CONVERSIONS, messages: MESSAGES, runs: RUNS },
    metrics: results.map((r) =>
      metric(`report p95, ${r.report} (${CLICKS} clicks)`, Number(r.p95_ms), 'ms', { target: { op: '<', value: 50, of: 'value', text: '< 50 ms (at 10 M clicks)' } }),
    ),
    checks: [{ check: 'every report non-empty', value: 'checked', ok: true }],
    // The reporting service runs inside the bench process here (with the seeding client).
    memory: hwm ? { 'reporting (in bench process)': +(Number(hwm[1]) / 1024).toFixed(1) } : {},
  });
}
