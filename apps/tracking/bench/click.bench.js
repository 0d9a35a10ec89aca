#!/usr/bin/env node
'use strict';
/**
 * `npm run bench:click [-- --quick] [-- --duration=S] [-- --slices=N] [-- --warmup=S] [-- --connections=N] [-- --messages=N] [-- --cold] [-- --cpu-prof] [-- --modes=on|off] [-- --partitions=N]`
 * (BENCH_NODE_FLAGS=--perf-basic-prof: extra node flags for the servers, e.g. for `perf record -p`)
 *
 * Measures the click edge (GET /c/{code} -> classified, durable click row, which is also its event's source
 * -> 302) of the real tracking app (built, as a child process, on Postgres and NATS) at a fixed concurrency, against
 * a bare node:http + pg server doing one INSERT per request, in the same run and on the same database server: each
 * mode and the bare server in alternating slices (A B B A …, bench/lib/alternate.js), so that the machine's drift
 * falls on both. Prints req/s, p50, p99, the server's CPU per request and peak RSS, and the ratio to the bare server
 * in the same slices, with group commit on and off; then checks that every answered click has its row and every row its click in the stream, exactly once: alone
 * in a ClickRecorded or in a ClicksRecorded run (the relay publishes clicks read together as runs of up to 100).
 *
 * Needs Postgres and NATS (DATABASE_URL / NATS_URL or the local defaults) and the app built into dist/bench/tracking
 * (the npm script does it). --quick runs ~3 s per server for CI.
 */
const path = require('node:path');
const { fork } = require('node:child_process');
const { Client } = require('pg');
const autocannon = require('autocannon');
const { admin, dbUrl, freePort, parseArgs } = require('../../../bench/lib/common');
const app = require('./bench-app');
const { registerMessages } = require('./register.bench');
const { createHash } = require('node:crypto');
const { sliced, alternate } = require('../../../bench/lib/alternate');

const args = parseArgs();
const QUICK = args.quick === 'true';
const DURATION = Number(args.duration ?? (QUICK ? 3 : 15));
const WARMUP = Number(args.warmup ?? (QUICK ? 1 : 3));
const CONNECTIONS = Number(args.connections ?? 64);
const MESSAGES = Number(args.messages ?? (QUICK ? 2_000 : 20_000));
// --cold: the warm-up taps codes from the other end of the list, so the measured taps are on links not read yet (as
// in a blast, where most taps are a message's first); give --messages enough for the run (e.g. 40,000 for --quick).
const COLD = args.cold === 'true';
const REGISTER_BATCH = 10_000;
const POOL_SIZE = Number(args.pool ?? 10);
const CPU_PROF = args['cpu-prof'] === 'true';
// --modes=off (or on): only that mode after the baseline, e.g. to compare one mode's changes in shorter runs.
// --partitions=N: the clicks table as a deployment holds it after N days (one partition per past day, no legacy
// partition), where the default is a fresh deployment's (a legacy partition up to the day after tomorrow, 7 days).
const PARTITIONS = Number(args.partitions ?? 0);
const MODES = new Set((args.modes ?? 'on,off').split(','));
// --slices=N: each mode and the bare server measured alternately, N slices of duration/N seconds each (A B B A …).
const SLICES = Number(args.slices ?? (QUICK ? 2 : 5));

const DB_NAME = 'trackly_bench_click';
const PREFIX = 'benchclick';
const CLICKS_STREAM = 'BENCHCLICK_TRACKLY_TRACKING_CLICKS_V1';
const CLICK_SUBJECT = `${PREFIX}.trackly.tracking.v1.ClickRecorded`;
const CLICKS_SUBJECT = `${PREFIX}.trackly.tracking.v1.ClicksRecorded`;
/** Most clicks one ClicksRecorded carries (apps/tracking/src/clicks/click-events.ts CLICKS_PER_RUN). */
const CLICKS_PER_RUN = 100;
const IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1';

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

/**
 * One slice of load: fixed concurrency, a different message per request (a blast), a phone browser's headers. `at`
 * is where in the codes the server's previous slice stopped (its slices tap on as one run would). Resolves to
 * autocannon's raw result (bench/lib/alternate.js combines a server's slices).
 */
function load(port, codes, seconds, at = { i: 0 }) {
  return autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: seconds,
    skipAggregateResult: true,
    headers: { 'user-agent': IPHONE, 'accept-language': 'en-US,en;q=0.9' },
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: `/c/${codes[at.i++ % codes.length]}` }) }],
  });
}

/** A running server (bare or app) measured in slices: each slice's load, and what it cost (the app's relay too). */
function clickServer(name, server, codes, c) {
  const at = { i: 0 };
  return sliced(name, {
    run: (seconds) => load(server.port, codes, seconds, at),
    ...app.sliceCosts(c, DB_NAME, server.child.pid, { relay: () => relayBackendsCpu(c) }),
  });
}

/** Clicks the app's relay has not published yet (behind its cursor, which it saves at most every 100 ms). */
async function relayBacklog(c) {
  const { rows } = await c.query(`SELECT count(*)::int AS n FROM "tracking".clicks AS t, "tracking".table_relay_cursors AS r
                                  WHERE r.relay = 'clicks' AND t.xid IS NOT NULL AND (t.xid, t.seq) > (r.xid, r.seq)`);
  return rows[0].n;
}

/**
 * After an app's slice: how far its relay is behind the taps when the load ends, then a wait (untimed) until it has
 * caught up, so that publishing this slice's clicks does not fall on the bare server's next slice.
 */
async function relayCaughtUp(c, behind) {
  behind.push(await relayBacklog(c));
  for (const end = Date.now() + 60_000; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
    if ((await relayBacklog(c)) === 0) return;
  }
  throw new Error('the clicks relay did not catch up within 60 s of a slice');
}

/** A server's slices as one run: its line of the report and its row of the table. */
function report(s, pid, behind) {
  const r = s.combined();
  const requests = r.rps * r.seconds;
  const per = (x) => (x === undefined || !requests ? undefined : (x * 1000) / requests);
  const out = {
    name: s.name,
    rps: r.rps,
    p50: r.p50,
    p99: r.p99,
    redirects: r.result['3xx'],
    other: r.result['1xx'] + r.result['2xx'] + r.result['4xx'] + r.result['5xx'] + r.result.errors + r.result.timeouts,
    rss: pid === undefined ? undefined : app.peakRssMb(pid),
    cpuPerReq: per(r.cpu),
    dbPerReq: per(r.db),
    relayDbPerReq: per(r.relay),
    pgAllPerReq: per(r.pg),
    walPerReq: requests ? r.wal / requests : undefined,
    natsPerReq: per(r.nats),
    genPerReq: per(r.gen),
  };
  const f = (x) => x.toFixed(3);
  console.log(
    `  ${s.name}: ${Math.round(out.rps)} req/s over ${r.slices} slices (${r.seconds.toFixed(1)} s), p50 ${out.p50} ms, p99 ${out.p99} ms (${out.redirects} redirects, ${out.other} other` +
      `${r.cpu === undefined ? '' : `, server CPU ${((r.cpu / r.seconds) * 100).toFixed(0)}% of a core, ${f(out.cpuPerReq)} ms CPU per request`}` +
      `${out.dbPerReq === undefined ? '' : ` + ${f(out.dbPerReq)} ms in its Postgres backends`}` +
      `${out.relayDbPerReq ? ` (${f(out.relayDbPerReq)} ms of it the relay's)` : ''}` +
      `${out.pgAllPerReq === undefined ? '' : `, ${f(out.pgAllPerReq)} ms all Postgres processes, ${Math.round(out.walPerReq)} WAL bytes`}` +
      `${behind ? `, relay up to ${Math.max(...behind)} clicks behind at a slice's end` : ''}` +
      `${out.natsPerReq === undefined ? '' : ` + ${f(out.natsPerReq)} ms in nats-server`}` +
      `${out.genPerReq === undefined ? '' : `; the load generator ${f(out.genPerReq)} ms`}${out.rss === undefined ? '' : `, peak RSS ${out.rss} MB`})`,
  );
  return out;
}

/**
 * The bare server and one app mode, each warmed up, then measured in alternating slices (bench/lib/alternate.js:
 * on shared cores the machine's speed drifts within minutes, and alternating makes it fall on both).
 */
async function measurePair(mode, bareServer, start, codes, c) {
  const server = await start();
  try {
    await load(server.port, COLD ? [...codes].reverse() : codes, WARMUP);
    const bare = clickServer(`bare node:http + pg, one INSERT per request (alongside ${mode})`, bareServer, codes, c);
    const tracking = clickServer(`tracking app, group commit ${mode}`, server, codes, c);
    const behind = [];
    await alternate(bare, tracking, { slices: SLICES, seconds: Math.max(1, Math.round(DURATION / SLICES)), settle: (s) => (s === tracking ? relayCaughtUp(c, behind) : undefined) });
    return [report(bare), report(tracking, server.child.pid, behind)];
  } finally {
    await app.stop(server.child);
  }
}

/**
 * Reads the whole clicks stream (one ordered consumer) and tallies the clicks its events carry: a ClickRecorded's
 * click (Nats-Msg-Id = the click id) and each click of a ClicksRecorded run (Nats-Msg-Id = "click-run:" + the sha256
 * of its click ids, each followed by "\n"). Decoded with the built contracts.
 */
async function streamClicks(streamName) {
  const { connect } = require('@nats-io/transport-node');
  const { jetstream } = require('@nats-io/jetstream');
  const { NATS_URL } = require('../../../bench/lib/common');
  const { ClickRecorded, ClicksRecorded } = require(path.join(app.ROOT, 'dist/bench/tracking/libs/contracts/src/gen/trackly/tracking/v1/tracking_events.js'));
  const runId = (ids) => `click-run:${createHash('sha256').update(ids.map((id) => `${id}\n`).join('')).digest('base64url')}`;
  const events = await app.streamMessages(streamName);
  const t = { events, read: 0, singles: 0, runs: 0, clicks: 0, distinct: 0, oversized: 0, badIds: 0, other: 0 };
  if (!events) return t;
  const nc = await connect({ servers: NATS_URL });
  try {
    const consumer = await jetstream(nc).consumers.get(streamName);
    const seen = new Set();
    for (const end = Date.now() + 60_000; t.read < events && Date.now() < end; ) {
      for await (const m of await consumer.fetch({ max_messages: 1000, expires: 2000 })) {
        t.read++;
        const id = m.headers?.get('Nats-Msg-Id') ?? '';
        let ids = [];
        if (m.subject === CLICK_SUBJECT) {
          t.singles++;
          ids = [ClickRecorded.decode(m.data).click?.clickId ?? ''];
          if (id !== ids[0]) t.badIds++;
        } else if (m.subject === CLICKS_SUBJECT) {
          t.runs++;
          ids = ClicksRecorded.decode(m.data).clicks.map((c) => c.clickId);
          if (ids.length < 2 || ids.length > CLICKS_PER_RUN) t.oversized++;
          if (id !== runId(ids)) t.badIds++;
        } else t.other++;
        t.clicks += ids.length;
        for (const c of ids) seen.add(c);
        if (m.info.pending === 0) break;
      }
    }
    t.distinct = seen.size;
    return t;
  } finally {
    await nc.close();
  }
}

/** The clicks table after `days` days in service: the legacy partition gone, one partition per past day. */
async function pastPartitions(c, days) {
  await c.query(`ALTER TABLE "tracking".clicks DETACH PARTITION "tracking".clicks_legacy`);
  await c.query(`DROP TABLE "tracking".clicks_legacy`);
  // Named and bounded as the app's partition keeper does (libs/database partition-plan, from the build).
  const { addPeriods, periodStart, periodsFrom } = require(path.join(app.BUILD, 'libs/database/src/partition-plan.js'));
  // Days the migration already made (it may have run before midnight) are kept, not made again.
  const { rows: made } = await c.query(`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = '"tracking".clicks'::regclass`);
  const existing = new Set(made.map((r) => r.name));
  const today = periodStart(new Date(), 'day');
  for (const p of periodsFrom('clicks', addPeriods(today, -days, 'day'), days + 2, 'day').filter((p) => !existing.has(p.name))) {
    await c.query(`CREATE TABLE "tracking".${p.name} PARTITION OF "tracking".clicks FOR VALUES FROM ('${p.from.toISOString()}') TO ('${p.to.toISOString()}')`);
  }
  const { rows } = await c.query(`SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = '"tracking".clicks'::regclass`);
  console.log(`  clicks table: ${rows[0].n} partitions (${days} past days, as after ${days} days in service)`);
}

/** CPU seconds so far of the app's table-relay backends (application_name `…-relay`), per pid. */
async function relayBackendsCpu(c) {
  const { rows } = await c.query(`SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE '%-relay'`, [DB_NAME]);
  const out = new Map();
  for (const { pid } of rows) {
    const s = app.cpuSeconds(pid);
    if (s !== undefined) out.set(pid, s);
  }
  return out;
}

function startBare() {
  return freePort().then(async (port) => {
    const child = fork(path.join(__dirname, 'bare-server.js'), [], {
      execArgv: app.extraNodeFlags(),
      env: { ...process.env, DATABASE_URL: dbUrl(DB_NAME), PORT: String(port), POOL_SIZE: String(POOL_SIZE) },
      stdio: 'inherit',
    });
    await app.waitHttp(`http://127.0.0.1:${port}/c/none`, child);
    return { child, port };
  });
}

function startApp(groupCommit, label) {
  return () =>
    app.startTracking({
      dbName: DB_NAME,
      prefix: PREFIX,
      label,
      cpuProf: CPU_PROF,
      pool: POOL_SIZE,
      env: {
        TRACKING_GROUP_COMMIT: groupCommit ? 'true' : 'false',
        // Every request comes from one IP with one user agent: the repeat-pattern rule would call it a scanner.
        TRACKING_BOT_REPEAT_CODES: '0',
      },
    });
}

async function main() {
  await app.benchLock();
  await app.deleteStreams('BENCHCLICK_').catch(() => undefined);
  const c = await prepareDatabase();
  try {
    console.log(`click edge bench: ${CONNECTIONS} connections, ${DURATION} s per server and mode in ${SLICES} alternating slices (+${WARMUP} s warm-up${COLD ? ' on other links: measured taps on links not read yet' : ''}), ${MESSAGES} messages, pool ${POOL_SIZE}`);
    // Start the app once so it creates its schema; the messages go in through its RegisterMessages RPC (a blast's
    // calls of 10,000), and their events are all published before the click runs start.
    const first = await startApp(true, 'register')();
    await app.seedCatalog(c);
    if (PARTITIONS) await pastPartitions(c, PARTITIONS);
    const client = app.trackingClient(first.grpcPort);
    let registered;
    try {
      registered = await registerMessages(client, { total: Math.max(MESSAGES, REGISTER_BATCH), batch: REGISTER_BATCH });
    } finally {
      client.close();
    }
    for (;;) {
      const { rows } = await c.query(`SELECT count(*)::int AS n FROM "tracking".outbox WHERE published_at IS NULL`);
      if (rows[0].n === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await app.stop(first.child);
    const codes = registered.codes.slice(0, MESSAGES);
    console.log(`  RegisterMessages, ${REGISTER_BATCH} per call: ${registered.times.map((t) => `${Math.round(t)} ms`).join(', ')} (npm run bench:register measures it)`);

    const bareServer = await startBare();
    let bareOn;
    let grouped;
    let bareOff;
    let single;
    try {
      await load(bareServer.port, COLD ? [...codes].reverse() : codes, WARMUP);
      if (MODES.has('on')) [bareOn, grouped] = await measurePair('on', bareServer, startApp(true, 'group-commit'), codes, c);
      if (MODES.has('off')) [bareOff, single] = await measurePair('off', bareServer, startApp(false, 'no-group-commit'), codes, c);
    } finally {
      await app.stop(bareServer.child);
    }

    const ratio = (r) => (r === grouped ? r.rps / bareOn.rps : r === single ? r.rps / bareOff.rps : 1).toFixed(2);
    console.log('\n| server | req/s | p50 ms | p99 ms | server CPU ms/req | Postgres CPU ms/req | all Postgres ms/req | WAL bytes/req | nats-server CPU ms/req | load generator CPU ms/req | peak RSS MB | vs bare |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    const f = (x) => (x === undefined ? '—' : x.toFixed(3));
    for (const r of [bareOn, grouped, bareOff, single].filter(Boolean)) {
      console.log(`| ${r.name.trim()} | ${Math.round(r.rps)} | ${r.p50} | ${r.p99} | ${f(r.cpuPerReq)} | ${f(r.dbPerReq)} | ${f(r.pgAllPerReq)} | ${r.walPerReq === undefined ? '—' : Math.round(r.walPerReq)} | ${f(r.natsPerReq)} | ${f(r.genPerReq)} | ${r.rss ?? '—'} | ${ratio(r)}x |`);
    }

    // Every 302 the app answered must have its click row (committed before the answer).
    const { rows } = await c.query(`SELECT count(*)::int AS n FROM "tracking".clicks`);
    const answered = (grouped?.redirects ?? 0) + (single?.redirects ?? 0);
    const warmups = rows[0].n - answered;
    console.log(`\nclick rows: ${rows[0].n} for ${answered} measured redirects (+${warmups} from warm-ups)`);
    if (warmups < 0) throw new Error('fewer click rows than redirects answered: a click was lost');
    // Every click row was published exactly once, alone (ClickRecorded) or in a run (ClicksRecorded): each app flushed
    // its relay before it exited, the next one starting at the saved cursor; the stream deduplicates a republish by id.
    const t = await streamClicks(CLICKS_STREAM);
    console.log(
      `clicks in the stream: ${t.clicks} (${t.distinct} distinct) for ${rows[0].n} click rows, in ${t.read} of ${t.events} events: ` +
        `${t.singles} ClickRecorded, ${t.runs} ClicksRecorded runs (${((t.clicks - t.singles) / Math.max(1, t.runs)).toFixed(1)} clicks each)` +
        `${t.oversized + t.badIds + t.other ? `, ${t.oversized} runs of <2 or >${CLICKS_PER_RUN}, ${t.badIds} bad ids, ${t.other} other events` : ''}`,
    );
    if (t.clicks !== rows[0].n || t.distinct !== rows[0].n) throw new Error(`${rows[0].n} click rows but ${t.clicks} clicks (${t.distinct} distinct) carried in the stream`);
    if (t.read !== t.events || t.oversized || t.badIds || t.other) throw new Error(`clicks stream: ${JSON.stringify(t)}`);
    const missing = [grouped, single].filter((r) => r && r.other > 0);
    if (missing.length) throw new Error(`non-redirect answers: ${missing.map((r) => `${r.name.trim()}: ${r.other}`).join(', ')}`);
    // The results file holds both modes' targets: written only when both ran.
    if (grouped && single) emitClickResults(bareOn, grouped, bareOff, single);
    if (CPU_PROF) console.log(`CPU profiles in ${app.PROFILES}`);
  } finally {
    await c.end();
    await admin((a) => a.query(`DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`)).catch(() => undefined);
    await app.deleteStreams('BENCHCLICK_').catch(() => undefined);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

/** `--json=<path>`: the result in the common format of `npm run bench` (bench/lib/results.js). */
function emitClickResults(bareOn, grouped, bareOff, single) {
  const { metric, emitResults } = require('../../../bench/lib/results');
  emitResults({
    scenario: 'click',
    mode: QUICK ? 'quick' : 'full',
    config: { connections: CONNECTIONS, durationS: DURATION, slices: SLICES, pool: POOL_SIZE },
    metrics: [
      metric('click redirects/s, group commit on', grouped.rps, 'req/s', { baseline: bareOn.rps, target: { op: '>=', value: 1.5, of: 'ratio', text: '≥ 1.5× baseline (group commit)' } }),
      metric('click redirects/s, group commit off', single.rps, 'req/s', { baseline: bareOff.rps, target: { op: '>=', value: 0.6, of: 'ratio', text: '≥ 0.6× baseline (no batching)' } }),
      metric('click p99, group commit on', grouped.p99, 'ms', { baseline: bareOn.p99, target: { op: '<=', value: 50, of: 'value', text: `≤ 50 ms at ${CONNECTIONS} connections` } }),
      metric('click p50, group commit on', grouped.p50, 'ms', { baseline: bareOn.p50 }),
      metric('click CPU per request, group commit on', grouped.cpuPerReq, 'ms', { baseline: bareOn.cpuPerReq }),
      metric('tracking peak RSS under click load', Math.max(grouped.rss ?? 0, single.rss ?? 0), 'MB', { target: { op: '<', value: 300, of: 'value', text: '< 300 MB' } }),
    ],
    memory: { tracking: Math.max(grouped.rss ?? 0, single.rss ?? 0) },
    checks: [
      {
        check: 'every 302 has its click row, every click row its click in the stream exactly once (ClickRecorded, or decoded from ClicksRecorded runs); no other answers',
        value: 'checked',
        ok: true,
      },
    ],
  });
}
