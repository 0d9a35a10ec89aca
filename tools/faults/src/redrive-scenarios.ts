/**
 * Scenarios of data recovery: the JetStream store wiped under load, then re-drive (i); a service's schema restored
 * from a backup taken under load, then re-drive (j). Both end with the usual books and the drift check.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { compareCounts, Drift, OpsClient, retryWhileUnavailable } from '@trackly/grpc';
import { expectedBooks, RECEIVED_ONCE } from './books';
import { PrivatePostgres, freePort, sleep, waitFor } from './infra';
import { Client } from 'pg';
import { newCounters, Sale } from './load';
import type { AppName } from './platform';
import type { Context, ScenarioResult } from './scenarios';
import { audit, drive } from './scenarios';

const PRODUCERS: AppName[] = ['tracking', 'ingest', 'attribution'];
const ALL: AppName[] = ['tracking', 'ingest', 'attribution', 'reporting'];

function clients(ctx: Context): Record<AppName, OpsClient> {
  return Object.fromEntries(ALL.map((a) => [a, new OpsClient(ctx.platform.grpc[a])])) as Record<AppName, OpsClient>;
}

/**
 * The drift check over yesterday..tomorrow (UTC). The driver's "early" click events are published by the driver
 * itself as tracking would (tracking has no row for them), so each read model holds that many more clicks than
 * tracking: those are subtracted, counted from the read models by their click ids.
 */
async function drift(ctx: Context, ops: Record<AppName, OpsClient>): Promise<{ drifts: Drift[]; compared: number }> {
  const day = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString().slice(0, 10);
  const all = [];
  for (const a of ALL) {
    const r = await ops[a].dailyCounts(day(-1), day(1));
    all.push({ service: a, produced: r.produced, applied: r.applied, appliedTypes: r.appliedEventTypes });
  }
  const { drifts, compared } = compareCounts(all);
  const early = new Map<string, number>();
  for (const s of ['attribution', 'reporting']) {
    const rows = await ctx.auditor.qs<{ day: string; n: string }>(s,
      `SELECT to_char(clicked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*) AS n FROM "${s}".clicks WHERE click_id LIKE 'early-%' GROUP BY 1`);
    for (const r of rows) early.set(`${s}|${r.day}`, Number(r.n));
  }
  // Clicks are counted per click under their one logical type, ClickRecorded, whether they travelled alone or in
  // ClicksRecorded runs (tracking counts its rows, the read models theirs).
  const real = drifts.filter((d) => !(d.eventType.endsWith('.ClickRecorded') && d.applied - d.produced === (early.get(`${d.readModel}|${d.day}`) ?? 0)));
  return { drifts: real, compared };
}

const show = (ds: Drift[]) => ds.map((d) => `${d.day} ${d.eventType.split('.').pop()} ${d.readModel} ${d.applied}/${d.producer} ${d.produced}`).join('; ') || 'none';

/** Wait between re-drive calls while a producer answers UNAVAILABLE. */
const RETRY_MS = 2000;

/** Re-drives every producer over the range, in order (catalog and sends before conversions before decisions). */
async function redriveAll(ctx: Context, ops: Record<AppName, OpsClient>, from: Date, to: Date): Promise<string> {
  const parts: string[] = [];
  for (const a of PRODUCERS) {
    let updates = 0;
    // As an operator would (npm run redrive does the same): UNAVAILABLE (JetStream not answering yet after its
    // restart) means run it again.
    const last = await retryWhileUnavailable(() => ops[a].redrive({ fromTime: from, toTime: to, eventTypes: [], dryRun: false }, () => updates++), {
      attempts: 10,
      delayMs: RETRY_MS,
      onRetry: (e) => ctx.log(`  re-drive ${a}: ${e.message}; again in ${RETRY_MS / 1000} s`),
    });
    const line = last.counts.map((c) => `${c.eventType.split('.').pop()} ${c.published}/${c.matched}`).join(', ');
    ctx.log(`  re-drive ${a}: ${line} (${updates} progress messages)`);
    parts.push(`${a}: ${line}`);
  }
  return parts.join('; ');
}

/** The driver's own "early" click events (it plays tracking for them): published again under the same ids. */
async function republishEarlyClicks(ctx: Context, sales: Sale[]): Promise<number> {
  const early = sales.filter((s) => s.kind === 'early' && !s.resend && !s.twin);
  const scratch = newCounters();
  const run = `faults-${Date.now()}`;
  for (const s of early) await ctx.load.publishEarlyClick(s, scratch, run);
  return early.length;
}

/** Waits until nothing is unpublished and every durable has applied what its stream holds. */
async function quiet(ctx: Context, what: string): Promise<void> {
  await waitFor(what, async () => {
    const lag = await ctx.auditor.lag().catch(() => undefined);
    return !!lag && lag.pending === 0 && lag.ackPending === 0 && (await ctx.auditor.unpublishedOutbox()) === 0;
  }, ctx.settleTimeoutMs, 500);
}

/** The usual books, with the stream checks of "events present" instead of "once": the streams are new. */
async function finish(ctx: Context, r: ScenarioResult, run: Awaited<ReturnType<typeof drive>>, since: number, ops: Record<AppName, OpsClient>): Promise<void> {
  await audit(ctx, r, run, since);
  const e = expectedBooks(run.sales);
  const b = r.books!;
  // A stream now holds each event once as published plus each re-driven copy (its own Nats-Msg-Id, the original id
  // in Trackly-Event-Id): consumers apply one of them. What must hold is that every conversion's events are there.
  // A re-drive cuts conversions into runs as its pages fall, so a run may carry conversions the relay cut otherwise.
  r.checks = r.checks.filter((c) => c.name !== 'one decision event per conversion' && c.name !== RECEIVED_ONCE);
  r.checks.push(
    { name: 'every conversion decided on the stream again', ok: b.decisionEventConversions === e.stored, detail: `${b.decisionEventConversions} conversions, ${b.decisionEvents} events` },
    {
      name: 'every conversion received on the stream again (alone or in runs)',
      ok: b.receivedEventConversions === e.stored,
      detail: `${b.receivedEventConversions} conversions carried ${b.receivedCarried} times by ${b.receivedEvents} events (${b.receivedRuns} ConversionsReceived)`,
    },
  );
  const after = await drift(ctx, ops);
  r.checks.push({ name: 'drift check: read models = producers', ok: after.compared > 0 && after.drifts.length === 0, detail: `${after.compared} counts compared; differences: ${show(after.drifts)}` });
}

/**
 * i: under load, reporting paused (SIGSTOP, so the broker holds events it has not applied), then nats-server killed
 * and its store directory deleted: every stream, every durable and every event in them are gone. nats-server starts
 * empty; reporting continues. The apps' consumers recreate streams and durables by themselves, the relays publish
 * on. Then every producer re-drives the scenario's time range under the original ids: the books must be exact.
 */
export async function scenarioStoreWiped(ctx: Context, n: number): Promise<ScenarioResult> {
  const id = 'i';
  const r: ScenarioResult = { id, title: 'JetStream store wiped under load, then re-drive', sales: 0, counters: newCounters(), checks: [], faultNote: '' };
  const ops = clients(ctx);
  const from = new Date(Date.now() - 60_000);
  // Exits before this scenario (an earlier one's SIGKILLs) are not this scenario's restarts.
  const exitsBefore = Object.fromEntries(ALL.map((a) => [a, ctx.platform.apps[a].exits.length]));
  let held = '';
  let lost = 0;
  try {
    const run = await drive(ctx, id, n, 0.3, async () => {
      const reporting = ctx.platform.apps.reporting.pid!;
      process.kill(reporting, 'SIGSTOP');
      await sleep(2000);
      const lag = await ctx.auditor.lag();
      lost = lag.pending + lag.ackPending;
      held = lag.detail;
      ctx.log(`  reporting paused; the store holds ${lost} unapplied deliveries (${held}); SIGKILL nats-server, delete its store`);
      await ctx.nats.stop('SIGKILL');
      fs.rmSync(path.join(ctx.nats.dir, 'jetstream'), { recursive: true, force: true });
      await ctx.nats.start();
      process.kill(reporting, 'SIGCONT');
      ctx.log('  nats-server started on an empty store; reporting resumed');
    });
    await quiet(ctx, 'the apps to recreate their streams and drain what was published after the wipe');
    const before = await drift(ctx, ops);
    ctx.log(`  before re-drive: ${before.drifts.length} differences (${show(before.drifts).slice(0, 300)})`);
    const start = Date.now();
    const redriven = await redriveAll(ctx, ops, from, new Date(Date.now() + 60_000));
    const early = await republishEarlyClicks(ctx, run.sales);
    r.faultNote = `store wiped at 30% of postbacks with ${lost} deliveries unapplied (${held || '-'}); re-driven ${redriven}; ${early} driver-made early clicks published again`;
    await finish(ctx, r, run, start, ops);
    r.checks.unshift(
      { name: 'the wipe lost events the read models needed', ok: lost > 0 && before.drifts.length > 0, detail: `${lost} unapplied deliveries wiped; drift before re-drive: ${show(before.drifts).slice(0, 400)}` },
      {
        name: 'same app processes throughout (no restart needed)',
        ok: ALL.every((a) => ctx.platform.apps[a].exits.length === exitsBefore[a]),
        detail: ALL.map((a) => `${a} exits ${ctx.platform.apps[a].exits.length - exitsBefore[a]}`).join(', '),
      },
    );
  } finally {
    for (const c of Object.values(ops)) c.close();
  }
  return r;
}

/**
 * j: reporting's schema backed up with pg_dump (-n reporting, custom format) under load, the load goes on, then
 * the schema is lost (dropped) and restored from the backup with pg_restore while reporting is stopped; reporting
 * starts on the restored (older) schema, and the producers re-drive from the backup's time on: the books exact.
 */
export async function scenarioBackupRestore(ctx: Context, n: number): Promise<ScenarioResult> {
  const id = 'j';
  const r: ScenarioResult = { id, title: "reporting's schema restored from a backup taken under load, then re-drive", sales: 0, counters: newCounters(), checks: [], faultNote: '' };
  const ops = clients(ctx);
  const dump = path.join(ctx.pg.dir, 'reporting.dump');
  const bin = (name: string) => pgTool(name);
  let backupAt = new Date();
  let dumpBytes = 0;
  try {
    const run = await drive(ctx, id, n, 0.5, async () => {
      backupAt = new Date();
      execFileSync(bin('pg_dump'), ['-h', '127.0.0.1', '-p', String(ctx.pg.port), '-U', 'postgres', '-n', 'reporting', '-Fc', '-f', dump, 'trackly']);
      dumpBytes = fs.statSync(dump).size;
      ctx.log(`  pg_dump -n reporting: ${dumpBytes} bytes at ${backupAt.toISOString()}`);
    });
    await ctx.auditor.settle(run.partner, expectedBooks(run.sales).stored, ctx.settleTimeoutMs);
    const [{ n: before }] = await ctx.auditor.q<{ n: string }>(`SELECT count(*) AS n FROM reporting.credited_conversions WHERE partner_id = $1`, [run.partner]);
    ctx.log('  reporting stopped; DROP SCHEMA reporting CASCADE; pg_restore');
    await ctx.platform.apps.reporting.kill('SIGTERM');
    await ctx.auditor.q('DROP SCHEMA reporting CASCADE');
    execFileSync(bin('pg_restore'), ['-h', '127.0.0.1', '-p', String(ctx.pg.port), '-U', 'postgres', '-d', 'trackly', '--exit-on-error', dump]);
    const [{ n: restored }] = await ctx.auditor.q<{ n: string }>(`SELECT count(*) AS n FROM reporting.credited_conversions WHERE partner_id = $1`, [run.partner]);
    await ctx.platform.apps.reporting.start();
    const start = Date.now();
    // From a little before the backup: what the backup holds is skipped by processed_events, the rest applied.
    const redriven = await redriveAll(ctx, ops, new Date(backupAt.getTime() - 60_000), new Date(Date.now() + 60_000));
    const early = await republishEarlyClicks(ctx, run.sales);
    r.faultNote = `pg_dump of reporting (${dumpBytes} bytes) at 50% of postbacks; ${before} credited rows before the loss, ${restored} in the restored backup; re-driven ${redriven}; ${early} driver-made early clicks published again`;
    await finish(ctx, r, run, start, ops);
    r.checks.unshift({ name: 'the backup was older than the books', ok: Number(restored) < Number(before), detail: `${restored} credited rows restored, ${before} before the loss` });
  } finally {
    for (const c of Object.values(ops)) c.close();
  }
  return r;
}

/** pg_dump/pg_restore of the installed server version (the suite's Postgres comes from the same directory). */
function pgTool(name: string): string {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const p = path.join(root, v, 'bin', name);
    if (fs.existsSync(p)) return p;
  }
  return name;
}

/**
 * k: reporting moves to a Postgres server of its own and is rebuilt there from nothing. A second cluster is started
 * (initdb on another port), reporting is stopped, pointed at it (DATABASE_URL) and started: its migrations make an
 * empty schema; its durable consumers in JetStream carry on from where they were. Then every producer re-drives
 * everything the suite did (the suite's whole time range) and the driver its early clicks: reporting's facts are
 * rebuilt from upstream on the other server, the books exact and the drift check clean, while tracking, ingest and
 * attribution stay on the first server.
 */
export async function scenarioReportingOwnServer(ctx: Context, n: number, suiteStart: Date, onStop: (stop: () => Promise<void>) => void): Promise<ScenarioResult> {
  const id = 'k';
  const r: ScenarioResult = { id, title: 'reporting on a Postgres server of its own, rebuilt from re-driven events into an empty schema', sales: 0, counters: newCounters(), checks: [], faultNote: '' };
  const ops = clients(ctx);
  try {
    const run = await drive(ctx, id, n);
    await ctx.auditor.settle(run.partner, expectedBooks(run.sales).stored, ctx.settleTimeoutMs);
    const dir = path.join(ctx.pg.dir, 'second');
    fs.mkdirSync(dir, { recursive: true });
    const second = new PrivatePostgres(dir, await freePort());
    second.init();
    await second.start();
    onStop(async () => second.stop('fast'));
    const admin = new Client({ connectionString: `postgres://postgres@127.0.0.1:${second.port}/postgres` });
    await admin.connect();
    await admin.query('CREATE DATABASE trackly');
    await admin.end();
    ctx.log(`  second Postgres on ${second.port}; reporting stopped, pointed at it, started on an empty schema`);
    await ctx.platform.apps.reporting.kill('SIGTERM');
    ctx.platform.apps.reporting.setEnv({ DATABASE_URL: second.url });
    await ctx.platform.apps.reporting.start();
    ctx.auditor.useReportingServer(second.url);
    // Reporting's dead letters of earlier scenarios (g's poison) stayed in the schema it left: the books expect what
    // the servers hold now, and the poison is not re-driven (producers never stored it).
    ctx.deadLettersBefore = await ctx.auditor.deadLetters();
    const [{ n: empty }] = await ctx.auditor.qs<{ n: string }>('reporting', 'SELECT count(*) AS n FROM reporting.messages');
    const start = Date.now();
    const redriven = await redriveAll(ctx, ops, new Date(suiteStart.getTime() - 60_000), new Date(Date.now() + 60_000));
    const scratchRuns = await ctx.auditor.q<{ n: string }>(`SELECT count(*) AS n FROM attribution.clicks WHERE click_id LIKE 'early-%'`);
    // Every scenario's early clicks (the driver's own events) again: reporting lost them with its schema.
    const early = await republishEarlyClicks(ctx, run.sales);
    r.faultNote = `reporting moved to a second server (port ${second.port}) with ${empty} rows; re-driven ${redriven}; early clicks again: ${early} of this scenario (${scratchRuns[0].n} in the suite)`;
    await finish(ctx, r, run, start, ops);
    const [{ n: there }] = await ctx.auditor.qs<{ n: string }>('reporting', 'SELECT count(*) AS n FROM reporting.messages');
    const [{ n: producers }] = await ctx.auditor.q<{ n: string }>('SELECT count(*) AS n FROM tracking.messages');
    r.checks.unshift({
      name: 'reporting rebuilt on its own server from nothing',
      ok: Number(empty) === 0 && Number(there) === Number(producers),
      detail: `${empty} sends before the re-drive, ${there} after, tracking (first server) holds ${producers}`,
    });
  } finally {
    for (const c of Object.values(ops)) c.close();
  }
  return r;
}
