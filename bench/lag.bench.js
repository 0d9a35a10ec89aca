#!/usr/bin/env node
'use strict';
/**
 * `npm run bench:lag [-- --tiny|--quick] [-- --rate=500 --duration=60 --groups=500 --drain=900 --cpu-prof --json=F]`
 * Diagnosis: `--probe` (a per-app probe of loop delay, GC, run-queue wait, pulls and relay passes; off by default, as
 * it costs each app CPU and so moves the figure it explains), `--consumer-debug` (the consumers' debug lines, e.g. a pull that missed
 * its heartbeats), `--checkpoint-at=20,40` (an immediate CHECKPOINT at those seconds), `--pg-log=F` (the server log
 * read for checkpoint times; Debian's by default).
 *
 * End-to-end lag with all five apps as child processes: messages registered over tracking gRPC, one real click per
 * message on the click edge (a phone browser, minutes after the send, so it classifies HUMAN), a partner registered
 * with ingest, then a steady `rate` postbacks/s for `duration` s naming those clicks. Each message has its own
 * creative, so each conversion lands in one creative's row of the performance report; a poller reads the report
 * from the gateway over HTTP back to back. A conversion counts as shown when its creative's conversion count
 * covers it (conversions of a creative are taken in the order their 200s came back); its lag is the poll answer's
 * arrival minus its 200's. No internal timestamp is used. At the end every creative's revenue must equal, to the
 * micro, the payouts answered 200 for it.
 */
const { parseArgs, modeOf, percentile, sleep, printTable, IPHONE, keepAliveGet, pool, printChecks, connect, NATS_URL } = require('./lib/common');
const { startApps, trackingAndIngest, requireDist } = require('./lib/platform');
const { metric, emitResults } = require('./lib/results');
const { runScenario } = require('./lib/scenario');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const args = parseArgs();
const MODE = modeOf(args);
const RATE = Number(args.rate ?? { tiny: 20, quick: 200, full: 500 }[MODE]);
const DURATION = Number(args.duration ?? { tiny: 3, quick: 20, full: 60 }[MODE]);
const GROUPS = Number(args.groups ?? { tiny: 20, quick: 200, full: 500 }[MODE]);
/** How long after the last 200 the report may take to show everything before the run counts as lossy. */
const DRAIN = Number(args.drain ?? { tiny: 60, quick: 300, full: 900 }[MODE]);
const DB = 'trackly_bench_lag';
const PREFIX = 'benchlag';
const PARTNER = 'lag-net';

const get = keepAliveGet(128);

const micros = (k) => 1_000_000n + BigInt(k) * 10_000n; // $1.00 + k cents: every conversion its own amount
const amount = (m) => `${m / 1_000_000n}.${String(m % 1_000_000n).padStart(6, '0')}`;

runScenario(args, { db: DB, prefix: PREFIX }, async ({ databaseUrl, onCleanup }) => {
  let platform;
  onCleanup(async () => {
    await platform?.stop();
  });
  // Each app writes its event-loop delay, GC pauses, CPU and run-queue wait every 100 ms (bench/lib/loop-probe.js),
  // so a stall in the lag can be put down to a hop and a cause (--probe; off by default, it costs the apps CPU).
  const probeDir = args.probe !== 'true' ? undefined : fs.mkdtempSync(path.join(os.tmpdir(), 'lag-probe-'));
  const probeEnv = probeDir
    ? { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${path.join(__dirname, 'lib/loop-probe.js')}`.trim(), LAG_PROBE_DIR: probeDir }
    : {};
  onCleanup(async () => {
    if (probeDir) fs.rmSync(probeDir, { recursive: true, force: true });
  });
  platform = await startApps(['tracking', 'ingest', 'attribution', 'reporting', 'gateway'], {
    databaseUrl, prefix: PREFIX, cpuProf: args['cpu-prof'] === 'true', label: 'lag',
    // --consumer-debug: the consumers' debug lines (a pull that missed its heartbeats and was made again) in the output.
    env: { ...probeEnv, ...(args['consumer-debug'] === 'true' ? { attribution: { LOG_LEVEL: 'debug' }, reporting: { LOG_LEVEL: 'debug' } } : {}) },
  });
  const { tracking, ingest, PartnerKind } = trackingAndIngest(platform);

  console.log(`e2e lag bench (${MODE}): ${RATE} postbacks/s for ${DURATION} s over ${GROUPS} messages/creatives`);
  const tSeed = Date.now();
  await tracking.upsertCampaign({ campaignId: 'lag-camp', name: 'Lag bench' });
  await tracking.upsertOffer({
    offerId: 'lag-offer', name: 'Lag offer', destinationUrlTemplate: 'https://shop.example/land?cid={click_id}', defaultPayout: { currencyCode: 'USD', amountMicros: '1000000' },
  });
  const groups = Array.from({ length: GROUPS }, (_, g) => `lag-cr-${g}`);
  await pool(groups, 8, (id) => tracking.upsertCreative({ creativeId: id, name: id }));
  // Sent ten minutes ago: a tap seconds after the send can be a link preview; these are people.
  const sentAt = new Date(Date.now() - 10 * 60_000);
  const links = [];
  for (let i = 0; i < GROUPS; i += 200) {
    const { messages } = await tracking.registerMessages({
      messages: groups.slice(i, i + 200).map((creativeId, j) => ({
        messageId: `lag-m-${i + j}`, contactId: `lag-c-${i + j}`, phoneE164: `+1555${String(1000000 + i + j).slice(-7)}`,
        campaignId: 'lag-camp', creativeId, offerId: 'lag-offer', sentAt,
      })),
    });
    links.push(...messages.map((m) => m.trackedUrl));
  }
  const clicks = new Array(GROUPS);
  await pool(links, 16, async (url, g) => {
    const res = await get(url, { 'user-agent': IPHONE, 'accept-language': 'en-US,en;q=0.9' });
    if (res.status !== 302) throw new Error(`click on ${url} answered ${res.status}`);
    clicks[g] = new URL(res.headers.location).searchParams.get('cid');
  });
  const { token } = await ingest.upsertPartner({
    partnerId: PARTNER, name: 'Lag network', kind: PartnerKind.PARTNER_KIND_GENERIC, clickIdParam: '', defaultCurrency: 'USD', allowedSources: [],
  });
  tracking.close();
  ingest.close();

  const now = new Date();
  const day = (d) => d.toISOString().slice(0, 10);
  const reportUrl = `${platform.gatewayHttp}/api/reports/performance?group_by=creative&from=${day(new Date(now.getTime() - 86_400_000))}&to=${day(new Date(now.getTime() + 86_400_000))}&tz=UTC`;
  const auth = {};
  // Clicks reach reporting and attribution as events: wait until the report shows every click.
  const clickDeadline = Date.now() + Number(args['click-wait'] ?? 60) * 1000;
  for (;;) {
    const r = await get(reportUrl, auth);
    const rows = r.status === 200 ? JSON.parse(r.body).rows ?? [] : [];
    const clicked = rows.filter((x) => Number(x.clicks ?? 0) >= 1).length;
    if (clicked >= GROUPS) break;
    if (Date.now() > clickDeadline) throw new Error(`only ${clicked}/${GROUPS} clicks reached the report in 60 s: ${r.status} ${r.body.slice(0, 500)}`);
    await sleep(250);
  }
  console.log(`seeded ${GROUPS} messages and clicks in ${((Date.now() - tSeed) / 1000).toFixed(1)} s`);

  // Per creative: its conversions in the order their 200s came back, and how many the report has shown.
  const answered = groups.map(() => []);
  const shownCount = new Array(GROUPS).fill(0);
  const expectedMicros = new Array(GROUPS).fill(0n);
  const lags = [];
  /** [ms after the first send of the 200, lag] of each conversion shown: when in the run the lag grew. */
  const timeline = [];
  let non200 = 0;
  /** Answers other than 200 stored, by status and body (or client error). */
  const refusals = new Map();
  let inFlight = 0;
  let sent = 0;
  let maxInFlight = 0;
  let lastAnswerAt = 0;
  let lastShownAt = 0;
  let polls = 0;
  let pollMs = 0;
  /** [start, answer] of each report poll: a slow read stalls the lag of everything it would have shown. */
  const pollTimes = [];
  const total = RATE * DURATION;

  let sending = true;
  const poller = (async () => {
    const end = () => !sending && lags.length >= answered.reduce((n, a) => n + a.length, 0);
    const giveUp = () => !sending && Date.now() > sendEnd + DRAIN * 1000;
    let sendEnd = Infinity;
    while (!end() && !giveUp()) {
      if (!sending && sendEnd === Infinity) sendEnd = Date.now();
      const t0 = Date.now();
      // A failed poll (a gateway hiccup under load) is retried, not fatal: the final checks decide.
      const r = await get(reportUrl, auth).catch((e) => ({ status: 0, body: String(e) }));
      const seenAt = Date.now();
      polls++;
      pollMs += seenAt - t0;
      pollTimes.push([t0, seenAt]);
      if (r.status !== 200) continue;
      for (const row of JSON.parse(r.body).rows ?? []) {
        const g = Number(row.key.slice('lag-cr-'.length));
        if (!(g >= 0 && g < GROUPS)) continue;
        const n = Number(row.conversions ?? 0);
        while (shownCount[g] < n && shownCount[g] < answered[g].length) {
          lastShownAt = seenAt;
          lags.push(Math.max(0, seenAt - answered[g][shownCount[g]]));
          timeline.push([answered[g][shownCount[g]] - start, lags[lags.length - 1]]);
          shownCount[g]++;
        }
      }
      await sleep(20);
    }
  })();

  const backends = async () => {
    const c = await connect(databaseUrl);
    try {
      return (await c.query('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()')).rows.map((r) => r.pid);
    } finally {
      await c.end();
    }
  };
  const cpu0 = cpuTimes(platform.pids);
  const pg0 = cpuTimes(Object.fromEntries((await backends()).map((pid) => [pid, pid])));
  const start = Date.now();
  const waits = sampleWaits(databaseUrl);
  // --checkpoint-at=20,40: an immediate checkpoint at those seconds after the first send, as another session's
  // CREATE/DROP DATABASE forces on the shared server, to see what one does to the lag.
  const forced = String(args['checkpoint-at'] ?? '').split(',').filter(Boolean).map((sec) =>
    setTimeout(() => {
      connect(databaseUrl).then(async (c) => {
        const t = Date.now();
        await c.query('CHECKPOINT').finally(() => c.end());
        console.log(`forced CHECKPOINT at ${sec} s took ${Date.now() - t} ms`);
      }).catch((e) => console.warn(`forced checkpoint failed: ${e.message}`));
    }, Number(sec) * 1000));
  onCleanup(async () => forced.forEach(clearTimeout));
  const machine = sampleMachine(databaseUrl);
  await new Promise((resolve) => {
    const tick = setInterval(() => {
      const due = Math.min(total, Math.floor(((Date.now() - start) * RATE) / 1000));
      while (sent < due) {
        const k = sent++;
        const g = k % GROUPS;
        const m = micros(k);
        const url = `${platform.ingestHttp}/postbacks/${PARTNER}?token=${token}&click_id=${clicks[g]}&conversion_id=lag-${k}&payout=${amount(m)}&currency=USD`;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        get(url).then(
          (res) => {
            inFlight--;
            if (res.status === 200 && JSON.parse(res.body).status === 'stored') {
              lastAnswerAt = Date.now();
              answered[g].push(lastAnswerAt);
              expectedMicros[g] += m;
            } else {
              non200++;
              const why = `${res.status} ${res.body.slice(0, 120)}`;
              refusals.set(why, (refusals.get(why) ?? 0) + 1);
            }
          },
          (e) => {
            inFlight--;
            non200++;
            const why = `error ${e.code ?? e.message}`;
            refusals.set(why, (refusals.get(why) ?? 0) + 1);
          },
        );
      }
      if (sent >= total) {
        clearInterval(tick);
        resolve();
      }
    }, 5);
  });
  while (inFlight > 0) await sleep(10);
  const sendSeconds = (lastAnswerAt - start) / 1000;
  sending = false;
  await poller;

  // Exact revenue per creative, and nothing missing.
  const final = JSON.parse((await get(reportUrl, auth)).body).rows ?? [];
  let wrongRevenue = 0;
  for (const row of final) {
    const g = Number(row.key.slice('lag-cr-'.length));
    if (!(g >= 0 && g < GROUPS)) continue;
    const got = BigInt(row.revenue?.find((x) => x.revenue?.currencyCode === 'USD')?.revenue?.amountMicros ?? '0');
    if (got !== expectedMicros[g]) wrongRevenue++;
  }
  const stored = answered.reduce((n, a) => n + a.length, 0);
  const waitRows = await waits.stop();
  const cpu1 = cpuTimes(platform.pids);
  // Postgres: the backends of the run's database (a backend opened meanwhile counts from its start).
  const pg1 = cpuTimes(Object.fromEntries((await backends()).map((pid) => [pid, pid])));
  cpu0.postgres = 0;
  cpu1.postgres = Object.keys(pg1).reduce((n, pid) => n + pg1[pid] - (pg0[pid] ?? 0), 0);
  const cpuRows = Object.keys(cpu1).map((app) => ({ app, 'CPU ms (send + drain)': cpu1[app] - cpu0[app], 'CPU ms per conversion': ((cpu1[app] - cpu0[app]) / Math.max(1, lags.length)).toFixed(2) }));
  const hopRows = await hops(databaseUrl, new Date(start)).catch((e) => [{ hop: `hop breakdown failed: ${e.message}` }]);
  const machineRows = await machine.stop();
  const gapRows = await consumerGaps(databaseUrl, new Date(start)).catch((e) => [{ consumer: `consumer pauses failed: ${e.message}` }]);
  const hopSeconds = await hopsBySecond(databaseUrl, new Date(start)).catch((e) => {
    console.warn(`hops by second failed: ${e.message}`);
    return new Map();
  });
  const memory = await platform.stop();
  platform = undefined;
  const checkpoints = checkpointsFromLog(start, Date.now());
  const probes = probeDir ? readProbes(probeDir) : {};
  const seconds = stallSeconds({ start, timeline, pollTimes, hopSeconds, machineRows, checkpoints, probes });
  const relayRows = Object.values(probes)
    .flatMap((lines) => lines.filter((l) => l.relay && l.t >= start))
    .sort((a, b) => a.t - b.t)
    .map((l) => ({ 'ended at s': ((l.t - start) / 1000).toFixed(1), relay: l.relay, rows: l.n, 'claim ms': l.claim, 'publish → acks ms': l.acks ?? '', 'mark + commit ms': l.mark ?? '', 'gap before ms': l.gap }));
  // The consumers' pulls that went quiet or failed (loop-probe.js), in the order they ended.
  const pullRows = Object.entries(probes)
    .flatMap(([app, lines]) => lines.filter((l) => l.pull && l.t >= start).map((l) => ({ app, ...l })))
    .sort((a, b) => a.t - b.t)
    .map((l) => ({ 'ended at s': ((l.t - start) / 1000).toFixed(1), durable: l.pull, 'open ms': l.open, asked: l.asked ?? '', messages: l.n, 'first at ms': l.first ?? '', 'longest quiet ms': l.quiet, ended: l.err ?? 'normally', statuses: l.statuses.join('; ') }));

  // The same without the conversions answered in the first 10 s (apps, pools and backends still cold): shown beside
  // the figure, never instead of it.
  const warm = timeline.filter(([at]) => at >= 10_000).map(([, lag]) => lag).sort((a, b) => a - b);
  lags.sort((a, b) => a - b);
  const p50 = percentile(lags, 50);
  const p99 = percentile(lags, 99);
  const max = lags[lags.length - 1];
  // Answered per second from the first send to the last 200: below RATE when the apps cannot keep up.
  const achieved = stored / Math.max(sendSeconds, DURATION);
  const checks = [
    { check: 'postbacks answered other than 200 stored', value: non200, ok: non200 === 0 },
    { check: `stored conversions shown in the report (within ${DRAIN} s of the last 200)`, value: `${lags.length} / ${stored}`, ok: lags.length === stored },
    { check: 'creatives whose revenue differs from the payouts sent', value: wrongRevenue, ok: wrongRevenue === 0 },
  ];
  console.log('');
  printTable([
    { rate: `${RATE}/s target, ${achieved.toFixed(0)}/s achieved`, conversions: stored, 'p50 ms': p50, 'p99 ms': p99, 'max ms': max, polls, 'mean poll ms': (pollMs / Math.max(1, polls)).toFixed(0), 'max in flight': maxInFlight },
    { rate: 'answered after the first 10 s', conversions: warm.length, 'p50 ms': percentile(warm, 50), 'p99 ms': percentile(warm, 99), 'max ms': warm[warm.length - 1] },
  ]);
  console.log('');
  console.log('lag by when the postback was answered (5 s windows):');
  printTable(lagWindows(timeline, 5000));
  console.log('');
  console.log('where the time goes (database timestamps of the conversions of the run; now() = a transaction\'s start):');
  printTable(hopRows);
  console.log('');
  console.log('longest pauses between one transaction of a consumer and its next (processed_at), with the events of each:');
  printTable(gapRows);
  console.log('');
  console.log('CPU of each app from the first postback until the report showed the last conversion (/proc):');
  printTable(cpuRows);
  console.log('');
  console.log('pg_stat_activity samples (every 100 ms while sending and draining) of the busy backends, by app and wait:');
  printTable(waitRows);
  console.log('');
  console.log('seconds in which a conversion answered took over 700 ms to show, and the second either side: the worst lag of the conversions');
  console.log('answered then, the longest report poll started then, the worst of each hop for the outbox rows written then (ms), and what each app and the machine went');
  console.log('through in that second (loop: longest event-loop delay; gc: GC pause ms; runq: ms its main thread waited for a CPU;');
  console.log('psi: ms some task waited for a CPU, /proc/pressure/cpu; wal: samples of a run backend waiting on a WAL flush;');
  console.log('ckpt: checkpoint buffers written; cp: a checkpoint running, I = immediate (any session\'s CHECKPOINT or CREATE/DROP DATABASE); vac: autovacuum):');
  printTable(seconds.rows.length ? seconds.rows : [{ s: 'none' }]);
  console.log('');
  console.log('consumer pulls that stayed open over 1.1 s, went 0.9 s without a message after their first, failed, or got a status (first 40):');
  printTable(pullRows.length ? pullRows.slice(0, 40) : [{ durable: 'none' }]);
  console.log('');
  console.log('outbox relay passes that took over 300 ms from claim to commit or began over 400 ms after the last (first 40):');
  printTable(relayRows.length ? relayRows.slice(0, 40) : [{ relay: 'none' }]);
  if (refusals.size) {
    console.log('postbacks not answered 200 stored:');
    printTable([...refusals.entries()].map(([answer, n]) => ({ answer, n })));
    console.log('');
  }
  const ok = printChecks(checks, memory);
  emitResults({
    scenario: 'lag',
    mode: MODE,
    ok,
    config: { rate: RATE, durationS: DURATION, groups: GROUPS },
    metrics: [
      metric(`e2e lag p50 at ${RATE}/s`, p50, 'ms'),
      metric(`e2e lag p99 at ${RATE}/s`, p99, 'ms', { target: { op: '<', value: 1000, of: 'value', text: '< 1000 ms (at 500/s)', applies: RATE >= 500 } }),
      metric(`e2e lag max at ${RATE}/s`, max, 'ms'),
      metric(`e2e lag p99 at ${RATE}/s, answered after the first 10 s`, percentile(warm, 99), 'ms'),
      metric('postbacks/s answered by ingest (all apps running)', achieved, 'req/s', { target: { op: '>=', value: RATE * 0.95, of: 'value', text: `≥ 95% of ${RATE}/s` } }),
      metric('conversions/s through to the report', lags.length / Math.max(1e-3, (lastShownAt - start) / 1000), 'conv/s'),
    ],
    checks,
    memory,
    hops: hopRows,
    lagWindows: lagWindows(timeline, 5000),
    stallSeconds: seconds.rows,
    consumerPauses: gapRows,
    quietPulls: pullRows,
    slowRelayPasses: relayRows,
    runStart: new Date(start).toISOString(),
    seconds: seconds.all,
    waits: waitRows,
    cpu: cpuRows,
    notes: [
      'No natural baseline: the figure is absolute, against the target.',
      `Lag = arrival of the first report answer showing the conversion minus its postback's 200; includes up to one poll (mean ${(pollMs / Math.max(1, polls)).toFixed(0)} ms).`,
    ],
  });
  if (!ok) process.exitCode = 1;
});

/**
 * The ingest stream's conversion events as [event id, conversion row id] pairs, one per conversion carried: a
 * ConversionReceived's id is its row id; a ConversionsReceived run's is a digest of its rows' ids, so its members
 * are read from its payload (decoded with the built contracts). What a consumer records in processed_events is the
 * event id, so this is how a conversion that travelled in a run is found in a consumer's transaction.
 */
async function conversionEventMembers() {
  const { connect: natsConnect } = require('@nats-io/transport-node');
  const { jetstream, jetstreamManager } = require('@nats-io/jetstream');
  const { ConversionReceived, ConversionsReceived } = requireDist('libs/contracts/src/gen/trackly/ingest/v1/ingest_events');
  const single = `${PREFIX}.trackly.ingest.v1.ConversionReceived`;
  const run = `${PREFIX}.trackly.ingest.v1.ConversionsReceived`;
  const stream = `${PREFIX.toUpperCase()}_TRACKLY_INGEST_V1`;
  const pairs = [];
  const nc = await natsConnect({ servers: NATS_URL });
  try {
    const total = (await (await jetstreamManager(nc)).streams.info(stream)).state.messages;
    const consumer = await jetstream(nc).consumers.get(stream);
    let read = 0;
    for (const end = Date.now() + 60_000; read < total && Date.now() < end; ) {
      for await (const m of await consumer.fetch({ max_messages: 1000, expires: 2000 })) {
        read++;
        const id = m.headers?.get('Nats-Msg-Id') ?? '';
        if (m.subject === single) pairs.push([id, ConversionReceived.decode(m.data).conversion?.id ?? '']);
        else if (m.subject === run) for (const c of ConversionsReceived.decode(m.data).conversions) pairs.push([id, c.id]);
        if (m.info.pending === 0) break;
      }
    }
  } finally {
    await nc.close();
  }
  return pairs;
}

/**
 * The conversions' path through the outboxes and consumers, from the database (all apps share one here): per
 * outbox subject (ingest's conversions, their own event source, from the row's received_at), commit-to-publish (published_at − created_at, created_at being the writing transaction's start);
 * per consumer of those events, outbox row to the consumer's transaction (processed_at = that transaction's start)
 * and how many events each transaction took (its rows share processed_at). Diagnosis only: no figure is judged.
 */
async function hops(databaseUrl, since) {
  const members = await conversionEventMembers();
  const c = await connect(databaseUrl);
  const pct = (col) => `round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ${col}))::int AS p50, round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ${col}))::int AS p99, round(max(${col}))::int AS max`;
  const ms = (a, b) => `EXTRACT(EPOCH FROM ${a} - ${b}) * 1000`;
  try {
    const rows = [];
    for (const producer of ['ingest', 'attribution']) {
      const { rows: relay } = await c.query(
        `SELECT regexp_replace(subject, '^.*\\.', '') AS subject, count(*)::int AS n, ${pct(ms('published_at', 'created_at'))},
           round(${ms('(array_agg(created_at ORDER BY published_at - created_at DESC))[1]', '$1::timestamptz')})::int AS worst_at
         FROM "${producer}".outbox WHERE created_at >= $1 AND published_at IS NOT NULL GROUP BY 1 ORDER BY 1`,
        [since],
      );
      for (const r of relay) rows.push({ hop: `${producer} outbox → published (${r.subject})`, events: r.n, 'p50 ms': r.p50, 'p99 ms': r.p99, 'max ms': r.max, 'worst at s': (r.worst_at / 1000).toFixed(1), 'events/tx': '' });
      for (const consumerSchema of ['ingest', 'attribution', 'reporting']) {
        const { rows: taken } = await c.query(
          `WITH j AS (
             SELECT p.consumer, p.processed_at, ${ms('p.processed_at', 'o.created_at')} AS wait
             FROM "${consumerSchema}".processed_events p JOIN "${producer}".outbox o ON o.id::text = p.event_id
             WHERE o.created_at >= $1)
           SELECT consumer, count(*)::int AS n, count(DISTINCT processed_at)::int AS txs, ${pct('wait')},
             round(${ms('(array_agg(processed_at ORDER BY wait DESC))[1]', '$1::timestamptz')})::int AS worst_at
           FROM j GROUP BY 1 ORDER BY 1`,
          [since],
        );
        for (const r of taken) {
          rows.push({ hop: `${producer} outbox → ${r.consumer} tx`, events: r.n, 'p50 ms': r.p50, 'p99 ms': r.p99, 'max ms': r.max, 'worst at s': (r.worst_at / 1000).toFixed(1), 'events/tx': (r.n / Math.max(1, r.txs)).toFixed(1) });
        }
      }
    }
    // Ingest's conversions are their own events' source (no outbox row): conversion row to consumer tx, per
    // conversion, whether it travelled alone (ConversionReceived, event id = row id) or in a ConversionsReceived run
    // (the event id its consumers recorded, mapped to its rows from the stream).
    for (const consumerSchema of ['attribution', 'reporting']) {
      const { rows: taken } = await c.query(
        `WITH m AS (SELECT * FROM unnest($2::text[], $3::text[]) AS m(event_id, row_id)),
         j AS (
           SELECT p.consumer, p.processed_at, p.event_id, ${ms('p.processed_at', 't.received_at')} AS wait
           FROM "${consumerSchema}".processed_events p JOIN m ON m.event_id = p.event_id JOIN "ingest".conversions t ON t.id::text = m.row_id
           WHERE t.received_at >= $1 AND t.xid IS NOT NULL)
         SELECT consumer, count(*)::int AS n, count(DISTINCT event_id)::int AS events, count(DISTINCT processed_at)::int AS txs, ${pct('wait')},
           round(${ms('(array_agg(processed_at ORDER BY wait DESC))[1]', '$1::timestamptz')})::int AS worst_at
         FROM j GROUP BY 1 ORDER BY 1`,
        [since, members.map(([e]) => e), members.map(([, r]) => r)],
      );
      for (const r of taken) {
        rows.push({
          hop: `ingest conversion row → ${r.consumer} tx (${r.n} conversions in ${r.events} events)`,
          events: r.events, 'p50 ms': r.p50, 'p99 ms': r.p99, 'max ms': r.max, 'worst at s': (r.worst_at / 1000).toFixed(1), 'events/tx': (r.events / Math.max(1, r.txs)).toFixed(1),
        });
      }
    }
    return rows;
  } finally {
    await c.end();
  }
}

/** Samples the busy backends of the run's database every 100 ms; stop() tallies them by application and wait event. */
function sampleWaits(databaseUrl) {
  const tally = new Map();
  let samples = 0;
  let running = true;
  const loop = (async () => {
    const c = await connect(databaseUrl);
    try {
      while (running) {
        const { rows } = await c.query(
          `SELECT application_name || ' ' || state AS app, coalesce(wait_event_type || ':' || wait_event, 'CPU') AS wait,
             CASE WHEN state = 'active' THEN left(regexp_replace(query, '\\s+', ' ', 'g'), 90) ELSE '' END AS query, count(*)::int AS n
           FROM pg_stat_activity WHERE datname = current_database() AND state <> 'idle' AND pid <> pg_backend_pid()
             AND application_name <> 'lag-bench-sampler' GROUP BY 1, 2, 3`,
        );
        samples++;
        for (const r of rows) tally.set(`${r.app}\t${r.wait}\t${r.query}`, (tally.get(`${r.app}\t${r.wait}\t${r.query}`) ?? 0) + r.n);
        await sleep(100);
      }
    } finally {
      await c.end();
    }
  })();
  return {
    async stop() {
      running = false;
      await loop.catch(() => undefined);
      return [...tally.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 20)
        .map(([k, n]) => {
          const [app, wait, query] = k.split('\t');
          return { app, wait, query, 'busy backends (mean)': (n / Math.max(1, samples)).toFixed(2) };
        });
    },
  };
}

/** p50/p99/max of the lags of the conversions answered in each window of `ms` after the start. */
function lagWindows(timeline, ms) {
  const by = new Map();
  for (const [at, lag] of timeline) {
    const w = Math.floor(at / ms);
    if (!by.has(w)) by.set(w, []);
    by.get(w).push(lag);
  }
  return [...by.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([w, l]) => {
      l.sort((a, b) => a - b);
      return { 'answered at s': `${(w * ms) / 1000}–${((w + 1) * ms) / 1000}`, conversions: l.length, 'p50 ms': percentile(l, 50), 'p99 ms': percentile(l, 99), 'max ms': l[l.length - 1] };
    });
}

/** User + system CPU ms of each app so far, from /proc/<pid>/stat (Linux; 0 where unreadable). */
function cpuTimes(pids) {
  const fs = require('node:fs');
  const tick = 10; // ms per clock tick (USER_HZ = 100 on Linux)
  return Object.fromEntries(
    Object.entries(pids).map(([app, pid]) => {
      try {
        const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
        return [app, (Number(fields[11]) + Number(fields[12])) * tick];
      } catch {
        return [app, 0];
      }
    }),
  );
}

/**
 * Every 100 ms while sending and draining: CPU pressure of the machine (/proc/pressure/cpu, µs some task waited for a
 * CPU), this process's own event-loop delay (the sender and the report poller live here), Postgres checkpoint buffers
 * written and the autovacuum runs on the run's database. stop() returns one row per sample.
 */
function sampleMachine(databaseUrl) {
  const { monitorEventLoopDelay } = require('node:perf_hooks');
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const psi = () => {
    try {
      return Number(/^some .*total=(\d+)/m.exec(fs.readFileSync('/proc/pressure/cpu', 'utf8'))[1]) / 1000;
    } catch {
      return NaN;
    }
  };
  const rows = [];
  let running = true;
  const done = (async () => {
    const c = await connect(databaseUrl);
    try {
      await c.query(`SET application_name = 'lag-bench-sampler'`); // left out of the wait samples
      let psi0 = psi();
      let ckpt0;
      while (running) {
        const { rows: [r] } = await c.query(
          `SELECT (SELECT buffers_checkpoint FROM pg_stat_bgwriter)::int AS ckpt,
             (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event IN ('WALSync', 'WALWrite'))::int AS wal,
             (SELECT string_agg(relid::regclass::text, ',') FROM pg_stat_progress_vacuum WHERE datname = current_database()) AS vac`,
        );
        const p = psi();
        rows.push({ t: Date.now(), psi: p - psi0, bench: loop.max / 1e6, ckpt: ckpt0 === undefined ? 0 : r.ckpt - ckpt0, wal: r.wal, vac: r.vac ?? '' });
        psi0 = p;
        ckpt0 = r.ckpt;
        loop.reset();
        await sleep(100);
      }
    } finally {
      await c.end();
      loop.disable();
    }
  })();
  return {
    async stop() {
      running = false;
      await done.catch((e) => console.warn(`machine sampling failed: ${e.message}`));
      return rows;
    },
  };
}

/** Per second of outbox created_at since `since`: the worst of each hop (same hops as hops()), as Map<second, {hop: ms}>. */
async function hopsBySecond(databaseUrl, since) {
  const c = await connect(databaseUrl);
  const bySecond = new Map();
  const put = (s, hop, ms) => {
    if (!bySecond.has(s)) bySecond.set(s, {});
    bySecond.get(s)[hop] = ms;
  };
  const short = { ingest: 'ing', attribution: 'attr', reporting: 'rep' };
  try {
    for (const producer of ['ingest', 'attribution']) {
      const { rows } = await c.query(
        `SELECT floor(EXTRACT(EPOCH FROM created_at - $1::timestamptz))::int AS s, round(max(EXTRACT(EPOCH FROM published_at - created_at) * 1000))::int AS ms
         FROM "${producer}".outbox WHERE created_at >= $1 AND published_at IS NOT NULL GROUP BY 1`,
        [since],
      );
      for (const r of rows) put(r.s, `${short[producer]} relay`, r.ms);
      for (const consumerSchema of ['attribution', 'reporting']) {
        if (consumerSchema === producer) continue;
        const { rows: taken } = await c.query(
          `SELECT floor(EXTRACT(EPOCH FROM o.created_at - $1::timestamptz))::int AS s, round(max(EXTRACT(EPOCH FROM p.processed_at - o.created_at) * 1000))::int AS ms
           FROM "${consumerSchema}".processed_events p JOIN "${producer}".outbox o ON o.id::text = p.event_id
           WHERE o.created_at >= $1 GROUP BY 1`,
          [since],
        );
        for (const r of taken) put(r.s, `${short[producer]}→${short[consumerSchema]} tx`, r.ms);
      }
    }
    return bySecond;
  } finally {
    await c.end();
  }
}

/**
 * Per durable consumer of the run's events, its longest pauses between one transaction's start and the next's
 * (processed_at is each transaction's start): with the events of the transaction before the pause and after it. A
 * long pause after a big transaction is that transaction's own time; after a small one, nothing reached the consumer.
 */
async function consumerGaps(databaseUrl, since) {
  const c = await connect(databaseUrl);
  const rows = [];
  try {
    for (const schema of ['attribution', 'reporting', 'ingest']) {
      const { rows: gaps } = await c.query(
        `WITH tx AS (
           SELECT consumer, processed_at AS at, count(*)::int AS n FROM "${schema}".processed_events
           WHERE processed_at >= $1 AND consumer NOT LIKE '%tracking%' GROUP BY 1, 2),
         g AS (
           SELECT consumer, at, n, lag(n) OVER w AS before, EXTRACT(EPOCH FROM at - lag(at) OVER w) * 1000 AS gap
           FROM tx WINDOW w AS (PARTITION BY consumer ORDER BY at)),
         ranked AS (SELECT *, row_number() OVER (PARTITION BY consumer ORDER BY gap DESC NULLS LAST) AS r FROM g)
         SELECT consumer, round(EXTRACT(EPOCH FROM at - $1::timestamptz), 1)::float8 AS s, round(gap)::int AS gap, before, n
         FROM ranked WHERE r <= 4 ORDER BY consumer, gap DESC`,
        [since],
      );
      for (const r of gaps) rows.push({ consumer: r.consumer, 'next tx at s': r.s, 'pause ms': r.gap, 'events in the tx before': r.before, 'events in the tx after': r.n });
    }
    return rows;
  } finally {
    await c.end();
  }
}

/** The probe lines of each app (bench/lib/loop-probe.js). */
function readProbes(dir) {
  const out = {};
  for (const f of fs.readdirSync(dir)) {
    if (!f.endsWith('.jsonl')) continue;
    out[f.slice(0, -'.jsonl'.length)] = fs.readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  }
  return out;
}

/**
 * One row per second of the run: the worst lag of the conversions answered in it, the worst of each hop for the
 * outbox rows written in it, and per app the longest loop delay, GC pause total and run-queue wait in it, with the
 * machine's CPU pressure, the bench's own loop delay, checkpoint writes and autovacuum. `rows`: the seconds in which
 * a lag passed 700 ms and the second either side; `all`: every second (kept in the JSON).
 */
function stallSeconds({ start, timeline, pollTimes, hopSeconds, machineRows, checkpoints, probes }) {
  const all = new Map();
  const at = (t) => {
    const s = Math.floor((t - start) / 1000);
    if (!all.has(s)) all.set(s, { s });
    return all.get(s);
  };
  const max = (row, k, v) => {
    row[k] = Math.max(row[k] ?? 0, Math.round(v));
  };
  for (const [answeredAfter, lag] of timeline) max(at(start + answeredAfter), 'lag', lag);
  for (const [t0, t1] of pollTimes) max(at(t0), 'poll', t1 - t0);
  for (const [s, hopsOf] of hopSeconds) Object.assign(at(start + s * 1000), hopsOf);
  for (const [app, lines] of Object.entries(probes)) {
    if (app === 'tracking') continue; // not on the postback's path
    const a = { tracking: 'trk', ingest: 'ing', attribution: 'attr', reporting: 'rep', gateway: 'gw' }[app] ?? app;
    for (const l of lines) {
      if (l.t < start || l.pull || l.relay) continue;
      const row = at(l.t - 1);
      max(row, `${a} loop`, l.loop);
      row[`${a} gc`] = Math.round((row[`${a} gc`] ?? 0) + l.gc);
      row[`${a} runq`] = Math.round((row[`${a} runq`] ?? 0) + l.runq);
    }
  }
  for (const m of machineRows) {
    const row = at(m.t - 1);
    row.psi = Math.round((row.psi ?? 0) + m.psi);
    max(row, 'bench loop', m.bench);
    row.ckpt = (row.ckpt ?? 0) + m.ckpt;
    // Backends of the run waiting on a WAL flush, summed over the second's samples (×100 ms ≈ backend-ms).
    row.wal = (row.wal ?? 0) + m.wal;
    if (m.vac && !(row.vac ?? '').includes(m.vac)) row.vac = [row.vac, m.vac].filter(Boolean).join(' ');
  }
  // Seconds a checkpoint was running: 'I' immediate (CHECKPOINT, CREATE/DROP DATABASE of any session), 'T' timed or WAL-sized.
  for (const c of checkpoints) {
    for (let t = c.from; t <= c.to; t += 1000) at(t).cp = c.kind;
    at(c.to).cp = c.kind;
  }
  const seconds = [...all.values()].filter((r) => r.s >= 0).sort((x, y) => x.s - y.s);
  const stall = new Set();
  for (const r of seconds) if ((r.lag ?? 0) > 700) [r.s - 1, r.s, r.s + 1].forEach((s) => stall.add(s));
  return { rows: seconds.filter((r) => stall.has(r.s)), all: seconds };
}

/**
 * Checkpoints that ran between `from` and `to` (ms), from the server's log (log_checkpoints is on here; the path is
 * --pg-log, default Debian's): [{ from, to, kind: 'I' immediate | 'T' other }]. None when the log cannot be read.
 */
function checkpointsFromLog(from, to) {
  const file = args['pg-log'] ?? '/var/log/postgresql/postgresql-15-main.log';
  let text;
  try {
    const size = fs.statSync(file).size;
    const fd = fs.openSync(file, 'r');
    const buf = Buffer.alloc(Math.min(size, 4 << 20));
    fs.readSync(fd, buf, 0, buf.length, size - buf.length);
    fs.closeSync(fd);
    text = buf.toString('utf8');
  } catch {
    return [];
  }
  const out = [];
  let open;
  for (const line of text.split('\n')) {
    const m = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) UTC .*checkpoint (starting|complete): ?(.*)$/.exec(line);
    if (!m) continue;
    const t = Date.parse(`${m[1].replace(' ', 'T')}Z`);
    if (m[2] === 'starting') open = { from: t, kind: /immediate/.test(m[3]) ? 'I' : 'T' };
    else if (open) {
      if (t >= from && open.from <= to) out.push({ ...open, to: t });
      open = undefined;
    }
  }
  return out;
}
