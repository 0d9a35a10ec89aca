#!/usr/bin/env node
'use strict';
/**
 * `npm run bench:register [-- --quick] [-- --messages=N] [-- --batch=10000] [-- --callers=2] [-- --cpu-prof] [-- --json=path]`
 *
 * RegisterMessages at blast scale (issue 14: ≥ 20,000 messages/s including their events): the built tracking app as a
 * child process registers N messages (full 500,000, quick 100,000) over gRPC in batches (10,000) from `callers`
 * concurrent clients, spread over 10 campaigns, creatives and offers. Tracking publishes the sends in MessagesSent
 * runs (up to 100 sends of one call per event), so the bench reads the stream and counts the sends the runs carry.
 * Reports messages/s answered, messages/s with every send carried by a MessagesSent in the stream (the relay keeping
 * up), per-call latency, the app's and Postgres's CPU per 1,000 messages and the app's peak RSS; checks that every
 * message is stored once with a distinct short code and carried by exactly one run (no send twice, none missing).
 */
const { Client } = require('pg');
const { admin, dbUrl, parseArgs } = require('../../../bench/lib/common');
const app = require('./bench-app');

const DB_NAME = 'trackly_bench_register';
const PREFIX = 'benchreg';
const SENT_STREAM = 'BENCHREG_TRACKLY_TRACKING_V1';
const RUNS_SUBJECT = `${PREFIX}.trackly.tracking.v1.MessagesSent`;
const SINGLE_SUBJECT = `${PREFIX}.trackly.tracking.v1.MessageSent`;
/** Most sends one MessagesSent carries (apps/tracking/src/messages/message-events.ts SENDS_PER_RUN). */
const SENDS_PER_RUN = 100;

/**
 * Reads the tracking stream from its start as it fills (one ordered consumer) and tallies what the relay published:
 * MessagesSent runs, the sends they carry (each message id counted, so a send carried twice shows), and anything
 * else (a per-message MessageSent would be a regression). Decoded with the built contracts.
 */
async function watchSends(streamName) {
  const { connect } = require('@nats-io/transport-node');
  const { jetstream } = require('@nats-io/jetstream');
  const { NATS_URL } = require('../../../bench/lib/common');
  const { MessagesSent } = require(require('node:path').join(app.ROOT, 'dist/bench/tracking/libs/contracts/src/gen/trackly/tracking/v1/tracking_events.js'));
  const nc = await connect({ servers: NATS_URL });
  // An ordered consumer reads from the stream's first message, whenever it starts; the stream may not be there yet.
  let consumer;
  for (const end = Date.now() + 60_000; !consumer; ) {
    try {
      consumer = await jetstream(nc).consumers.get(streamName);
    } catch (e) {
      if (!/not found/i.test(e.message) || Date.now() > end) {
        await nc.close();
        throw e;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const messages = await consumer.consume({ max_messages: 1000 });
  const tally = { runs: 0, sends: 0, distinct: 0, oversized: 0, badIds: 0, singles: 0, other: 0 };
  const seen = new Set();
  const done = (async () => {
    for await (const m of messages) {
      if (m.subject === RUNS_SUBJECT) {
        const run = MessagesSent.decode(m.data).messages;
        tally.runs++;
        tally.sends += run.length;
        if (run.length < 1 || run.length > SENDS_PER_RUN) tally.oversized++;
        if (!/^sent-run:[A-Za-z0-9_-]{43}$/.test(m.headers?.get('Nats-Msg-Id') ?? '')) tally.badIds++;
        for (const e of run) seen.add(e.messageId);
        tally.distinct = seen.size;
      } else if (m.subject === SINGLE_SUBJECT) tally.singles++;
      else tally.other++;
    }
  })();
  return {
    tally,
    /** Resolves once the runs carry at least `n` sends; throws after `timeoutMs`. */
    async until(n, timeoutMs, what) {
      const t0 = Date.now();
      while (tally.sends < n) {
        if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: ${tally.sends} of ${n} sends carried by MessagesSent within ${timeoutMs / 1000} s`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      messages.stop();
      await done.catch(() => undefined);
      await nc.close();
    },
  };
}

/**
 * Registers `total` messages (ids `${idPrefix}-<n>`) in calls of `batch` with `callers` calls in flight; the messages
 * of one call spread over `catalog` campaigns/creatives/offers. Returns the short codes in id order and the timings.
 */
async function registerMessages(client, { total, batch, callers = 1, catalog = 1, idPrefix = 'm', sentAt = new Date(Date.now() - 3_600_000) }) {
  const codes = new Array(total);
  const times = [];
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      for (;;) {
        const from = next;
        if (from >= total) return;
        next = Math.min(total, from + batch);
        const messages = [];
        for (let n = from; n < next; n++) {
          const k = `bench-${n % catalog}`;
          messages.push({ messageId: `${idPrefix}-${n}`, contactId: `c-${n}`, phoneE164: `+1555${String(n).padStart(7, '0')}`, campaignId: k, creativeId: k, offerId: k, sentAt });
        }
        const c0 = process.hrtime.bigint();
        const res = await client.registerMessages({ messages });
        times.push(Number(process.hrtime.bigint() - c0) / 1e6);
        if (res.messages.length !== messages.length) throw new Error(`RegisterMessages answered ${res.messages.length} of ${messages.length}`);
        res.messages.forEach((m, i) => (codes[from + i] = m.shortCode));
      }
    }),
  );
  return { codes, times, wallMs: Number(process.hrtime.bigint() - t0) / 1e6 };
}

async function main() {
  const args = parseArgs();
  const QUICK = args.quick === 'true' || args.tiny === 'true';
  const TOTAL = Number(args.messages ?? (args.tiny === 'true' ? 20_000 : QUICK ? 100_000 : 500_000));
  const BATCH = Number(args.batch ?? 10_000);
  const CALLERS = Number(args.callers ?? 2);
  const CPU_PROF = args['cpu-prof'] === 'true';
  await app.benchLock();
  await admin(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${DB_NAME}`);
  });
  await app.deleteStreams('BENCHREG_').catch(() => undefined);
  const pg = new Client({ connectionString: dbUrl(DB_NAME) });
  await pg.connect();
  let child;
  try {
    const started = await app.startTracking({ dbName: DB_NAME, prefix: PREFIX, label: 'register', cpuProf: CPU_PROF });
    child = started.child;
    await app.seedCatalog(pg, 10);
    const client = app.trackingClient(started.grpcPort);
    let sends;
    const idleRss = app.rssMb(child.pid);
    console.log(`RegisterMessages bench: ${TOTAL} messages in calls of ${BATCH}, ${CALLERS} callers, 10 campaigns/creatives/offers`);
    try {
      // Warm-up (JIT, prepared plans, pool), then wait for its events, so the run starts from an empty outbox.
      await registerMessages(client, { total: 20_000, batch: BATCH, callers: CALLERS, catalog: 10, idPrefix: 'warm' });
      sends = await watchSends(SENT_STREAM);
      await sends.until(20_000, 600_000, 'warm-up');

      const cpu0 = app.cpuSeconds(child.pid);
      const pg0 = app.postgresCpuSeconds();
      const t0 = Date.now();
      const run = await registerMessages(client, { total: TOTAL, batch: BATCH, callers: CALLERS, catalog: 10 });
      const cpuRpc = app.cpuSeconds(child.pid) - cpu0;
      const pgRpc = app.postgresCpuSeconds() - pg0;
      // Until every send of the run is carried by a MessagesSent in the stream.
      await sends.until(20_000 + TOTAL, 600_000 - (Date.now() - t0), 'run');
      const eventsMs = Date.now() - t0;
      const cpuAll = app.cpuSeconds(child.pid) - cpu0;
      const pgAll = app.postgresCpuSeconds() - pg0;

      const sorted = [...run.times].sort((a, b) => a - b);
      const answered = TOTAL / (run.wallMs / 1000);
      const evented = TOTAL / (eventsMs / 1000);
      console.log(`  answered: ${Math.round(answered)} messages/s (${Math.round(run.wallMs)} ms for ${TOTAL})`);
      console.log(`  with every send in a MessagesSent in the stream: ${Math.round(evented)} messages/s (${eventsMs} ms, ${sends.tally.runs} runs so far)`);
      console.log(`  per call of ${BATCH}: p50 ${Math.round(sorted[Math.floor(sorted.length / 2)])} ms, max ${Math.round(sorted[sorted.length - 1])} ms`);
      console.log(
        `  CPU per 1,000 messages: app ${((cpuRpc * 1e6) / TOTAL).toFixed(1)} ms answering, ${((cpuAll * 1e6) / TOTAL).toFixed(1)} ms with the relay; ` +
          `Postgres ${((pgRpc * 1e6) / TOTAL).toFixed(1)} ms / ${((pgAll * 1e6) / TOTAL).toFixed(1)} ms; app RSS ${idleRss} MB started, peak ${app.peakRssMb(child.pid)} MB`,
      );

      // Correctness: each message stored once with its own code, each evented once.
      const { rows: [s] } = await pg.query(
        `SELECT count(*)::int AS n, count(DISTINCT short_code)::int AS codes FROM "tracking".messages`,
      );
      // Each message row is the source of its send in a MessagesSent: none may be left past the relay's cursor, none in the outbox.
      const { rows: [o] } = await pg.query(
        `SELECT (SELECT count(*)::int FROM "tracking".messages AS t, "tracking".table_relay_cursors AS c
                 WHERE c.relay = 'messages' AND (t.xid, t.seq) > (c.xid, c.seq)) AS unpublished,
                (SELECT count(*)::int FROM "tracking".outbox WHERE subject = 'trackly.tracking.v1.MessageSent') AS outbox`,
      );
      const expected = TOTAL + 20_000;
      // Everything in the stream has been read (a run published twice would show as a send carried twice).
      const inStream = await app.streamMessages(SENT_STREAM);
      const t = sends.tally;
      const read = () => t.runs + t.singles + t.other;
      for (const end = Date.now() + 10_000; read() < inStream && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
      // Calls of BATCH sends (the last maybe fewer), a call's sends cut in runs of SENDS_PER_RUN: no run spans two
      // calls, so at least this many (a relay read of 2,000 rows may end a run early: more is fine).
      const runsOf = (n) => Math.floor(n / BATCH) * Math.ceil(BATCH / SENDS_PER_RUN) + Math.ceil((n % BATCH) / SENDS_PER_RUN);
      const fewestRuns = runsOf(20_000) + runsOf(TOTAL);
      const checks = [
        { check: 'messages stored / distinct short codes', value: `${s.n} / ${s.codes}`, ok: s.n === expected && s.codes === expected },
        { check: 'messages past the MessagesSent relay cursor / outbox rows', value: `${o.unpublished} / ${o.outbox}`, ok: o.unpublished === 0 && o.outbox === 0 },
        {
          check: 'sends carried by MessagesSent / distinct messages (each evented once)',
          value: `${t.sends} / ${t.distinct}`,
          ok: t.sends === expected && t.distinct === expected,
        },
        {
          check: 'MessagesSent runs in the stream / events read / runs over 100 or with a bad id / MessageSent or other events',
          value: `${t.runs} (at least ${fewestRuns}, ${(t.sends / Math.max(1, t.runs)).toFixed(1)} sends each) / ${read()} of ${inStream} / ${t.oversized + t.badIds} / ${t.singles + t.other}`,
          ok: inStream === read() && t.runs >= fewestRuns && t.oversized === 0 && t.badIds === 0 && t.singles === 0 && t.other === 0,
        },
      ];
      for (const c of checks) console.log(`  ${c.ok ? 'ok' : 'FAILED'}: ${c.check}: ${c.value}`);
      if (args.json) {
        const { metric, emitResults } = require('../../../bench/lib/results');
        emitResults({
          scenario: 'register',
          mode: args.tiny === 'true' ? 'tiny' : QUICK ? 'quick' : 'full',
          config: { messages: TOTAL, batch: BATCH, callers: CALLERS },
          metrics: [
            metric('RegisterMessages messages/s answered', answered, 'msg/s', { target: { op: '>=', value: 20_000, of: 'value', text: '≥ 20,000 messages/s' } }),
            metric('RegisterMessages messages/s with MessagesSent published', evented, 'msg/s', { target: { op: '>=', value: 20_000, of: 'value', text: '≥ 20,000 messages/s' } }),
            metric(`RegisterMessages p50 per call of ${BATCH}`, sorted[Math.floor(sorted.length / 2)], 'ms'),
          ],
          memory: { tracking: app.peakRssMb(child.pid) },
          checks,
        });
      }
      if (checks.some((c) => !c.ok)) throw new Error('a correctness check failed');
      if (CPU_PROF) console.log(`CPU profile in ${app.PROFILES}`);
    } finally {
      client.close();
      await sends?.close();
    }
  } finally {
    if (child) await app.stop(child);
    await pg.end();
    await admin((a) => a.query(`DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`)).catch(() => undefined);
    await app.deleteStreams('BENCHREG_').catch(() => undefined);
  }
}

module.exports = { registerMessages };

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
