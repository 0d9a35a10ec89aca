/**
 * `npm run test:faults [-- --quick] [--n 10000] [--m 1000] [--blast 100000] [--only a,c] [--keep]`: the fault suite. Starts a private
 * Postgres and nats-server, the four services as real processes on them, then runs each scenario and prints the
 * books. Exits non-zero when any check fails. The driver (tools/faults/run.js) builds the apps first.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { connect } from '@nats-io/transport-node';
import { Auditor, fmt } from './books';
import { freePort, PrivateNats, PrivatePostgres } from './infra';
import { LoadDriver, newCounters } from './load';
import { startPlatform } from './platform';
import {
  Context,
  passed,
  ScenarioResult,
  scenarioBlastKill,
  scenarioDuplicatesOutOfOrder,
  scenarioKill,
  scenarioNatsRestart,
  scenarioPoison,
  scenarioPostgresRestart,
  scenarioRelayCrash,
} from './scenarios';
import { scenarioBackupRestore, scenarioReportingOwnServer, scenarioStoreWiped } from './redrive-scenarios';
import { scenarioTwoReplicas } from './scale-scenarios';

function args() {
  const argv = process.argv.slice(2);
  // `--only f,g` or `--only=f,g` (as `npm run bench` takes its flags): either form selects, neither is ignored.
  const val = (name: string) => {
    const eq = argv.find((x) => x.startsWith(`${name}=`));
    if (eq) return eq.slice(name.length + 1);
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const quick = argv.includes('--quick');
  return {
    quick,
    n: Number(val('--n') ?? (quick ? 1000 : 10_000)),
    m: Number(val('--m') ?? (quick ? 300 : 1000)),
    only: val('--only')?.split(',') ?? ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'l', 'k'],
    blast: Number(val('--blast') ?? (quick ? 20_000 : 100_000)),
    keep: argv.includes('--keep'),
    root: val('--root') ?? process.cwd(),
    natsSignal: (val('--nats-signal') ?? 'SIGTERM') as NodeJS.Signals,
  };
}

function table(results: ScenarioResult[]): string {
  const head = ['scenario', 'sent', 'stored', 'credited', 'unattributed by reason', 'revenue in (payouts credited)', 'revenue out (report)', 'duplicates absorbed', '503 / conn. errors', 'recovery', 'result'];
  const rows = results.map((r) => {
    const b = r.books;
    const c = r.counters;
    const dup = `${c.answers.duplicate ?? 0} resent (answered duplicate), ${r.expected?.unattributed.DUPLICATE ?? 0} twins`;
    return [
      `${r.id}. ${r.title}`,
      `${c.postbacksSent} postbacks, ${c.clicks} taps, ${c.earlyClickEvents} late click events (${c.parkedPeak} parked at peak)`,
      b ? `${b.stored}` : '-',
      b ? `${b.credited}` : '-',
      b ? Object.entries(b.unattributed).sort().map(([k, v]) => `${k} ${v}`).join(', ') || '-' : '-',
      r.expected ? fmt(r.expected.revenue) : '-',
      b ? fmt(b.revenueReport) : '-',
      dup,
      `${c.http503} / ${c.connErrors}`,
      r.recoveryMs !== undefined ? `${(r.recoveryMs / 1000).toFixed(1)} s` : '-',
      passed(r) ? 'PASS' : 'FAIL',
    ];
  });
  const md = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
  const details = results.flatMap((r) => [
    '',
    `### ${r.id}. ${r.title} — ${passed(r) ? 'PASS' : 'FAIL'}`,
    '',
    `Fault: ${r.faultNote || '-'}${r.error ? `\n\nError: ${r.error}` : ''}`,
    '',
    `Postback answers: ${JSON.stringify(r.counters.answers)}`,
    '',
    '| check | ok | detail |',
    '| --- | --- | --- |',
    ...r.checks.map((c) => `| ${c.name} | ${c.ok ? 'yes' : '**NO**'} | ${c.detail.replace(/\|/g, '/')} |`),
  ]);
  return [...md, ...details].join('\n');
}

async function main(): Promise<number> {
  const a = args();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trackly-faults-'));
  const out = path.join(a.root, 'dist/faults');
  fs.mkdirSync(out, { recursive: true });
  const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
  log(`fault suite: n=${a.n} (scenario a), m=${a.m} (others), scenarios ${a.only.join(',')}; work dir ${dir}`);

  const pg = new PrivatePostgres(dir, await freePort());
  const nats = new PrivateNats(dir, await freePort());
  pg.init();
  await pg.start();
  await nats.start();
  log(`private Postgres on ${pg.port}, nats-server on ${nats.port}`);
  const admin = new Client({ connectionString: `postgres://postgres@127.0.0.1:${pg.port}/postgres` });
  await admin.connect();
  await admin.query('CREATE DATABASE trackly');
  await admin.end();

  const platform = await startPlatform({ appsDir: path.join(out, 'apps'), logDir: path.join(out, 'logs'), databaseUrl: pg.url, natsUrl: nats.url, parkHorizonSeconds: 600 });
  log('apps up: tracking, ingest, attribution, reporting');
  const nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 250, name: 'fault-suite' });
  const load = new LoadDriver(platform, nc);
  const auditor = new Auditor(pg.url, nc, platform.grpc.reporting);
  const ctx: Context = { platform, pg, nats, nc, load, auditor, log, settleTimeoutMs: a.quick ? 300_000 : 900_000 };

  const suiteStart = new Date();
  const cleanups: (() => Promise<void>)[] = [];
  const scenarios: Record<string, () => Promise<ScenarioResult>> = {
    a: () => scenarioKill(ctx, 'a', 'attribution', a.n),
    b: () => scenarioKill(ctx, 'b', 'reporting', a.m),
    c: () => scenarioRelayCrash(ctx, a.m),
    d: () => scenarioNatsRestart(ctx, a.m, a.natsSignal),
    e: () => scenarioPostgresRestart(ctx, a.m),
    f: () => scenarioDuplicatesOutOfOrder(ctx, a.m),
    g: () => scenarioPoison(ctx, a.m),
    h: () => scenarioBlastKill(ctx, a.blast, a.m),
    i: () => scenarioStoreWiped(ctx, a.m),
    j: () => scenarioBackupRestore(ctx, a.m),
    l: () => scenarioTwoReplicas(ctx, a.m),
    // Last: reporting stays on the second server for whatever runs after it.
    k: () => scenarioReportingOwnServer(ctx, a.m, suiteStart, (stop) => cleanups.push(stop)),
  };
  const results: ScenarioResult[] = [];
  for (const id of a.only) {
    const t0 = Date.now();
    log(`scenario ${id}`);
    try {
      ctx.deadLettersBefore = await ctx.auditor.deadLetters();
      results.push(await scenarios[id]());
    } catch (e) {
      results.push({ id, title: `scenario ${id}`, sales: 0, counters: newCounters(), checks: [], faultNote: '', error: (e as Error).stack ?? String(e) });
    }
    const r = results.at(-1)!;
    log(`scenario ${id}: ${passed(r) ? 'PASS' : 'FAIL'} in ${((Date.now() - t0) / 1000).toFixed(0)} s${r.error ? ` (${r.error.split('\n')[0]})` : ''}`);
    for (const c of r.checks.filter((x) => !x.ok)) log(`  FAILED ${c.name}: ${c.detail}`);
  }

  const summary = [
    `# Fault suite — ${new Date().toISOString()}`,
    '',
    `n=${a.n} sales in scenario a, m=${a.m} in the others${a.quick ? ' (--quick)' : ''}; private Postgres and nats-server; apps as built processes.`,
    '',
    table(results),
    '',
  ].join('\n');
  fs.writeFileSync(path.join(out, 'summary.md'), summary);
  console.log(`\n${summary}`);
  log(`summary written to ${path.join(out, 'summary.md')}; app logs in ${path.join(out, 'logs')}`);

  load.close();
  auditor.close();
  await nc.close().catch(() => undefined);
  await auditor.end();
  await platform.stop();
  for (const stop of cleanups) await stop().catch(() => undefined);
  await nats.stop();
  pg.stop('fast');
  if (!a.keep) fs.rmSync(dir, { recursive: true, force: true });
  return results.every(passed) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`fault suite failed to run: ${(e as Error).stack ?? e}`);
    process.exit(2);
  },
);
