#!/usr/bin/env node
'use strict';
/**
 * `npm run bench:delivery [-- --tiny|--quick] [-- --events=20000 --cpu-prof --json=F]`
 *
 * Outbound delivery throughput: the built delivery app as a child process, one webhook endpoint pointing at a local
 * HTTP receiver (in this process) that verifies every Standard Webhooks signature, then `events` ConversionAttributed
 * events published to the attribution stream as fast as NATS takes them. Measured from the first publish to the
 * moment the receiver holds every event and the app has recorded every delivery as DELIVERED: fan-out (consumer),
 * claiming, signing, HTTP and recording results all count. Baseline, same receiver, same run: a bare keep-alive
 * node:http client POSTing the same number of signed bodies at the app's concurrency (256) — the ceiling the
 * receiver and this machine allow. Checks: every event received, each under exactly one webhook-id, every signature
 * valid, nothing left pending.
 */
const http = require('node:http');
const { createHmac } = require('node:crypto');
const { parseArgs, modeOf, connect, sleep, printTable, NATS_URL, printChecks } = require('./lib/common');
const { startApps, grpcClient, requireDist, migrate } = require('./lib/platform');
const { metric, emitResults } = require('./lib/results');
const { runScenario } = require('./lib/scenario');

const args = parseArgs();
const MODE = modeOf(args);
const N = Number(args.events ?? { tiny: 500, quick: 10_000, full: 50_000 }[MODE]);
const DB = 'trackly_bench_delivery';
const PREFIX = 'benchdelivery';
const CONCURRENCY = 256;
const TIMEOUT_S = { tiny: 60, quick: 180, full: 600 }[MODE];

/** The receiver: verifies each signature (HMAC-SHA256 of id.timestamp.body with the endpoint's secret), answers 204. */
function receiver() {
  const state = { secret: '', key: Buffer.alloc(0), ids: new Map(), bad: 0, requests: 0, first: 0, last: 0 };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      const id = req.headers['webhook-id'];
      const ts = req.headers['webhook-timestamp'];
      const want = createHmac('sha256', state.key).update(`${id}.${ts}.${body}`).digest('base64');
      const sigs = String(req.headers['webhook-signature'] ?? '').split(' ').map((s) => s.slice(3));
      state.requests++;
      if (!sigs.includes(want)) {
        state.bad++;
        res.writeHead(401).end();
        return;
      }
      const now = performance.now();
      state.first ||= now;
      state.last = now;
      const conv = JSON.parse(body).data?.conversion_id ?? '';
      const seen = state.ids.get(conv) ?? new Set();
      seen.add(id);
      state.ids.set(conv, seen);
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 30_000;
  return { server, state, setSecret: (s) => { state.secret = s; state.key = Buffer.from(s.slice('whsec_'.length), 'base64'); } };
}

/** The same number of signed POSTs from a bare keep-alive client at the app's concurrency. */
async function baseline(port, bodies, secret) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  let i = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (i < bodies.length) {
      const k = i++;
      const id = `msg_base_${k}`;
      const ts = Math.floor(Date.now() / 1000);
      const body = bodies[k];
      const sig = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64');
      await new Promise((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, path: '/base', method: 'POST', agent, headers: {
          'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': `v1,${sig}`,
        } }, (res) => { res.resume(); res.on('end', resolve); });
        req.on('error', reject);
        req.end(body);
      });
    }
  }));
  agent.destroy();
  return bodies.length / ((performance.now() - t0) / 1000);
}

runScenario(args, { db: DB, prefix: PREFIX }, async ({ databaseUrl, onCleanup }) => {
  const c = await connect(databaseUrl);
  const { server, state, setSecret } = receiver();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  let platform;
  let nc;
  onCleanup(async () => {
    await platform?.stop();
    await nc?.close();
    server.closeAllConnections();
    server.close();
    await c.end();
  });
  migrate('delivery', databaseUrl);
  platform = await startApps(['delivery'], { databaseUrl, prefix: PREFIX, cpuProf: args['cpu-prof'] === 'true', label: 'delivery',
    env: { delivery: { DELIVERY_MAX_IN_FLIGHT: String(CONCURRENCY), DELIVERY_POLL_MS: '50' } } });
  const { DeliveryServiceService } = requireDist('libs/contracts/src/gen/trackly/delivery/v1/delivery_service');
  const { ConversionAttributed } = requireDist('libs/contracts/src/gen/trackly/attribution/v1/attribution_events');
  const { Attribution } = requireDist('libs/contracts/src/gen/trackly/attribution/v1/attribution');
  const delivery = grpcClient(DeliveryServiceService, platform.deliveryGrpc);
  const { secret } = await delivery.upsertEndpoint({
    endpointId: 'bench', name: 'bench receiver', kind: 1, url: `http://127.0.0.1:${port}/hooks`, eventTypes: [1],
    filters: { campaignIds: [], offerIds: [], partnerIds: [] }, active: true, rateLimitPerSecond: 10_000, timeoutMs: 5_000,
  });
  delivery.close();
  setSecret(secret);

  const { connect: natsConnect } = require('@nats-io/transport-node');
  const { jetstream } = require('@nats-io/jetstream');
  nc = await natsConnect({ servers: NATS_URL });
  const js = jetstream(nc);
  const subject = `${PREFIX}.trackly.attribution.v1.ConversionAttributed`;
  const payload = (i) => ConversionAttributed.encode({ attribution: Attribution.fromPartial({
    partnerId: 'bench-net', conversionId: `conv-${i}`, conversionRef: `ref-${i}`, outcome: 1, reportedClickId: `clk-${i}`, creditedClickId: `clk-${i}`,
    messageId: `m-${i}`, contactId: `c-${i}`, offerId: `off-${i % 10}`, campaignId: `camp-${i % 50}`, creativeId: `cr-${i % 400}`,
    payout: { currencyCode: 'USD', amountMicros: String(1_000_000 + (i % 100) * 10_000) }, status: 1,
    occurredAt: new Date(Date.UTC(2026, 11, 1) + i * 1000), decidedAt: new Date(Date.UTC(2026, 11, 1) + i * 1000 + 500), explanation: 'bench',
  }) }).finish();

  console.log(`delivery bench (${MODE}): ${N} ConversionAttributed events → 1 webhook endpoint (local receiver verifying signatures)`);
  const t0 = performance.now();
  for (let i = 0; i < N; i += 1000) {
    await Promise.all(Array.from({ length: Math.min(1000, N - i) }, (_, k) => js.publish(subject, payload(i + k), { msgID: `bench-ev-${i + k}` })));
  }
  const published = (performance.now() - t0) / 1000;
  console.log(`  published in ${published.toFixed(1)} s`);
  const deadline = Date.now() + TIMEOUT_S * 1000;
  let delivered = 0;
  let lastLog = Date.now();
  while (Date.now() < deadline) {
    if (state.ids.size >= N) {
      delivered = (await c.query(`SELECT count(*)::int AS n FROM "delivery".deliveries WHERE status = 'DELIVERED'`)).rows[0].n;
      if (delivered >= N) break;
    }
    if (Date.now() - lastLog > 5000) {
      console.log(`  ${state.ids.size} received after ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      lastLog = Date.now();
    }
    await sleep(20);
  }
  const wall = (performance.now() - t0) / 1000;
  const sendWindow = (state.last - state.first) / 1000;
  const { rows: [s] } = await c.query(`SELECT count(*)::int AS rows, count(DISTINCT message_id)::int AS ids,
      count(*) FILTER (WHERE status <> 'DELIVERED')::int AS not_delivered, max(attempts)::int AS max_attempts FROM "delivery".deliveries`);
  const memory = await platform.stop();
  platform = undefined;

  const received = new Map(state.ids);
  const bad = state.bad;
  const bodies = Array.from({ length: N }, (_, i) => JSON.stringify({ type: 'conversion.attributed', timestamp: new Date().toISOString(), data: { conversion_id: `base-${i}`, payout: { amount: '1.5' } } }));
  const base = await baseline(port, bodies, secret);

  const twoIds = [...received.values()].filter((ids) => ids.size !== 1).length;
  const checks = [
    { check: 'events received by the receiver', value: `${received.size} / ${N}`, ok: received.size === N },
    { check: 'events received under more than one webhook-id', value: twoIds, ok: twoIds === 0 },
    { check: 'requests with a bad signature', value: bad + state.bad, ok: bad + state.bad === 0 },
    { check: 'deliveries rows / distinct ids / not delivered', value: `${s.rows} / ${s.ids} / ${s.not_delivered}`, ok: s.rows === N && s.ids === N && s.not_delivered === 0 },
  ];
  const rate = N / wall;
  console.log('');
  printTable([{ events: N, 'publish s': published.toFixed(1), 'wall s': wall.toFixed(1), 'deliveries/s (end to end)': rate.toFixed(0),
    'deliveries/s (first to last received)': (N / sendWindow).toFixed(0), 'bare client/s': base.toFixed(0), 'max attempts': s.max_attempts }]);
  console.log('');
  const ok = printChecks(checks, memory);
  emitResults({
    scenario: 'delivery',
    mode: MODE,
    ok,
    config: { events: N, concurrency: CONCURRENCY },
    metrics: [
      metric('webhook deliveries, event published → DELIVERED recorded', rate, 'deliveries/s', { baseline: base, target: { op: '>=', value: 1000, of: 'value', applies: MODE !== 'tiny' } }),
      metric('webhook deliveries, first → last received', N / sendWindow, 'deliveries/s'),
    ],
    checks,
    memory,
    notes: ['Baseline: bare keep-alive node:http client, same receiver and concurrency, no database or NATS (the ceiling).'],
  });
  if (!ok) process.exitCode = 1;
});
