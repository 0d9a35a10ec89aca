#!/usr/bin/env node
'use strict';
/**
 * `npm run bench:backlog [-- --tiny|--quick] [-- --conversions=200000 --rate=200 --cpu-prof --json=F]`
 *
 * Attribution draining a backlog of live conversions: seeds attribution's own projections directly (one human click
 * per conversion, ten offers with 30-day windows), starts the built attribution app once (it creates the streams and
 * its durable consumers) and stops it, publishes the backlog of ConversionReceived events to ingest's stream as
 * ingest would (5% of them a second time under another event id, 2% twins: another conversion id for the same sale),
 * then starts attribution again and measures how fast its consumer decides them: decisions/s between the first and
 * the last decision (decided_at), the wall time from the start of the process, and the CPU each decision costs
 * (the attribution process, and the Postgres backends serving this bench's database, from the app being ready until
 * every event is published; decisions made before ready are left out of the count). CPU is the steadier figure on a
 * shared machine: other jobs slow the rate, they do not add to this process's CPU. Checks: one decision per
 * conversion, the twins DUPLICATE, nothing parked, one outbox event per decision, all published.
 *
 * `--rate=R` measures live traffic instead of a backlog: attribution is running, the same events are published at R
 * per second (quick: 2,000 conversions), so its consumer decides them a few at a time as postbacks come, and the
 * figure is the CPU per decision (each process's idle CPU rate, measured for 3 s before, taken off), the cost the
 * blast's "CPU per conversion" charges to attribution, on enough conversions to be steady.
 */
const fs = require('node:fs');
const { parseArgs, modeOf, connect, sleep, printTable, NATS_URL, unpublishedAfter, printChecks } = require('./lib/common');
const { startApps, requireDist, migrate } = require('./lib/platform');
const { metric, emitResults } = require('./lib/results');
const { runScenario } = require('./lib/scenario');

const args = parseArgs();
const MODE = modeOf(args);
const RATE = Number(args.rate ?? 0); // live traffic at this many conversions/s; 0 = a backlog
const N = Number(args.conversions ?? (RATE ? { tiny: 200, quick: 2_000, full: 20_000 } : { tiny: 1_000, quick: 20_000, full: 200_000 })[MODE]);
const OFFERS = 10;
const DB = 'trackly_bench_backlog';
const PREFIX = 'benchbacklog';
const BASE = '2026-01-01T00:00:00Z'; // click i at BASE + i seconds, conversion i an hour later

/** User + system CPU seconds a process has used so far, from /proc (Linux); 0 once it is gone. */
function cpuSeconds(pid) {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return 0;
  }
}

/** CPU seconds so far of each Postgres backend connected to this bench's database, by pid. */
function backendCpu() {
  const out = new Map();
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let cmd;
    try {
      cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmd.startsWith('postgres: ') && cmd.includes(` ${DB} `)) out.set(pid, cpuSeconds(pid));
  }
  return out;
}

/** CPU of the app and of the database's backends since `from` (a snapshot of `cpuNow`), in ms. */
const cpuNow = (pid) => ({ app: cpuSeconds(pid), pg: backendCpu() });
const cpuSince = (pid, from) => ({
  app: (cpuSeconds(pid) - from.app) * 1000,
  pg: [...backendCpu()].reduce((sum, [id, cpu]) => sum + cpu - (from.pg.get(id) ?? 0), 0) * 1000,
});

runScenario(args, { db: DB, prefix: PREFIX }, async ({ databaseUrl, onCleanup }) => {
  const c = await connect(databaseUrl);
  let platform;
  let nc;
  onCleanup(async () => {
    await platform?.stop();
    await nc?.close();
    await c.end();
  });
  migrate('attribution', databaseUrl);
  const clickedAt = (i) => `(timestamptz '${BASE}' + (${i}) * interval '1 second')`;
  await c.query(`INSERT INTO "attribution".offers (offer_id, click_window_days, updated_at) SELECT 'off-' || o, 30, now() FROM generate_series(0, ${OFFERS - 1}) o`);
  await c.query(`INSERT INTO "attribution".clicks (click_id, message_id, contact_id, offer_id, campaign_id, creative_id, clicked_at, first_click_on_message, click_class)
    SELECT 'k' || i, 'm' || i, 'c' || i, 'off-' || (i % ${OFFERS}), 'camp-' || (i % 50), 'cr-' || (i % 400), ${clickedAt('i')}, true, 'HUMAN'
    FROM generate_series(1, ${N}) i`);
  await c.query('ANALYZE');

  // First start: streams and durable consumers exist; then the backlog builds while attribution is down.
  platform = await startApps(['attribution'], { databaseUrl, prefix: PREFIX, label: 'backlog-setup' });
  await platform.stop();
  platform = undefined;

  const { connect: natsConnect } = require('@nats-io/transport-node');
  const { jetstream } = require('@nats-io/jetstream');
  const { ConversionReceived } = requireDist('libs/contracts/src/gen/trackly/ingest/v1/ingest_events');
  nc = await natsConnect({ servers: NATS_URL });
  const js = jetstream(nc);
  const subject = `${PREFIX}.trackly.ingest.v1.ConversionReceived`;
  const base = new Date(BASE).getTime();
  const conversion = (id, i) => ({
    id: `ref-${id}`, partnerId: 'bench', conversionId: id, clickId: `k${i}`, messageId: '',
    payout: { currencyCode: 'USD', amountMicros: String(1_000_000 + (i % 50) * 10_000) }, status: 1,
    occurredAt: new Date(base + i * 1000 + 3_600_000), receivedAt: new Date(base + i * 1000 + 3_600_000),
    attributionState: 0, attributionReason: '', creditedMessageId: '',
  });
  const events = [];
  let twins = 0;
  for (let i = 1; i <= N; i++) {
    const data = ConversionReceived.encode({ conversion: conversion(`o${i}`, i) }).finish();
    events.push([data, `e${i}`]);
    if (i % 20 === 0) events.push([data, `e${i}-again`]); // 5%: the same conversion under another event id
    if (i % 50 === 0) {
      twins++; // 2%: the same sale under another dedupe key, same second and payout
      events.push([ConversionReceived.encode({ conversion: conversion(`t${i}`, i) }).finish(), `t${i}`]);
    }
  }
  const publish = (batch) => Promise.all(batch.map(([data, msgID]) => js.publish(subject, data, { msgID })));
  const start = () => startApps(['attribution'], { databaseUrl, prefix: PREFIX, cpuProf: args['cpu-prof'] === 'true', label: 'backlog' });

  const expected = N + twins;
  let t0;
  let cpu0;
  let decidedAtReady = 0;
  let idle = { app: 0, pg: 0 }; // CPU ms per s of the processes with nothing to do
  if (!RATE) {
    const tp = Date.now();
    for (let k = 0; k < events.length; k += 1000) await publish(events.slice(k, k + 1000));
    console.log(`backlog bench (${MODE}): ${events.length} ConversionReceived published in ${((Date.now() - tp) / 1000).toFixed(1)} s (${N} conversions, ${twins} twins)`);
    t0 = Date.now();
    platform = await start();
    cpu0 = cpuNow(platform.pids.attribution);
    decidedAtReady = (await c.query(`SELECT count(*)::int AS n FROM "attribution".decisions`)).rows[0].n;
  } else {
    platform = await start();
    await sleep(2000); // start-up work (first pulls, relay's first pass) out of the idle sample
    const i0 = cpuNow(platform.pids.attribution);
    const ti = Date.now();
    await sleep(3000);
    const used = cpuSince(platform.pids.attribution, i0);
    const s = (Date.now() - ti) / 1000;
    idle = { app: used.app / s, pg: used.pg / s };
    t0 = Date.now();
    cpu0 = cpuNow(platform.pids.attribution);
    // Live: every 10 ms, what is due by then, in order.
    for (let sent = 0; sent < events.length; ) {
      const due = Math.min(events.length, Math.ceil((((Date.now() - t0) / 1000) * RATE * events.length) / N));
      if (due > sent) await publish(events.slice(sent, due));
      sent = Math.max(sent, due);
      await sleep(10);
    }
    console.log(`live bench (${MODE}): ${events.length} ConversionReceived published at ${RATE} conversions/s in ${((Date.now() - t0) / 1000).toFixed(1)} s (${N} conversions, ${twins} twins)`);
  }
  const appPid = platform.pids.attribution;
  let decided = 0;
  const deadline = Date.now() + Math.max(120_000, N * 20);
  while (Date.now() < deadline) {
    decided = (await c.query(`SELECT count(*)::int AS n FROM "attribution".decisions`)).rows[0].n;
    if (decided >= expected) break;
    await sleep(200);
  }
  const wall = (Date.now() - t0) / 1000;
  const unpublished = await unpublishedAfter(c, 'attribution', 120_000, 100);
  const spent = cpuSince(appPid, cpu0);
  const spanS = (Date.now() - t0) / 1000;
  const appCpuMs = Math.max(0, spent.app - idle.app * spanS);
  const pgCpuMs = Math.max(0, spent.pg - idle.pg * spanS);
  const measured = Math.max(1, decided - decidedAtReady);
  const { rows: [s] } = await c.query(`SELECT
      (SELECT count(*)::int FROM "attribution".decisions WHERE outcome = 'ATTRIBUTED') AS credited,
      (SELECT count(*)::int FROM "attribution".decisions WHERE reason = 'DUPLICATE') AS duplicates,
      (SELECT count(*)::int FROM "attribution".parked_conversions) AS parked,
      (SELECT count(*)::int FROM "attribution".outbox) AS outbox,
      (SELECT extract(epoch FROM max(decided_at) - min(decided_at))::float FROM "attribution".decisions) AS span`);
  const memory = await platform.stop();
  platform = undefined;

  const rate = decided / Math.max(s.span, 0.001);
  const checks = [
    { check: 'one decision per conversion', value: `${decided} / ${expected}`, ok: decided === expected },
    { check: 'twins DUPLICATE, the rest credited', value: `${s.duplicates} / ${twins}, ${s.credited} / ${N}`, ok: s.duplicates === twins && s.credited === N },
    { check: 'nothing parked', value: s.parked, ok: s.parked === 0 },
    { check: 'outbox events / unpublished', value: `${s.outbox} / ${unpublished}`, ok: s.outbox === expected && unpublished === 0 },
  ];
  console.log('');
  printTable([{
    conversions: N, events: events.length, 'decided in s': s.span.toFixed(1), 'decisions/s': rate.toFixed(0), [RATE ? 'wall from first publish s' : 'wall from start s']: wall.toFixed(1),
    'CPU ms/decision (app)': (appCpuMs / measured).toFixed(3), 'CPU ms/decision (Postgres)': (pgCpuMs / measured).toFixed(3),
  }]);
  console.log('');
  const ok = printChecks(checks, memory);
  emitResults({
    scenario: RATE ? 'backlog-live' : 'backlog',
    mode: MODE,
    ok,
    config: { conversions: N, events: events.length, twins, rate: RATE || undefined },
    metrics: RATE
      ? [
        metric(`attribution process CPU per decision, live at ${RATE}/s (consumer and relay, idle rate taken off)`, appCpuMs / measured, 'ms'),
        metric(`Postgres CPU per decision, live at ${RATE}/s (backends of the bench database, idle rate taken off)`, pgCpuMs / measured, 'ms'),
        metric(`${events.length} events at ${RATE}/s, all decided and published, from the first publish`, wall, 's'),
      ]
      : [
        metric('backlog decision rate (first to last decision)', rate, 'decisions/s'),
        metric(`backlog of ${events.length} events decided, wall from process start`, wall, 's'),
        metric('attribution process CPU per decision (consumer and relay, from ready until all published)', appCpuMs / measured, 'ms'),
        metric('Postgres CPU per decision (backends of the bench database, same span)', pgCpuMs / measured, 'ms'),
      ],
    checks,
    memory,
    notes: [
      'Rate = decisions / (last decided_at - first decided_at); the wall time adds process start and the first pull.',
      RATE
        ? `CPU per decision: from the first publish until every outbox row was published, minus each side's idle rate (app ${idle.app.toFixed(1)}, Postgres ${idle.pg.toFixed(1)} ms/s, measured for 3 s before), over the ${measured} decisions; Postgres includes this bench's own count queries (one every 200 ms).`
        : `CPU per decision: over the ${measured} decisions made after the app was ready (${decidedAtReady} before), until every outbox row was published; Postgres includes this bench's own count queries (one every 200 ms).`,
    ],
  });
  if (!ok) process.exitCode = 1;
});
