#!/usr/bin/env node
'use strict';
/**
 * `npm run bench:click [-- --quick] [-- --duration=S] [-- --connections=N] [-- --cpu-prof]`
 *
 * Measures the click edge (GET /c/{code} -> classified, durable click + outbox row -> 302) of the real tracking app
 * (built, as a child process, on Postgres and NATS) at a fixed concurrency, against a bare node:http + pg server
 * doing one INSERT per request, in the same run and on the same database server. Prints req/s, p50, p99 and the
 * ratio to the bare server, with group commit on and off, then checks that every answered click has its row.
 *
 * Needs Postgres and NATS (DATABASE_URL / NATS_URL or the local defaults) and the app built into dist/bench/tracking
 * (the npm script does it). --quick runs ~3 s per server for CI.
 */
const path = require('node:path');
const { fork } = require('node:child_process');
const { Client } = require('pg');
const autocannon = require('autocannon');
// The suite's own helpers (bench/lib): one definition of where Postgres and NATS are and how to reach them.
const { NATS_URL, acquireBenchLock, admin, dbUrl, freePort } = require('../../../bench/lib/common');

const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k, v ?? 'true'];
  }),
);
const QUICK = args.quick === 'true';
const DURATION = Number(args.duration ?? (QUICK ? 3 : 15));
const WARMUP = QUICK ? 1 : 3;
const CONNECTIONS = Number(args.connections ?? 64);
const MESSAGES = QUICK ? 2_000 : 20_000;
const REGISTER_BATCH = 10_000;
const POOL_SIZE = Number(args.pool ?? 10);
const CPU_PROF = args['cpu-prof'] === 'true';

const ROOT = path.resolve(__dirname, '../../..');
// Built by the npm script into a folder of its own, so a concurrent `nx build` cannot pull it away mid-run.
const APP_MAIN = path.join(ROOT, 'dist/bench/tracking/apps/tracking/src/main.js');
const DB_NAME = 'trackly_bench_click';
const IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1';

async function waitHttp(url, child) {
  const end = Date.now() + 60_000;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`${url}: server exited with ${child.exitCode}`);
    try {
      const r = await fetch(url, { redirect: 'manual' });
      if (r.status < 500) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not come up`);
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', resolve);
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
  });
}

/** A fresh database: the app migrates its own schema; the bare server gets one table. */
async function prepareDatabase() {
  await admin(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${DB_NAME}`);
  });
  const c = new Client({ connectionString: dbUrl(DB_NAME) });
  await c.connect();
  await c.query(`CREATE SCHEMA bench_bare`);
  await c.query(`CREATE TABLE bench_bare.clicks (click_id text PRIMARY KEY, short_code text NOT NULL, clicked_at timestamptz NOT NULL,
    user_agent text NOT NULL, ip text NOT NULL)`);
  return c;
}

async function seedCatalog(c) {
  await c.query(`INSERT INTO "tracking".campaigns (campaign_id, name) VALUES ('bench', 'Bench') ON CONFLICT DO NOTHING`);
  await c.query(`INSERT INTO "tracking".creatives (creative_id, name) VALUES ('bench', 'Bench') ON CONFLICT DO NOTHING`);
  await c.query(`INSERT INTO "tracking".offers (offer_id, name, destination_url_template, default_payout_micros, currency)
    VALUES ('bench', 'Bench', 'https://shop.example/land?cid={click_id}&m={message_id}', 1000000, 'USD') ON CONFLICT DO NOTHING`);
}

/**
 * The messages are registered through the real RegisterMessages RPC in batches of 10,000 (a blast's size), each
 * call timed; their short codes are what the load then hits. Waits until the relay has published every MessageSent,
 * so the click runs do not compete with it.
 */
async function registerMessages(c, grpcPort) {
  const grpc = require('@grpc/grpc-js');
  const { TrackingServiceService } = require(path.join(ROOT, 'dist/bench/tracking/libs/contracts/src/gen/trackly/tracking/v1/tracking_service.js'));
  const Ctor = grpc.makeGenericClientConstructor(TrackingServiceService, 'TrackingService');
  const client = new Ctor(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 64 << 20 });
  const authToken = process.env.GRPC_AUTH_TOKEN;
  const call = (req) =>
    new Promise((resolve, reject) => {
      const md = new grpc.Metadata();
      if (authToken) md.set('authorization', `Bearer ${authToken}`);
      client.registerMessages(req, md, { deadline: Date.now() + 60_000 }, (err, res) => (err ? reject(err) : resolve(res)));
    });
  const sentAt = new Date(Date.now() - 3_600_000);
  const codes = [];
  const times = [];
  try {
    for (let b = 0; b * REGISTER_BATCH < Math.max(MESSAGES, REGISTER_BATCH); b++) {
      const messages = Array.from({ length: REGISTER_BATCH }, (_, i) => {
        const n = b * REGISTER_BATCH + i;
        return { messageId: `m-${n}`, contactId: `c-${n}`, phoneE164: `+1555${String(n).padStart(7, '0')}`, campaignId: 'bench', creativeId: 'bench', offerId: 'bench', sentAt };
      });
      const t0 = process.hrtime.bigint();
      const res = await call({ messages });
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (res.messages.length !== REGISTER_BATCH) throw new Error(`RegisterMessages answered ${res.messages.length} of ${REGISTER_BATCH}`);
      for (const m of res.messages) codes.push(m.shortCode);
    }
  } finally {
    client.close();
  }
  for (;;) {
    const { rows } = await c.query(`SELECT count(*)::int AS n FROM "tracking".outbox WHERE published_at IS NULL`);
    if (rows[0].n === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log(`  RegisterMessages, ${REGISTER_BATCH} per call: ${times.map((t) => `${Math.round(t)} ms`).join(', ')}`);
  return { codes: codes.slice(0, MESSAGES), registerMs: times };
}

/** Fixed concurrency, a different message per request (a blast), a phone browser's headers. */
async function load(port, codes, seconds) {
  let i = 0;
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: seconds,
    headers: { 'user-agent': IPHONE, 'accept-language': 'en-US,en;q=0.9' },
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: `/c/${codes[i++ % codes.length]}` }) }],
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    redirects: result['3xx'],
    other: result['1xx'] + result['2xx'] + result['4xx'] + result['5xx'] + result.errors + result.timeouts,
  };
}

/** Peak resident set size of a process so far, in MB (VmHWM, Linux); undefined elsewhere. */
function peakRssMb(pid) {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(require('node:fs').readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One bench at a time on the machine (bench/lib/common.js's lock), unless `npm run bench` (an ancestor of this
 * process) already holds it.
 */
async function benchLock() {
  const fs = require('node:fs');
  const file = path.join(require('node:os').tmpdir(), 'trackly-bench.lock');
  let holder = 0;
  try {
    holder = Number(fs.readFileSync(file, 'utf8')) || 0;
  } catch {
    /* free */
  }
  for (let pid = process.ppid; pid > 1; ) {
    if (pid === holder) return;
    try {
      pid = Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
    } catch {
      break;
    }
  }
  await acquireBenchLock(file);
}

/** CPU seconds (user + system) the process has used so far, from /proc (Linux); undefined elsewhere. */
function cpuSeconds(pid) {
  try {
    const fields = require('node:fs').readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return undefined;
  }
}

async function measure(name, start, codes) {
  const { child, port } = await start();
  try {
    await load(port, codes, WARMUP);
    const cpu0 = cpuSeconds(child.pid);
    const r = await load(port, codes, DURATION);
    const cpu = cpu0 === undefined ? undefined : (cpuSeconds(child.pid) - cpu0) / DURATION;
    const cpuText = cpu === undefined ? '' : `, server CPU ${(cpu * 100).toFixed(0)}% of a core`;
    const rss = peakRssMb(child.pid);
    const cpuPerReq = cpu === undefined || !r.rps ? undefined : (cpu * 1000) / r.rps;
    console.log(
      `  ${name}: ${Math.round(r.rps)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms (${r.redirects} redirects, ${r.other} other${cpuText}` +
        `${cpuPerReq === undefined ? '' : `, ${cpuPerReq.toFixed(3)} ms CPU per request`}${rss === undefined ? '' : `, peak RSS ${rss} MB`})`,
    );
    return { name, ...r, rss, cpuPerReq };
  } finally {
    await stop(child);
  }
}

/** The app created its stream under the bench's prefix; remove it so runs do not pile up events. */
async function deleteBenchStreams() {
  const { connect } = require('@nats-io/transport-node');
  const { jetstreamManager } = require('@nats-io/jetstream');
  const nc = await connect({ servers: NATS_URL });
  try {
    const jsm = await jetstreamManager(nc);
    for await (const s of jsm.streams.list()) if (s.config.name.startsWith('BENCHCLICK_')) await jsm.streams.delete(s.config.name);
  } finally {
    await nc.close();
  }
}

function startBare() {
  return freePort().then(async (port) => {
    const child = fork(path.join(__dirname, 'bare-server.js'), [], {
      env: { ...process.env, DATABASE_URL: dbUrl(DB_NAME), PORT: String(port), POOL_SIZE: String(POOL_SIZE) },
      stdio: 'inherit',
    });
    await waitHttp(`http://127.0.0.1:${port}/c/none`, child);
    return { child, port };
  });
}

function startApp(groupCommit, label) {
  return async () => {
    const [port, grpcPort] = [await freePort(), await freePort()];
    const execArgv = CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.join(ROOT, 'dist/bench-profiles')}`, `--cpu-prof-name=${label}.cpuprofile`] : [];
    const child = fork(APP_MAIN, [], {
      execArgv,
      env: {
        ...process.env,
        DATABASE_URL: dbUrl(DB_NAME),
        DATABASE_POOL_SIZE: String(POOL_SIZE),
        NATS_URL,
        NATS_PREFIX: 'benchclick',
        TRACKING_HOST: '127.0.0.1',
        TRACKING_HTTP_PORT: String(port),
        TRACKING_GRPC_PORT: String(grpcPort),
        TRACKING_GROUP_COMMIT: groupCommit ? 'true' : 'false',
        // Every request comes from one IP with one user agent: the repeat-pattern rule would call it a scanner.
        TRACKING_BOT_REPEAT_CODES: '0',
        LOG_LEVEL: 'warn',
      },
      stdio: 'inherit',
    });
    await waitHttp(`http://127.0.0.1:${port}/c/none`, child);
    return { child, port, grpcPort };
  };
}

async function main() {
  await benchLock();
  const c = await prepareDatabase();
  try {
    console.log(`click edge bench: ${CONNECTIONS} connections, ${DURATION} s per run (+${WARMUP} s warm-up), ${MESSAGES} messages, pool ${POOL_SIZE}`);
    // Start the app once so it creates its schema; the messages go in through its RegisterMessages RPC.
    const first = await startApp(true, 'register')();
    await seedCatalog(c);
    const { codes, registerMs } = await registerMessages(c, first.grpcPort);
    await stop(first.child);

    const bare = await measure('bare node:http + pg, one INSERT per request', startBare, codes);
    const grouped = await measure('tracking app, group commit on ', startApp(true, 'group-commit'), codes);
    const single = await measure('tracking app, group commit off', startApp(false, 'no-group-commit'), codes);

    const ratio = (r) => (r.rps / bare.rps).toFixed(2);
    console.log('\n| server | req/s | p50 ms | p99 ms | vs bare |');
    console.log('| --- | ---: | ---: | ---: | ---: |');
    for (const r of [bare, grouped, single]) console.log(`| ${r.name.trim()} | ${Math.round(r.rps)} | ${r.p50} | ${r.p99} | ${ratio(r)}x |`);

    console.log(`\nRegisterMessages of ${REGISTER_BATCH} per call: best ${Math.round(Math.min(...registerMs))} ms, worst ${Math.round(Math.max(...registerMs))} ms (target < 1000 ms)`);

    // Every 302 the app answered must have its click row (committed before the answer).
    const { rows } = await c.query(`SELECT count(*)::int AS n FROM "tracking".clicks`);
    const answered = grouped.redirects + single.redirects;
    const warmups = rows[0].n - answered;
    console.log(`\nclick rows: ${rows[0].n} for ${answered} measured redirects (+${warmups} from warm-ups)`);
    if (warmups < 0) throw new Error('fewer click rows than redirects answered: a click was lost');
    const missing = [grouped, single].filter((r) => r.other > 0);
    if (missing.length) throw new Error(`non-redirect answers: ${missing.map((r) => `${r.name.trim()}: ${r.other}`).join(', ')}`);
    emitClickResults(bare, grouped, single);
    if (CPU_PROF) console.log(`CPU profiles in ${path.join(ROOT, 'dist/bench-profiles')}`);
  } finally {
    await c.end();
    await admin((a) => a.query(`DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`)).catch(() => undefined);
    await deleteBenchStreams().catch(() => undefined);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

/** `--json=<path>`: the result in the common format of `npm run bench` (bench/lib/results.js). */
function emitClickResults(bare, grouped, single) {
  const { metric, emitResults } = require('../../../bench/lib/results');
  emitResults({
    scenario: 'click',
    mode: QUICK ? 'quick' : 'full',
    config: { connections: CONNECTIONS, durationS: DURATION, pool: POOL_SIZE },
    metrics: [
      metric('click redirects/s, group commit on', grouped.rps, 'req/s', { baseline: bare.rps, target: { op: '>=', value: 1.5, of: 'ratio', text: '≥ 1.5× baseline (group commit)' } }),
      metric('click redirects/s, group commit off', single.rps, 'req/s', { baseline: bare.rps, target: { op: '>=', value: 0.6, of: 'ratio', text: '≥ 0.6× baseline (no batching)' } }),
      metric('click p99, group commit on', grouped.p99, 'ms', { baseline: bare.p99, target: { op: '<=', value: 50, of: 'value', text: `≤ 50 ms at ${CONNECTIONS} connections` } }),
      metric('click p50, group commit on', grouped.p50, 'ms', { baseline: bare.p50 }),
    ],
    checks: [{ check: 'every 302 has its click row; no other answers', value: 'checked', ok: true }],
  });
}
