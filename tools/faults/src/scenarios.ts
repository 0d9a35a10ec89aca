/** The fault scenarios: load through the edges, one fault, recovery, then the books. */
import * as path from 'node:path';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { DeadLetterStream, Events, Streams } from '@trackly/messaging';
import { Auditor, BookOptions, Check, checkBooks, conversionsOf, expectedBooks, Expected, Books } from './books';
import { PrivateNats, PrivatePostgres, sleep } from './infra';
import { Counters, LoadDriver, newCounters, Sale } from './load';
import type { AppName, Platform } from './platform';
import type { Click } from '@trackly/contracts/tracking/v1/tracking';
import type { Conversion } from '@trackly/contracts/ingest/v1/ingest';

export interface Context {
  platform: Platform;
  pg: PrivatePostgres;
  nats: PrivateNats;
  nc: NatsConnection;
  load: LoadDriver;
  auditor: Auditor;
  log: (line: string) => void;
  settleTimeoutMs: number;
  /** Dead letters left by the scenarios run before this one (g leaves some on purpose): each scenario expects none of its own. */
  deadLettersBefore?: number;
}

export interface ScenarioResult {
  id: string;
  title: string;
  sales: number;
  counters: Counters;
  expected?: Expected;
  books?: Books;
  checks: Check[];
  /** Fault over (process restarted / server back) until the books settled. */
  recoveryMs?: number;
  faultNote: string;
  error?: string;
}

export const passed = (r: ScenarioResult) => !r.error && r.checks.length > 0 && r.checks.every((c) => c.ok);

interface Run {
  sales: Sale[];
  counters: Counters;
  partner: string;
  offer: string;
}

/**
 * Sets up a partner, offer and sends, taps the links, then sends the postbacks; `atProgress` runs once when
 * `faultAt` of the postbacks have been answered, concurrently with the rest of the load.
 */
export async function drive(ctx: Context, id: string, n: number, faultAt?: number, fault?: () => Promise<void>): Promise<Run & { faultDone: Promise<void> }> {
  const counters = newCounters();
  const { partner, token, offer, messages } = await ctx.load.setup(id, n);
  ctx.log(`  ${id}: ${n} sends registered; tapping links`);
  const clickIds = await ctx.load.clicks(messages, n, counters);
  const sales = ctx.load.plan(id, n, messages, clickIds);
  ctx.log(`  ${id}: ${counters.clicks} clicks; sending ${sales.length} postbacks`);
  let faultDone: Promise<void> = Promise.resolve();
  let fired = false;
  let loading = true;
  const watcher = (async () => {
    while (loading) {
      const rows = await ctx.auditor.q(`SELECT count(*) AS n FROM attribution.parked_conversions WHERE partner_id = $1`, [partner]).catch(() => [{ n: 0 }]);
      counters.parkedPeak = Math.max(counters.parkedPeak, Number(rows[0].n));
      await sleep(300);
    }
  })();
  await ctx.load.postbacks(partner, token, sales, counters, {
    onProgress: (done) => {
      if (fault && !fired && done >= Math.floor(sales.length * (faultAt ?? 0.3))) {
        fired = true;
        faultDone = fault();
      }
    },
  });
  await faultDone;
  loading = false;
  await watcher;
  return { sales, counters, partner, offer, faultDone };
}

export async function audit(ctx: Context, r: ScenarioResult, run: Run, since: number, opts: Omit<BookOptions, 'clicks'> = {}): Promise<void> {
  const expected = expectedBooks(run.sales);
  const settled = await ctx.auditor.settle(run.partner, expected.stored, ctx.settleTimeoutMs);
  r.recoveryMs = Date.now() - since;
  const books = await ctx.auditor.books(run.partner, run.offer);
  r.expected = expected;
  r.books = books;
  r.counters = run.counters;
  r.sales = run.sales.filter((s) => !s.resend).length;
  r.checks.push({ name: 'settled', ok: settled.settled, detail: settled.settled ? `in ${settled.ms} ms after load` : `not within ${ctx.settleTimeoutMs} ms` });
  const deadLetters = opts.deadLetters ?? ctx.deadLettersBefore ?? 0;
  r.checks.push(...checkBooks(expected, books, { ...opts, deadLetters, clicks: run.counters.clicks + run.counters.earlyClickEvents }));
}

async function restartApp(ctx: Context, app: AppName, signal: NodeJS.Signals, downMs: number): Promise<number> {
  ctx.log(`  ${signal} ${app} (pid ${ctx.platform.apps[app].pid})`);
  await ctx.platform.apps[app].kill(signal);
  await sleep(downMs);
  await ctx.platform.apps[app].start();
  ctx.log(`  ${app} restarted (pid ${ctx.platform.apps[app].pid})`);
  return Date.now();
}

export async function scenarioKill(ctx: Context, id: string, app: AppName, n: number): Promise<ScenarioResult> {
  const r: ScenarioResult = { id, title: `${app} killed with SIGKILL mid-stream, restarted`, sales: 0, counters: newCounters(), checks: [], faultNote: '' };
  let restartedAt = 0;
  let decidedAtKill = 0;
  const run = await drive(ctx, id, n, 0.3, async () => {
    const [row] = await ctx.auditor.q(`SELECT count(*) AS n FROM attribution.decisions WHERE partner_id = $1`, [`p-${id}`]);
    decidedAtKill = Number(row.n);
    restartedAt = await restartApp(ctx, app, 'SIGKILL', 2000);
  });
  r.faultNote = `SIGKILL at 30% of postbacks (${decidedAtKill} decided then), down 2 s`;
  await audit(ctx, r, run, restartedAt);
  return r;
}

/** c: the relays of ingest and attribution die between publish and marking published (exit 137), restarted without the hook. */
export async function scenarioRelayCrash(ctx: Context, n: number): Promise<ScenarioResult> {
  const id = 'c';
  const r: ScenarioResult = { id, title: 'relays killed between publish and mark (ingest, attribution)', sales: 0, counters: newCounters(), checks: [], faultNote: '' };
  // The seams: OutboxRelay.seams.afterPublish and TableRelay.seams.afterPublish set by a preloaded module (built next to this file).
  const hook = { preload: [path.join(__dirname, 'relay-crash.preload.js')] };
  let lastRestart = 0;
  const crashes: string[] = [];
  const unmarked: string[] = [];
  const armed: Promise<void>[] = [];
  const arm = async (app: AppName) => {
    await ctx.platform.apps[app].kill('SIGTERM');
    await ctx.platform.apps[app].start(hook);
    armed.push((async () => {
      await ctx.platform.apps[app].exited();
      const exit = ctx.platform.apps[app].exits.at(-1);
      // Published to JetStream but not marked: the restarted relay publishes these again (same Nats-Msg-Id).
      const [row] = await ctx.auditor.q(`SELECT count(*) AS n FROM "${app}".outbox WHERE published_at IS NULL`);
      crashes.push(`${app} exit ${exit?.code ?? exit?.signal}`);
      unmarked.push(`${app}: ${row.n} rows unmarked at the crash`);
      await ctx.platform.apps[app].start();
      lastRestart = Date.now();
    })());
  };
  // Armed before the load: the first batch each relay publishes is its last (a fast load could otherwise finish
  // before a later arming took effect).
  await arm('attribution');
  await arm('ingest');
  const run = await drive(ctx, id, n);
  const timeout = new Promise<void>((resolve) => setTimeout(resolve, 120_000).unref());
  await Promise.race([Promise.all(armed).then(() => undefined), timeout]);
  for (const app of ['attribution', 'ingest'] as const) if (!ctx.platform.apps[app].running) await ctx.platform.apps[app].start();
  r.faultNote = `hook armed before the load; ${crashes.join(', ')} (${unmarked.join(', ')}); restarted without the hook`;
  const exitedOk = crashes.length === 2 && crashes.every((c) => c.endsWith('137'));
  // Ingest's relay died after publishing runs: restarted, it reads those rows again with whatever came after them.
  await audit(ctx, r, run, lastRestart, { recut: true });
  r.checks.unshift({ name: 'relays died after publish (exit 137)', ok: exitedOk, detail: crashes.join(', ') });
  return r;
}

/** d: nats-server stopped and started again under load; file storage keeps streams and durable consumers. */
export async function scenarioNatsRestart(ctx: Context, n: number, signal: NodeJS.Signals): Promise<ScenarioResult> {
  const id = 'd';
  const r: ScenarioResult = { id, title: `nats-server restarted under load (${signal})`, sales: 0, counters: newCounters(), checks: [], faultNote: '' };
  const jsm = await jetstreamManager(ctx.nc);
  const before = new Set<string>();
  for await (const s of jsm.streams.list()) for await (const c of jsm.consumers.list(s.config.name)) before.add(`${s.config.name}/${c.config.durable_name}`);
  const pids = Object.fromEntries(Object.entries(ctx.platform.apps).map(([k, a]) => [k, a.pid]));
  let back = 0;
  const run = await drive(ctx, id, n, 0.3, async () => {
    ctx.log(`  ${signal} nats-server`);
    await ctx.nats.stop(signal);
    await sleep(3000);
    await ctx.nats.start();
    back = Date.now();
    ctx.log('  nats-server started again');
  });
  r.faultNote = `nats-server ${signal} at 30% of postbacks, down 3 s, same store directory`;
  // Unacknowledged runs are published again from the saved cursor, possibly cut otherwise.
  await audit(ctx, r, run, back, { recut: true });
  const after = new Set<string>();
  for await (const s of (await jetstreamManager(ctx.nc)).streams.list()) for await (const c of jsm.consumers.list(s.config.name)) after.add(`${s.config.name}/${c.config.durable_name}`);
  const lost = [...before].filter((x) => !after.has(x));
  r.checks.unshift({ name: 'streams and durables survived', ok: before.size > 0 && lost.length === 0, detail: `${before.size} durables before, missing after: ${lost.join(', ') || 'none'}` });
  const restarted = Object.entries(ctx.platform.apps).filter(([k, a]) => a.pid !== pids[k]).map(([k]) => k);
  r.checks.unshift({ name: 'apps reconnected without restart', ok: restarted.length === 0, detail: restarted.length ? `restarted: ${restarted.join(', ')}` : 'same pids' });
  return r;
}

/** e: Postgres crash-stopped under load: the edges answer 503 + Retry-After, readiness fails, all recover by themselves. */
export async function scenarioPostgresRestart(ctx: Context, n: number): Promise<ScenarioResult> {
  const id = 'e';
  const r: ScenarioResult = { id, title: 'Postgres restarted under load (immediate stop)', sales: 0, counters: newCounters(), checks: [], faultNote: '' };
  const pids = Object.fromEntries(Object.entries(ctx.platform.apps).map(([k, a]) => [k, a.pid]));
  const probes: Record<string, string[]> = { ingest: [], tracking: [] };
  let back = 0;
  let firstOk = 0;
  let downMs = 0;
  const run = await drive(ctx, id, n, 0.3, async () => {
    ctx.log('  pg_ctl stop -m immediate');
    ctx.pg.stop('immediate');
    const down = Date.now();
    // While it is down: what the edges' readiness and a postback/click answer.
    for (let i = 0; i < 8; i++) {
      for (const [app, url] of [['ingest', `${ctx.platform.ingestHttp}/readyz`], ['tracking', `${ctx.platform.trackingHttp}/readyz`]]) {
        const res = await fetch(url, { signal: AbortSignal.timeout(3000) }).catch((e: Error) => ({ status: `error ${e.message}`, headers: new Headers() }));
        probes[app].push(`${res.status}${res.headers.get('retry-after') ? ` (Retry-After ${res.headers.get('retry-after')})` : ''}`);
      }
      await sleep(500);
    }
    await ctx.pg.start();
    back = Date.now();
    downMs = back - down;
    ctx.log('  Postgres started again');
    // The first request that succeeds again at the edge (its pool reconnects by itself).
    for (;;) {
      const res = await fetch(`${ctx.platform.ingestHttp}/readyz`).catch(() => undefined);
      if (res?.status === 200) break;
      await sleep(100);
    }
    firstOk = Date.now() - back;
  });
  r.faultNote = `Postgres down ${(downMs / 1000).toFixed(1)} s (stop at 30% of postbacks to accepting connections again); edges ready again ${firstOk} ms after it was`;
  // The relay lost its connection (and its lead) and reads again from its last saved cursor: runs may be cut otherwise.
  await audit(ctx, r, run, back, { recut: true });
  const restarted = Object.entries(ctx.platform.apps).filter(([k, a]) => a.pid !== pids[k]).map(([k]) => k);
  const uniq = (xs: string[]) => [...new Set(xs)].join(' | ');
  r.checks.unshift(
    { name: 'apps recovered without restart', ok: restarted.length === 0, detail: restarted.length ? `restarted: ${restarted.join(', ')}` : 'same pids' },
    { name: 'edges answered 503 with Retry-After while down', ok: run.counters.http503 > 0 && run.counters.retryAfterSeen > 0, detail: `${run.counters.http503} x 503, ${run.counters.retryAfterSeen} with Retry-After, ${run.counters.connErrors} connection errors` },
    { name: '/readyz failed while down', ok: [...probes.ingest, ...probes.tracking].every((p) => p.startsWith('503')), detail: `ingest ${uniq(probes.ingest)}; tracking ${uniq(probes.tracking)}` },
  );
  return r;
}

/**
 * h: an SMS blast (`blastSize` messages registered over gRPC in calls of 10,000), then attribution and reporting
 * SIGKILLed together while they apply the blast's backlog in batches (a third of its sends applied by reporting),
 * restarted 2 s later, with taps and postbacks for the scenario's own sends going on meanwhile. Beyond the books of
 * the sales: the report shows every send of the blast exactly once.
 */
export async function scenarioBlastKill(ctx: Context, blastSize: number, n: number): Promise<ScenarioResult> {
  const id = 'h';
  const r: ScenarioResult = { id, title: `a ${blastSize.toLocaleString('en-US')}-message blast; attribution and reporting SIGKILLed mid-batch`, sales: 0, counters: newCounters(), checks: [], faultNote: '' };
  const counters = newCounters();
  const { partner, token, offer, messages } = await ctx.load.setup(id, n);
  const sentAt = new Date(Date.now() - 10 * 60_000);
  // The kill: once reporting has applied a third of the blast's sends (its groups are being applied right then).
  // Counted in reporting's table, not in stream messages: tracking publishes the sends as MessagesSent runs of up to
  // 100, so the blast is ~1% as many events as sends, and reporting applies them within a second or two of their
  // registration; the watch therefore starts before the blast is registered.
  const jsm = await jetstreamManager(ctx.nc);
  let killedAt = '';
  let restartedAt = 0;
  const fault = (async () => {
    const deadline = Date.now() + 300_000;
    for (;;) {
      const [row] = await ctx.auditor
        .qs<{ n: string }>('reporting', `SELECT count(*) AS n FROM reporting.messages WHERE message_id LIKE $1`, [`mb-${id}-%`])
        .catch(() => [{ n: '0' }]);
      const applied = Number(row.n);
      if (applied >= blastSize) {
        killedAt = 'reporting had already applied the whole blast (kill came late)';
        break;
      }
      if (applied >= blastSize / 3) {
        const info = await jsm.consumers.info(Streams.tracking.name, 'reporting-trackly-tracking-v1').catch(() => undefined);
        killedAt = `reporting had applied ${applied} of the blast's ${blastSize} sends, ${info?.num_pending ?? '?'} tracking events pending, ${info?.num_ack_pending ?? '?'} unacknowledged`;
        break;
      }
      if (Date.now() > deadline) throw new Error('reporting never started on the blast');
      await sleep(20);
    }
    ctx.log(`  SIGKILL attribution and reporting (${killedAt})`);
    await Promise.all([ctx.platform.apps.attribution.kill('SIGKILL'), ctx.platform.apps.reporting.kill('SIGKILL')]);
    await sleep(2000);
    await Promise.all([ctx.platform.apps.attribution.start(), ctx.platform.apps.reporting.start()]);
    restartedAt = Date.now();
    ctx.log('  attribution and reporting restarted');
  })();
  fault.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
  const t0 = Date.now();
  for (let from = 0; from < blastSize; from += 10_000) {
    const batch = Array.from({ length: Math.min(10_000, blastSize - from) }, (_, k) => ({
      messageId: `mb-${id}-${from + k}`, contactId: `cb-${id}-${from + k}`, phoneE164: '+15551234567',
      campaignId: `camp-${id}`, creativeId: `cr-${id}`, offerId: offer, sentAt,
    }));
    await ctx.load.tracking.registerMessages({ messages: batch }, { deadlineMs: 120_000 });
  }
  ctx.log(`  ${id}: ${blastSize} blast messages registered in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const clickIds = await ctx.load.clicks(messages, n, counters);
  const sales = ctx.load.plan(id, n, messages, clickIds);
  await ctx.load.postbacks(partner, token, sales, counters);
  await fault;
  r.faultNote = `blast of ${blastSize} sends; SIGKILL of attribution and reporting when ${killedAt}; down 2 s`;
  await audit(ctx, r, { sales, counters, partner, offer }, restartedAt);
  const sends = await ctx.auditor.offerSends(offer);
  r.checks.push({ name: 'every send of the blast in the report once', ok: sends === blastSize + n, detail: `${sends} sends on ${offer}, ${blastSize + n} registered` });
  r.checks.unshift({ name: 'killed mid-blast', ok: !killedAt.includes('late'), detail: killedAt });
  return r;
}

/**
 * f: after the load settled, every click event (ClickRecorded and ClicksRecorded runs), conversion event
 * (ConversionReceived and ConversionsReceived runs) and decision event of the scenario is published again under new
 * Nats-Msg-Ids (so stream dedupe cannot help), conversions and decisions before the clicks and each list in reverse:
 * consumers must absorb them by their own idempotency. Clicks and conversions go out three times more: each event as
 * it was, each click or conversion of a run alone (ClickRecorded, ConversionReceived), and all the scenario's clicks
 * and conversions cut into runs of another shape (a re-drive's page ends cut runs otherwise): each is applied once by
 * its key (click id; partner and conversion id) whatever event carries it.
 */
export async function scenarioDuplicatesOutOfOrder(ctx: Context, n: number): Promise<ScenarioResult> {
  const id = 'f';
  const r: ScenarioResult = { id, title: 'same events again under new ids, out of order across streams', sales: 0, counters: newCounters(), checks: [], faultNote: '' };
  const run = await drive(ctx, id, n);
  const expected = expectedBooks(run.sales);
  await ctx.auditor.settle(run.partner, expected.stored, ctx.settleTimeoutMs);
  const js = jetstream(ctx.nc);
  const collect = async (stream: string, subjects: string[], keep: (subject: string, data: Uint8Array) => boolean) => {
    const out: { subject: string; data: Uint8Array }[] = [];
    // Whole stream, filtered here: filter_subjects needs nats-server 2.10.
    const consumer = await js.consumers.get(stream);
    for (;;) {
      const batch = await consumer.fetch({ max_messages: 1000, expires: 1500 });
      let got = 0;
      for await (const m of batch) {
        got++;
        if (subjects.includes(m.subject) && keep(m.subject, m.data)) out.push({ subject: m.subject, data: m.data });
      }
      if (!got) break;
    }
    return out;
  };
  const bytesHave = (needle: string) => (_s: string, data: Uint8Array) => Buffer.from(data).includes(needle);
  // Click events by their decoded offer, not by bytes: a run of taps read together may hold other offers' clicks
  // too (those are re-published with it, harmlessly). Undecodable payloads (scenario g's poison) are skipped.
  const clicksOf = (subject: string, data: Uint8Array): Click[] => {
    try {
      if (subject === Events.ClicksRecorded.subject) return Events.ClicksRecorded.codec.decode(data).clicks;
      const one = Events.ClickRecorded.codec.decode(data).click;
      return one ? [one] : [];
    } catch {
      return [];
    }
  };
  const ofScenario = (c: Click) => c.offerId === run.offer;
  const clickEvents = await collect(Streams.trackingClicks.name, [Events.ClickRecorded.subject, Events.ClicksRecorded.subject], (s, data) => clicksOf(s, data).some(ofScenario));
  const singles = clickEvents.filter((m) => m.subject === Events.ClickRecorded.subject);
  const runs = clickEvents.filter((m) => m.subject === Events.ClicksRecorded.subject);
  const runClicks = runs.flatMap((m) => clicksOf(m.subject, m.data).filter(ofScenario));
  const allClicks = clickEvents.flatMap((m) => clicksOf(m.subject, m.data).filter(ofScenario));
  // Each click of the scenario on the click stream once, alone or in a run (tracking's relay and the driver's early
  // clicks; the relay is not faulted here, so no click was published twice under another cut).
  const carried = new Map<string, number>();
  for (const c of allClicks) carried.set(c.clickId, (carried.get(c.clickId) ?? 0) + 1);
  const twice = [...carried].filter(([, k]) => k > 1).map(([c]) => c);
  const made = run.counters.clicks + run.counters.earlyClickEvents;
  // Conversion events likewise by their decoded partner: a run the ingest relay read together may hold another
  // partner's conversions too (re-published with it, harmlessly); scenario g's poison is skipped.
  const conversionsIn = (subject: string, data: Uint8Array): Conversion[] => {
    try {
      return conversionsOf(subject, data);
    } catch {
      return [];
    }
  };
  const ofPartner = (c: Conversion) => c.partnerId === run.partner;
  const received = await collect(Streams.ingest.name, [Events.ConversionReceived.subject, Events.ConversionsReceived.subject], (s, data) => conversionsIn(s, data).some(ofPartner));
  const receivedSingles = received.filter((m) => m.subject === Events.ConversionReceived.subject);
  const receivedRuns = received.filter((m) => m.subject === Events.ConversionsReceived.subject);
  const runConversions = receivedRuns.flatMap((m) => conversionsIn(m.subject, m.data).filter(ofPartner));
  const allConversions = received.flatMap((m) => conversionsIn(m.subject, m.data).filter(ofPartner));
  // Each stored conversion of the scenario on the ingest stream once, alone or in a run (the relay is not faulted).
  const carriedConversions = new Map<string, number>();
  for (const c of allConversions) carriedConversions.set(c.conversionId, (carriedConversions.get(c.conversionId) ?? 0) + 1);
  const conversionsTwice = [...carriedConversions].filter(([, k]) => k > 1).map(([c]) => c);
  const decided = await collect(Streams.attribution.name, [Events.ConversionAttributed.subject, Events.ConversionUnattributed.subject], bytesHave(run.partner));
  // The same clicks and conversions cut otherwise, as a re-drive's pages or a relay restarted from an older cursor
  // may cut them: reversed, in runs of 7 (the clicks mixing relayed taps with the driver's early clicks).
  const inRunsOf7 = <T>(xs: T[], encode: (run: T[]) => { subject: string; data: Uint8Array }) => {
    const reversed = [...xs].reverse();
    const out: { subject: string; data: Uint8Array }[] = [];
    for (let from = 0; from < reversed.length; from += 7) out.push(encode(reversed.slice(from, from + 7)));
    return out;
  };
  const recut = inRunsOf7(allClicks, (clicks) => ({ subject: Events.ClicksRecorded.subject, data: Events.ClicksRecorded.codec.encode({ clicks }).finish() }));
  const alone = runClicks.map((click) => ({ subject: Events.ClickRecorded.subject, data: Events.ClickRecorded.codec.encode({ click }).finish() }));
  const recutConversions = inRunsOf7(allConversions, (conversions) => ({
    subject: Events.ConversionsReceived.subject,
    data: Events.ConversionsReceived.codec.encode({ conversions }).finish(),
  }));
  const aloneConversions = runConversions.map((conversion) => ({
    subject: Events.ConversionReceived.subject,
    data: Events.ConversionReceived.codec.encode({ conversion }).finish(),
  }));
  const again = [
    ...decided.reverse(),
    ...[...received].reverse(),
    ...aloneConversions.reverse(),
    ...recutConversions,
    ...[...clickEvents].reverse(),
    ...alone.reverse(),
    ...recut,
  ];
  const start = Date.now();
  let k = 0;
  for (const m of again) {
    await js.publish(m.subject, m.data, { msgID: `fault-f-copy-${k++}` });
  }
  r.faultNote =
    `${singles.length} ClickRecorded and ${runs.length} ClicksRecorded (${runClicks.length} of the scenario's clicks in runs) re-published as they were, ` +
    `the ${runClicks.length} run clicks again alone and all ${allClicks.length} clicks again in ${recut.length} runs of 7 (reversed); ` +
    `${receivedSingles.length} ConversionReceived and ${receivedRuns.length} ConversionsReceived (${runConversions.length} of the scenario's conversions in runs) as they were, ` +
    `the ${runConversions.length} run conversions again alone and all ${allConversions.length} again in ${recutConversions.length} runs of 7 (reversed); ` +
    `${decided.length} decision events; all under new ids, decisions first, each list reversed`;
  // On the ingest stream now: each conversion as first published, again as it was, its run's members alone, the re-cut runs.
  await audit(ctx, r, run, start, { eventCopies: 2, receivedCarried: 2 * allConversions.length + runConversions.length + allConversions.length });
  r.checks.unshift({
    name: 'each conversion on the ingest stream once before the copies (alone or in a run)',
    ok: carriedConversions.size === expected.stored && conversionsTwice.length === 0,
    detail: `${carriedConversions.size} conversion ids (${receivedSingles.length} ConversionReceived, ${receivedRuns.length} ConversionsReceived carrying ${runConversions.length}) for ${expected.stored} stored; carried twice: ${conversionsTwice.slice(0, 5).join(', ') || 'none'}`,
  });
  r.checks.unshift({
    name: 'each click on the click stream once (alone or in a run)',
    ok: carried.size === made && twice.length === 0,
    detail: `${carried.size} click ids (${singles.length} ClickRecorded, ${runs.length} ClicksRecorded carrying ${runClicks.length}) for ${made} clicks made; carried twice: ${twice.slice(0, 5).join(', ') || 'none'}`,
  });
  return r;
}

/**
 * g: an undecodable payload on each consumed subject of conversions and clicks (alone and in runs) goes to the dead
 * letters with its reason, and an event that decodes but carries nothing (a conversion alone, a run) after 10
 * deliveries; later events still flow.
 */
export async function scenarioPoison(ctx: Context, n: number): Promise<ScenarioResult> {
  const id = 'g';
  const r: ScenarioResult = { id, title: 'poison message (undecodable payload) on consumed subjects', sales: 0, counters: newCounters(), checks: [], faultNote: '' };
  const js = jetstream(ctx.nc);
  const dlBefore = await ctx.auditor.deadLetters();
  // A length-delimited field 1 claiming 2^35 bytes: no protobuf reader can decode it.
  const poison = Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x01, 0x02]);
  // And one that decodes (to an event without its conversion, a run without conversions) but that no handler can
  // apply: retried, then dead.
  const failing = new Uint8Array(0);
  const seqs: number[] = [];
  // Runs (conversions or taps the relay read together): each its own handler, its own decoder.
  const undecodableSubjects = [Events.ConversionReceived, Events.ConversionsReceived, Events.ClickRecorded, Events.ClicksRecorded].map((e) => e.subject);
  const failingSubjects = [Events.ConversionReceived, Events.ConversionsReceived].map((e) => e.subject);
  for (const [subject, data, tag] of [
    ...undecodableSubjects.map((subject) => [subject, poison, 'undecodable'] as const),
    ...failingSubjects.map((subject) => [subject, failing, 'failing'] as const),
  ]) {
    const h = natsHeaders();
    h.set('Trackly-Fault', 'poison');
    seqs.push((await js.publish(subject, data, { msgID: `fault-poison-${tag}-${subject}`, headers: h })).seq);
  }
  const start = Date.now();
  const run = await drive(ctx, id, n);
  await audit(ctx, r, run, start, { deadLetters: dlBefore });
  const rows = await ctx.auditor.q<{ schema: string; consumer: string; subject: string; reason: string }>(
    ['attribution', 'reporting', 'ingest', 'tracking'].map((s) => `SELECT '${s}' AS schema, consumer, subject, reason FROM "${s}".dead_letters`).join(' UNION ALL '));
  const jsm = await jetstreamManager(ctx.nc);
  const dl = await jsm.streams.info(DeadLetterStream.name).catch(() => undefined);
  const undecodable = rows.filter((x) => x.reason.startsWith('undecodable payload'));
  const exhausted = rows.filter((x) => /^failed 10 times/.test(x.reason));
  // Each poison reaches every consumer of its stream that the suite runs (attribution and reporting consume both the
  // ingest and the click stream).
  const deadIn = (xs: typeof rows, subject: string) => xs.filter((x) => x.subject.endsWith(subject)).map((x) => x.schema).sort();
  // Each dead letter is also a message on the dead-letter stream, its reason in a header.
  const reasons: string[] = [];
  const consumer = await js.consumers.get(DeadLetterStream.name);
  for (;;) {
    const batch = await consumer.fetch({ max_messages: 100, expires: 1500 });
    let got = 0;
    for await (const m of batch) {
      got++;
      reasons.push(`${m.subject}: ${m.headers?.get('Trackly-Dead-Letter-Reason') ?? '(no reason header)'}`);
    }
    if (!got) break;
  }
  // The dead letters checked here replace the generic "no dead letters" check.
  r.checks = r.checks.filter((c) => c.name !== 'dead letters');
  const list = (xs: typeof rows) => xs.map((x) => `${x.consumer}: ${x.subject}: ${x.reason.slice(0, 70)}`).join('; ');
  r.checks.push(
    { name: 'undecodable payloads dead-lettered at once', ok: undecodable.length >= undecodableSubjects.length, detail: list(undecodable) },
    ...undecodableSubjects.map((subject) => ({
      name: `undecodable ${subject.split('.').pop()} dead-lettered by attribution and reporting`,
      ok: deadIn(undecodable, subject).join() === 'attribution,reporting',
      detail: deadIn(undecodable, subject).join(', ') || 'none',
    })),
    { name: 'unappliable event dead-lettered after 10 deliveries', ok: exhausted.length >= failingSubjects.length, detail: list(exhausted) },
    ...failingSubjects.map((subject) => ({
      name: `empty ${subject.split('.').pop()} dead-lettered after 10 deliveries by attribution and reporting`,
      ok: deadIn(exhausted, subject).join() === 'attribution,reporting',
      detail: deadIn(exhausted, subject).join(', ') || 'none',
    })),
    { name: 'no other dead letters', ok: rows.length - dlBefore === undecodable.length + exhausted.length, detail: `${rows.length} rows` },
    {
      name: `dead-letter stream ${DeadLetterStream.name} holds them with reasons`,
      ok: (dl?.state.messages ?? 0) === rows.length && reasons.every((x) => !x.includes('(no reason header)')),
      detail: `${dl?.state.messages ?? 0} messages: ${reasons.map((x) => x.slice(0, 90)).join('; ')}`,
    },
  );
  r.faultNote = `${seqs.length} poison messages (stream seqs ${seqs.join(', ')}) before the load; ${rows.length} dead letters`;
  return r;
}

export type { Books };
