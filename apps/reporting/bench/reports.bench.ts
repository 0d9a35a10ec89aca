/**
 * npm run bench:reports [-- --quick] : seeds a throwaway database with 10 M clicks and 1 M conversions (quick: 10 k
 * and 1 k), rebuilds the rollups, starts the reporting service and measures 30-day performance reports over gRPC.
 * The database is dropped at the end. Not part of `npm test`.
 *
 * Seeding is set-based and runs inside Postgres (INSERT ... SELECT over generate_series): like COPY it is one
 * statement per table with no per-row round trip, and unlike COPY FROM STDIN it needs no extra npm package and no
 * bytes on the wire.
 */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
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
const CREATIVE_NO = (i: string) => `((hashint4((${i})::int) & 2147483647) % 400)`;
const CREATIVE = (i: string) => `('cr-' || ${CREATIVE_NO(i)})`;
const CAMPAIGN = (i: string) => `('camp-' || ${CREATIVE_NO(i)} / 8)`;
const OFFER = (i: string) => `('off-' || ${CREATIVE_NO(i)} % 100)`;
const SENT_AT = (i: string) => `(timestamptz '2026-01-01 00:00:00+00' + ((${i}) % ${DAYS * 1440}) * interval '1 minute')`;

function seedSql(): [string, string][] {
  return [
    ['messages', `INSERT INTO "reporting".messages (message_id, contact_id, phone_masked, campaign_id, creative_id, offer_id, sent_at)
      SELECT 'm' || i, 'c' || (i % 5000000), '+1***0000', ${CAMPAIGN('i')}, ${CREATIVE('i')}, ${OFFER('i')}, ${SENT_AT('i')}
      FROM generate_series(1, ${MESSAGES}) i`],
    // Clicks on the first messages: one in ten is a second click on the same message; one in twenty a link preview.
    // The cohort (send) time is filled in here, as the projection does from the click event.
    ['clicks', `INSERT INTO "reporting".clicks
        (click_id, message_id, contact_id, offer_id, campaign_id, creative_id, clicked_at, first_click_on_message, click_class, cohort_at)
      SELECT 'k' || i, 'm' || m, 'c' || (m % 5000000), ${OFFER('m')}, ${CAMPAIGN('m')}, ${CREATIVE('m')},
             ${SENT_AT('m')} + (i % 600) * interval '1 second', i % 10 <> 0, CASE WHEN i % 20 = 7 THEN 'PREVIEW' ELSE 'HUMAN' END,
             CASE WHEN i % 20 <> 7 THEN ${SENT_AT('m')} END
      FROM generate_series(1, ${CLICKS}) i, LATERAL (SELECT CASE WHEN i % 10 = 0 THEN i - 1 ELSE i END AS m) x`],
    ['credited_conversions', `INSERT INTO "reporting".credited_conversions (partner_id, conversion_id, message_id, click_id, contact_id,
        offer_id, campaign_id, creative_id, payout_micros, currency, status, occurred_at, type, cohort_at)
      SELECT 'tune', 'o' || i, 'm' || m, 'k' || m, 'c' || (m % 5000000), ${OFFER('m')}, ${CAMPAIGN('m')}, ${CREATIVE('m')},
             1000000 + (i % 50) * 490000, CASE WHEN i % 10 = 0 THEN 'EUR' ELSE 'USD' END,
             CASE WHEN i % 7 = 0 THEN 'pending' WHEN i % 31 = 0 THEN 'reversed' ELSE 'approved' END,
             ${SENT_AT('m')} + (i % 72) * interval '1 hour', 'CLICK_THROUGH', ${SENT_AT('m')}
      FROM generate_series(1, ${CONVERSIONS}) i, LATERAL (SELECT i * ${Math.floor(CLICKS / CONVERSIONS)} - 1 AS m) x`],
  ];
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
    for (const [table, sql] of seedSql()) {
      const t = Date.now();
      await db.query(sql);
      console.log(`seeded ${table} in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    }
    const t1 = Date.now();
    for (const sql of rebuildRollupsSql()) await db.query(sql);
    await db.query('ANALYZE');
    const sizes = await db.query(
      `SELECT relname AS table, n_live_tup::bigint AS rows FROM pg_stat_user_tables WHERE schemaname = 'reporting' AND n_live_tup > 0 ORDER BY relname`,
    );
    console.log(`rollups rebuilt in ${((Date.now() - t1) / 1000).toFixed(1)} s (seed total ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    console.table(sizes.rows);
    await db.end();

    const port = 40000 + Math.floor(Math.random() * 20000);
    app = await startReporting(
      loadReportingConfig({
        DATABASE_URL: dbUrl, NATS_URL, NATS_PREFIX: prefix, REPORTING_HOST: '127.0.0.1', REPORTING_GRPC_PORT: String(port), LOG_LEVEL: 'warn',
      }),
    );
    const client = createGrpcClient(ReportingServiceService, `127.0.0.1:${port}`, { deadlineMs: 30_000 });
    const cases: [string, ReportGrouping, string, DateBasis][] = [
      ['by offer, UTC', ReportGrouping.REPORT_GROUPING_OFFER, 'UTC', DateBasis.DATE_BASIS_CONVERSION],
      ['by creative, UTC', ReportGrouping.REPORT_GROUPING_CREATIVE, 'UTC', DateBasis.DATE_BASIS_CONVERSION],
      ['by offer, America/New_York', ReportGrouping.REPORT_GROUPING_OFFER, 'America/New_York', DateBasis.DATE_BASIS_CONVERSION],
      ['by creative, Asia/Kathmandu', ReportGrouping.REPORT_GROUPING_CREATIVE, 'Asia/Kathmandu', DateBasis.DATE_BASIS_CONVERSION],
      ['by creative, send-date cohort, New York', ReportGrouping.REPORT_GROUPING_CREATIVE, 'America/New_York', DateBasis.DATE_BASIS_SEND],
      ['by date, America/New_York', ReportGrouping.REPORT_GROUPING_DATE, 'America/New_York', DateBasis.DATE_BASIS_CONVERSION],
    ];
    const results: Record<string, string | number>[] = [];
    for (const [label, groupBy, timeZone, dateBasis] of cases) {
      const times: number[] = [];
      for (let r = -3; r < RUNS; r++) {
        // 30-day windows ending on different days of the seeded 90, so no answer is a repeat of the last.
        const end = new Date(Date.UTC(2026, 0, 31 + (Math.abs(r) % 55)));
        const start = new Date(end.getTime() - 29 * 86_400_000);
        const t = process.hrtime.bigint();
        const report = await client.getPerformanceReport({
          groupBy, fromDate: start.toISOString().slice(0, 10), toDate: end.toISOString().slice(0, 10), timeZone, thenBy: 0, dateBasis,
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
