#!/usr/bin/env node
'use strict';
/**
 * `npm run bench:ingest [-- --tiny|--quick] [-- --connections=64 --duration=S --slices=N --duplicates=0.2 --rate=R --cpu-prof --json=F]`
 *
 * Postbacks/s stored and evented by the real ingest app (built, child process, real Postgres + NATS, a partner
 * registered over gRPC with its token) at a fixed concurrency, against a bare node:http + pg server doing one
 * INSERT per request (the approach of apps/tracking/bench/bare-server.js), in the same run on the same database
 * server, the two in alternating slices (A B B A …, bench/lib/alternate.js) so that the machine's drift falls on
 * both. A share of the requests repeat an earlier conversion (a partner's retry). Afterwards it checks that every
 * conversion answered 200 has its row, that each stored conversion row is its event's source, published, and that
 * the stream holds the events.
 */
const path = require('node:path');
const { fork } = require('node:child_process');
const autocannon = require('autocannon');
const { parseArgs, modeOf, connect, freePort, printTable, NATS_URL, unpublishedAfter, printChecks } = require('./lib/common');
const { startApps, grpcClient, requireDist } = require('./lib/platform');
const { metric, emitResults } = require('./lib/results');
const { runScenario } = require('./lib/scenario');
const { sliced, alternate } = require('./lib/alternate');
const clickBench = require('../apps/tracking/bench/bench-app');

const args = parseArgs();
const MODE = modeOf(args);
const DURATION = Number(args.duration ?? { tiny: 2, quick: 5, full: 15 }[MODE]);
const WARMUP = Number(args.warmup ?? { tiny: 1, quick: 2, full: 3 }[MODE]);
// Each server measured in SLICES slices of DURATION/SLICES seconds, the two alternating (A B B A …).
const SLICES = Number(args.slices ?? { tiny: 1, quick: 2, full: 5 }[MODE]);
const CONNECTIONS = Number(args.connections ?? 64);
const DUPLICATES = Number(args.duplicates ?? 0.2);
// A fixed request rate (autocannon's overallRate) instead of as fast as the connections go: CPU per postback below
// saturation, where the processes do not preempt one another (for comparing two builds' costs).
const RATE = args.rate === undefined ? undefined : Number(args.rate);
const POOL_SIZE = Number(args.pool ?? 10);
const DB = 'trackly_bench_ingest';
const PREFIX = 'benchingest';
const PARTNER = 'bench-net';

/**
 * A server's load, in slices: fixed concurrency; each request a new conversion, or (DUPLICATES of the time) a repeat of
 * an earlier one. The request count and the answers carry on across the server's slices, as in one run.
 */
function loader(baseUrl, token, runTag) {
  let n = 0;
  const state = { answered: new Set(), other: 0, stored: 0, duplicates: 0 };
  const payout = (i) => `${1 + (i % 500)}.${String(i % 100).padStart(2, '0')}`;
  // Deterministic mix: every 5th request (for 0.2) repeats a conversion sent a little earlier.
  const every = DUPLICATES > 0 ? Math.round(1 / DUPLICATES) : 0;
  state.run = (seconds) =>
    autocannon({
      url: baseUrl,
      connections: CONNECTIONS,
      duration: seconds,
      ...(RATE ? { overallRate: RATE } : {}),
      skipAggregateResult: true,
      requests: [
        {
          method: 'GET',
          setupRequest: (req, context) => {
            const dup = n > 100 && every > 0 && n % every === 0;
            // The request ~50 back that sent its own conversion (one that repeated another sent none of its own).
            let i = n;
            if (dup) for (i = n - 50; every > 1 && i % every === 0; i--);
            n++;
            context.id = `${runTag}-${i}`;
            const q = `token=${token}&click_id=clk${i}&conversion_id=${context.id}&payout=${payout(i)}&currency=USD`;
            return { ...req, path: `/postbacks/${PARTNER}?${q}` };
          },
          onResponse: (status, body, context) => {
            if (status === 200) {
              state.answered.add(context.id);
              if (body?.includes('"status":"duplicate"')) state.duplicates++;
              else if (body?.includes('"status":"stored"')) state.stored++;
            } else state.other++;
          },
        },
      ],
    });
  return state;
}

/** A running server measured in slices (bench/lib/alternate.js): each slice's load, and what it cost (as the click bench reports it). */
function ingestServer(name, baseUrl, token, label, pid, c, dbName) {
  const loads = loader(baseUrl, token, label);
  return { server: sliced(name, { run: loads.run, ...clickBench.sliceCosts(c, dbName, pid) }), loads, label };
}

/** A server's slices as one run, printed; its answered conversions join the run's for the checks. */
function report({ server, loads, label }) {
  const r = server.combined();
  const total = r.result['2xx'];
  const per = (seconds) => (seconds === undefined ? undefined : (seconds * 1000) / Math.max(1, total));
  const out = {
    name: server.name,
    rps: r.rps,
    p50: r.p50,
    p99: r.p99,
    total,
    other: loads.other + r.result.errors + r.result.timeouts + r.result.non2xx,
    answered: loads.answered,
    stored: loads.stored,
    duplicates: loads.duplicates,
    // Server CPU per answered postback: what a request costs, less sensitive than req/s to a shared, loaded machine.
    cpuMs: per(r.cpu),
    dbMs: per(r.db),
    pgMs: per(r.pg),
    natsMs: per(r.nats),
    genMs: per(r.gen),
    walBytes: r.wal / Math.max(1, total),
  };
  loads.answered.forEach((id) => allAnswered[label].add(id));
  console.log(
    `  ${out.name}: ${Math.round(out.rps)} postbacks/s over ${r.slices} slices (${r.seconds.toFixed(1)} s), p50 ${out.p50} ms, p99 ${out.p99} ms (${total} answered 200, ${out.other} other` +
      `${out.cpuMs === undefined ? '' : `, ${out.cpuMs.toFixed(3)} ms server CPU per postback`} + ${out.dbMs.toFixed(3)} ms in its Postgres backends` +
      ` (${out.pgMs.toFixed(3)} ms all Postgres processes)${out.natsMs === undefined ? '' : ` + ${out.natsMs.toFixed(3)} ms in nats-server`}; the load generator ${out.genMs.toFixed(3)} ms)`,
  );
  return out;
}
const allAnswered = { bare: new Set(), app: new Set() };

async function startBare(databaseUrl) {
  const port = await freePort();
  const child = fork(path.join(__dirname, 'lib/bare-postback-server.js'), [], {
    env: { ...process.env, DATABASE_URL: databaseUrl, PORT: String(port), POOL_SIZE: String(POOL_SIZE) },
    stdio: 'inherit',
  });
  await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (c) => reject(new Error(`bare server exited ${c}`)));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

/** Conversion rows not yet published by their table relay (behind its cursor), after waiting up to timeoutMs. */
async function relayBehindAfter(c, timeoutMs, intervalMs) {
  let n = -1;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    n = (await c.query(`SELECT count(*)::int AS n FROM "ingest".conversions t LEFT JOIN "ingest".table_relay_cursors c ON c.relay = 'conversions'
      WHERE t.xid IS NOT NULL AND (c.relay IS NULL OR (t.xid, t.seq) > (c.xid, c.seq))`)).rows[0].n;
    if (n === 0) break;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return n;
}

/** Rows of answered ids missing from a table: the lost ones. */
async function missing(c, ids, table, column) {
  const { rows } = await c.query(`SELECT count(*)::int AS n FROM unnest($1::text[]) AS a(id) WHERE NOT EXISTS (SELECT 1 FROM ${table} t WHERE t.${column} = a.id)`, [[...ids]]);
  return rows[0].n;
}

/**
 * Reads the bench's ingest stream (one ordered consumer) and tallies the conversions its events carry: a
 * ConversionReceived's conversion (Nats-Msg-Id = its row id) and each of a ConversionsReceived run (Nats-Msg-Id =
 * "conversion-run:" + the sha256 of its row ids, each followed by "\n"). Decoded with the built contracts.
 */
async function streamConversions() {
  const { connect: natsConnect } = require('@nats-io/transport-node');
  const { jetstream, jetstreamManager } = require('@nats-io/jetstream');
  const { createHash } = require('node:crypto');
  const { ConversionReceived, ConversionsReceived } = requireDist('libs/contracts/src/gen/trackly/ingest/v1/ingest_events');
  const runId = (ids) => `conversion-run:${createHash('sha256').update(ids.map((id) => `${id}\n`).join('')).digest('base64url')}`;
  const single = `${PREFIX}.trackly.ingest.v1.ConversionReceived`;
  const runs = `${PREFIX}.trackly.ingest.v1.ConversionsReceived`;
  const t = { events: 0, singles: 0, runs: 0, conversions: 0, distinct: 0, badIds: 0 };
  const nc = await natsConnect({ servers: NATS_URL });
  try {
    const jsm = await jetstreamManager(nc);
    let stream;
    for await (const s of jsm.streams.list()) if (s.config.subjects.includes(`${PREFIX}.trackly.ingest.v1.>`)) stream = s;
    if (!stream) return t;
    const consumer = await jetstream(nc).consumers.get(stream.config.name);
    const seen = new Set();
    let read = 0;
    for (const end = Date.now() + 60_000; read < stream.state.messages && Date.now() < end; ) {
      for await (const m of await consumer.fetch({ max_messages: 1000, expires: 2000 })) {
        read++;
        const msgId = m.headers?.get('Nats-Msg-Id') ?? '';
        let ids = [];
        if (m.subject === single) {
          t.singles++;
          ids = [ConversionReceived.decode(m.data).conversion?.id ?? ''];
          if (msgId !== ids[0]) t.badIds++;
        } else if (m.subject === runs) {
          t.runs++;
          ids = ConversionsReceived.decode(m.data).conversions.map((c) => c.id);
          if (msgId !== runId(ids)) t.badIds++;
        }
        t.conversions += ids.length;
        for (const id of ids) seen.add(id);
        if (m.info.pending === 0) break;
      }
    }
    t.events = t.singles + t.runs;
    t.distinct = seen.size;
    return t;
  } finally {
    await nc.close();
  }
}

runScenario(args, { db: DB, prefix: PREFIX }, async ({ databaseUrl, onCleanup }) => {
  const c = await connect(databaseUrl);
  const notes = [];
  let platform;
  onCleanup(async () => {
    await platform?.stop();
    await c.end();
  });
  await c.query(`CREATE SCHEMA bench_bare`);
  await c.query(`CREATE TABLE bench_bare.postbacks (partner_id text NOT NULL, conversion_id text NOT NULL, click_id text NOT NULL,
    payout text NOT NULL, currency text NOT NULL, received_at timestamptz NOT NULL, raw text NOT NULL, PRIMARY KEY (partner_id, conversion_id))`);
  console.log(`ingest bench (${MODE}): ${CONNECTIONS} connections, ${DURATION} s per server in ${SLICES} alternating slices (+${WARMUP} s warm-up), ${Math.round(DUPLICATES * 100)}% duplicates, pool ${POOL_SIZE}`);

  const dbName = new URL(databaseUrl).pathname.slice(1);
  const bareServer = await startBare(databaseUrl);
  onCleanup(() => new Promise((r) => {
    if (bareServer.child.exitCode !== null) return r();
    bareServer.child.once('exit', r);
    bareServer.child.kill('SIGTERM');
  }));
  platform = await startApps(['ingest'], {
    databaseUrl, prefix: PREFIX, cpuProf: args['cpu-prof'] === 'true', label: 'ingest', env: { DATABASE_POOL_SIZE: String(POOL_SIZE) },
  });
  const { IngestServiceService } = requireDist('libs/contracts/src/gen/trackly/ingest/v1/ingest_service');
  const { PartnerKind } = requireDist('libs/contracts/src/gen/trackly/ingest/v1/ingest');
  const ingest = grpcClient(IngestServiceService, platform.ingestGrpc);
  const { token } = await ingest.upsertPartner({
    partnerId: PARTNER, name: 'Bench network', kind: PartnerKind.PARTNER_KIND_GENERIC, clickIdParam: '', defaultCurrency: 'USD', allowedSources: [],
  });
  ingest.close();
  const bareS = ingestServer('bare node:http + pg, one INSERT per request', bareServer.url, 'x', 'bare', bareServer.child.pid, c, dbName);
  const appS = ingestServer('ingest app (archive + conversion + event)', platform.ingestHttp, token, 'app', platform.pids.ingest, c, dbName);
  // Both warmed up, then measured in alternating slices, so that the machine's drift falls on both (bench/lib/alternate.js).
  for (const s of [bareS, appS]) {
    const warm = loader(s === bareS ? bareServer.url : platform.ingestHttp, s === bareS ? 'x' : token, `${s.label}-warm`);
    await warm.run(WARMUP);
    warm.answered.forEach((id) => allAnswered[s.label].add(id));
  }
  // After an app slice, its relay catches up (untimed) before the bare server's next slice.
  await alternate(bareS.server, appS.server, { slices: SLICES, seconds: Math.max(1, Math.round(DURATION / SLICES)), settle: (s) => (s === appS.server ? relayBehindAfter(c, 60_000, 50) : undefined) });
  const bare = report(bareS);
  const app = report(appS);

  // Correctness: answered 200 => stored (or a duplicate of a stored one); stored => its row an event source => published => in the stream.
  const lostBare = await missing(c, allAnswered.bare, 'bench_bare.postbacks', 'conversion_id');
  const lostApp = await missing(c, allAnswered.app, '"ingest".conversions', 'conversion_id');
  // The archive's conversion_ref has no foreign key (ingest migration 1766000000001): it must hold by construction.
  const dangling = Number((await c.query(`SELECT count(*) AS n FROM "ingest".postback_requests a
    WHERE a.conversion_ref IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "ingest".conversions c WHERE c.id = a.conversion_ref)`)).rows[0].n);
  const archived = Number((await c.query(`SELECT count(*) AS n FROM "ingest".postback_requests WHERE conversion_ref IS NOT NULL`)).rows[0].n);
  // A conversion row is the source of its ConversionReceived (xid and the encoded event on the row; no outbox row).
  const { rows: [counts] } = await c.query(`SELECT (SELECT count(*)::int FROM "ingest".conversions) AS conversions,
    (SELECT count(*)::int FROM "ingest".conversions WHERE xid IS NOT NULL AND received_event IS NOT NULL) AS sources,
    (SELECT count(*)::int FROM "ingest".outbox WHERE subject = 'trackly.ingest.v1.ConversionReceived') AS outbox`);
  const unpublished = (await unpublishedAfter(c, 'ingest', 60_000, 250)) + (await relayBehindAfter(c, 60_000, 250));
  const inStream = await streamConversions();
  const memory = await platform.stop();
  platform = undefined;
  const checks = [
    { check: 'answered 200, no row (bare)', value: lostBare, ok: lostBare === 0 },
    { check: 'answered 200, no row (ingest)', value: lostApp, ok: lostApp === 0 },
    { check: 'archive rows naming a conversion / naming one that does not exist (ingest)', value: `${archived} / ${dangling}`, ok: dangling === 0 && archived > 0 },
    // Requests still in flight when the load stops are stored but not counted as answered: rows >= answered.
    { check: 'distinct conversions answered 200 / rows', value: `${allAnswered.app.size} / ${counts.conversions}`, ok: counts.conversions >= allAnswered.app.size },
    // Each stored conversion is its own event's source, and none has an outbox ConversionReceived besides.
    { check: 'conversion rows that are their ConversionReceived source (one event each)', value: `${counts.sources} (+${counts.outbox} outbox)`, ok: counts.sources === counts.conversions && counts.outbox === 0 },
    { check: 'events unpublished after the run (outbox rows, conversion rows behind the relay)', value: unpublished, ok: unpublished === 0 },
    // Each stored conversion exactly once on the stream, alone (ConversionReceived) or in a ConversionsReceived run.
    {
      check: 'conversions in the stream (each once, alone or in runs; event ids as the relay makes them)',
      value: `${inStream.distinct} of ${counts.conversions} in ${inStream.singles} ConversionReceived + ${inStream.runs} ConversionsReceived (${inStream.conversions} carried, ${inStream.badIds} bad ids)`,
      ok: inStream.distinct === counts.conversions && inStream.conversions === counts.conversions && inStream.badIds === 0,
    },
    { check: 'non-200 answers (ingest)', value: app.other, ok: app.other === 0 },
    ...[bare, app].map((r) => ({
      // No conversion answered 'stored' twice, every other 200 'duplicate', and the mix's repeats are real ones. (A
      // conversion's 'stored' answer can be cut off by the run's end while its repeat's got through: hence ≤.)
      check: `200s answered 'stored' + 'duplicate' (${r === app ? 'ingest' : 'bare'}, measured run); 'stored' ≤ distinct conversions`,
      value: `${r.stored} + ${r.duplicates} of ${r.total}; ${r.stored} ≤ ${r.answered.size}`,
      ok: r.stored + r.duplicates === r.total && r.stored <= r.answered.size && (DUPLICATES === 0 || r.duplicates > 0),
    })),
  ];
  console.log('');
  printTable([bare, app].map((r) => ({ server: r.name, 'postbacks/s': Math.round(r.rps), 'p50 ms': r.p50, 'p99 ms': r.p99, 'CPU ms/postback': r.cpuMs?.toFixed(2), 'Postgres backends ms': r.dbMs.toFixed(3), 'all Postgres ms': r.pgMs.toFixed(3), 'nats-server ms': r.natsMs?.toFixed(3), 'load generator ms': r.genMs.toFixed(3), 'WAL bytes': Math.round(r.walBytes), 'vs bare': `${(r.rps / bare.rps).toFixed(2)}x` })));
  console.log('');
  notes.push('ingest with group commit on (INGEST_GROUP_COMMIT, the default): a batch of concurrent postbacks is one transaction: one statement for the raw archive rows, conversions (each the source of its ConversionReceived, published by a table relay) and refusals, with same-content repeats decided and archived by the statement itself, sent with BEGIN and COMMIT in one round trip (a batch with an adjustment takes the locked path; one by one when a batch fails); each answer waits for its commit.');
  const ok = printChecks(checks, memory);
  emitResults({
    scenario: 'ingest',
    mode: MODE,
    ok,
    config: { connections: CONNECTIONS, durationS: DURATION, slices: SLICES, duplicates: DUPLICATES, pool: POOL_SIZE },
    metrics: [
      metric('ingest postbacks/s (stored + evented, 20% duplicates)', app.rps, 'req/s', { baseline: bare.rps, target: { op: '>=', value: 1.0, of: 'ratio', text: '≥ 1.0× baseline (with batching)' } }),
      metric('ingest p50', app.p50, 'ms', { baseline: bare.p50 }),
      metric('ingest p99', app.p99, 'ms', { baseline: bare.p99 }),
      ...(app.cpuMs === undefined ? [] : [metric('ingest server CPU per postback', app.cpuMs, 'ms', { baseline: bare.cpuMs, target: { op: '<=', value: 0.3, text: '≤ 0.3 ms' } })]),
      metric('ingest Postgres backends CPU per postback', app.dbMs, 'ms', { baseline: bare.dbMs }),
    ],
    checks,
    memory,
    notes,
  });
  if (!ok) process.exitCode = 1;
});
