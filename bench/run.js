#!/usr/bin/env node
'use strict';
/**
 * `npm run bench [-- --tiny | --quick] [-- --only=ingest,lag [--merge]] [-- --cpu-prof] [-- --<scenario>-<flag>=v]`
 * (e.g. `--replay-conversions=100000`, `--lag-rate=50`: a scenario's own flag, passed on to it)
 *
 * Runs each scenario in turn as a child process (click, ingest, lag, replay, reports), collects the JSON each one
 * writes, adds the memory scenario (peak RSS per app over all runs) and writes one table, with the machine's
 * cores, CPU, RAM and versions, to bench/results/latest.{md,json} plus a dated copy. --tiny (CI: checks every
 * scenario starts and completes, figures meaningless) writes to dist/bench/results instead, so CI leaves no files
 * to commit. --merge keeps the scenarios not re-run from the last latest.json. Exits non-zero when a scenario fails or finds lost data; a missed target is reported, not a failure.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { acquireBenchLock, parseArgs, modeOf, admin, NATS_URL } = require('./lib/common');
const { build, ROOT } = require('./lib/platform');
const { metric } = require('./lib/results');

const args = parseArgs();
const MODE = modeOf(args);
const CPU_PROF = args['cpu-prof'] === 'true';
const modeFlag = { tiny: ['--tiny'], quick: ['--quick'], full: [] }[MODE];
const prof = CPU_PROF ? ['--cpu-prof'] : [];

/** Each scenario: how to run it for this mode. The click and reports benches know --quick only (their smallest). */
const SCENARIOS = {
  click: () => ['npm', ['run', '--silent', 'bench:click', '--', ...(MODE === 'full' ? [] : ['--quick']), ...(MODE === 'tiny' ? ['--duration=2'] : []), ...prof]],
  ingest: () => [process.execPath, ['bench/ingest.bench.js', '--no-build', ...modeFlag, ...prof]],
  lag: () => [process.execPath, ['bench/lag.bench.js', '--no-build', ...modeFlag, ...prof]],
  replay: () => [process.execPath, ['bench/replay.bench.js', '--no-build', ...modeFlag, ...prof]],
  backlog: () => [process.execPath, ['bench/backlog.bench.js', '--no-build', ...modeFlag, ...prof]],
  blast: () => [process.execPath, ['bench/blast.bench.js', '--no-build', ...modeFlag, ...prof]],
  delivery: () => [process.execPath, ['bench/delivery.bench.js', '--no-build', ...modeFlag, ...prof]],
  // Last: its full seed (10 M clicks) is the longest step of the suite.
  reports: () => ['npm', ['run', '--silent', 'bench:reports', '--', ...(MODE === 'full' ? [] : ['--quick'])]],
};

function run(cmd, argv) {
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { cwd: ROOT, stdio: 'inherit', env: process.env });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

async function machine() {
  const cpus = os.cpus();
  const info = {
    cores: cpus.length,
    cpu: cpus[0]?.model?.trim() ?? 'unknown',
    ramGb: +(os.totalmem() / 2 ** 30).toFixed(1),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    loadAvgAtStart: os.loadavg().map((x) => +x.toFixed(2)),
  };
  info.postgres = await admin(async (c) => (await c.query('SHOW server_version')).rows[0].server_version).catch((e) => `unknown (${e.message})`);
  try {
    const { connect } = require('@nats-io/transport-node');
    const nc = await connect({ servers: NATS_URL });
    info.nats = nc.info?.version ?? 'unknown';
    info.jetstream = !!nc.info?.jetstream;
    await nc.close();
  } catch (e) {
    info.nats = `unknown (${e.message})`;
  }
  return info;
}

const fmt = (x) => (x === null || x === undefined ? '—' : typeof x === 'number' ? String(x) : x);

function markdown(report) {
  const m = report.machine;
  const lines = [
    `# Benchmark results (${report.mode})`,
    '',
    `Run ${report.startedAt} → ${report.finishedAt}${report.merged?.length ? ` (kept from an earlier run: ${report.merged.join(', ')})` : ''}. Machine: ${m.cores} cores (${m.cpu}), ${m.ramGb} GB RAM, ${m.os}; node ${m.node}, PostgreSQL ${m.postgres}, nats-server ${m.nats}. Load average at start ${m.loadAvgAtStart.join(' / ')}, at end ${m.loadAvgAtEnd.join(' / ')}.`,
    '',
    'Each baseline ran in the same run, on the same machine and database server (click and ingest: in alternating slices with the app, bench/lib/alternate.js); ratios = this project ÷ baseline (higher is better for rates, lower for latencies).',
    '',
    '| scenario | metric | this project | baseline | ratio | target | met? |',
    '| --- | --- | ---: | ---: | ---: | --- | --- |',
  ];
  for (const s of report.scenarios) {
    if (!s.metrics?.length) lines.push(`| ${s.scenario} | (no result: ${s.error ?? 'failed'}) | | | | | |`);
    for (const x of s.metrics ?? []) {
      lines.push(`| ${s.scenario} | ${x.metric} | ${fmt(x.value)} ${x.unit} | ${x.baseline === null ? '—' : `${x.baseline} ${x.unit}`} | ${x.ratio === null ? '—' : `${x.ratio}×`} | ${x.target ?? '—'} | ${x.met === null ? '—' : x.met ? 'yes' : '**no**'} |`);
    }
  }
  lines.push('', '## Correctness checks', '', '| scenario | check | value | ok |', '| --- | --- | --- | --- |');
  for (const s of report.scenarios) for (const k of s.checks ?? []) lines.push(`| ${s.scenario} | ${k.check} | ${fmt(k.value)} | ${k.ok ? 'yes' : '**NO**'} |`);
  const notes = report.scenarios.flatMap((s) => (s.notes ?? []).map((n) => `- ${s.scenario}: ${n}`));
  if (notes.length) lines.push('', '## Notes', '', ...notes);
  return `${lines.join('\n')}\n`;
}

async function main() {
  const only = args.only ? args.only.split(',') : Object.keys(SCENARIOS);
  const unknown = only.filter((n) => !SCENARIOS[n]);
  if (unknown.length) throw new Error(`unknown scenario(s): ${unknown.join(', ')} (known: ${Object.keys(SCENARIOS).join(', ')})`);
  await acquireBenchLock();
  const startedAt = new Date().toISOString();
  const outDir = path.join(ROOT, MODE === 'tiny' ? 'dist/bench/results' : 'bench/results');
  const partDir = path.join(ROOT, 'dist/bench/parts');
  fs.mkdirSync(partDir, { recursive: true });
  const info = await machine();
  console.log(`== bench (${MODE}): ${only.join(', ')} on ${info.cores} cores, ${info.cpu}, node ${info.node}, PostgreSQL ${info.postgres}, nats ${info.nats}`);
  build();

  const scenarios = [];
  for (const name of only) {
    const file = path.join(partDir, `${name}.json`);
    fs.rmSync(file, { force: true });
    const [cmd, argv0] = SCENARIOS[name]();
    // --<scenario>-<flag>=v reaches that scenario as --<flag>=v (e.g. --lag-rate=50 --lag-duration=30).
    const own = Object.entries(args).filter(([k]) => k.startsWith(`${name}-`)).map(([k, v]) => `--${k.slice(name.length + 1)}=${v}`);
    const argv = [...argv0, ...(cmd === 'npm' && !argv0.includes('--') ? ['--'] : []), ...own];
    console.log(`\n== ${name}: ${[path.basename(cmd), ...argv].join(' ')}`);
    const t = Date.now();
    const code = await run(cmd, [...argv, `--json=${file}`]);
    const seconds = +((Date.now() - t) / 1000).toFixed(1);
    let result = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : { scenario: name, ok: false, metrics: [], error: `exited ${code} without a result` };
    if (code !== 0) result = { ...result, ok: false, error: result.error ?? `exited ${code}` };
    scenarios.push({ ...result, seconds });
    console.log(`== ${name}: ${result.ok ? 'ok' : 'FAILED'} in ${seconds} s`);
  }

  // --merge: re-ran some scenarios; keep the others from the last report (each scenario keeps its own finishedAt).
  const previous = path.join(outDir, 'latest.json');
  let earlier = [];
  if (args.merge === 'true' && fs.existsSync(previous)) {
    earlier = JSON.parse(fs.readFileSync(previous, 'utf8')).scenarios.filter((s) => s.scenario !== 'memory' && !only.includes(s.scenario));
    scenarios.unshift(...earlier);
    scenarios.sort((a, b) => Object.keys(SCENARIOS).indexOf(a.scenario) - Object.keys(SCENARIOS).indexOf(b.scenario));
  }

  // Memory: the highest peak RSS each app reached in any scenario.
  const peaks = {};
  for (const s of scenarios) for (const [app, mb] of Object.entries(s.memory ?? {})) if (mb !== null && (peaks[app] ?? 0) < mb) peaks[app] = mb;
  scenarios.push({
    scenario: 'memory',
    ok: true,
    // The reports bench hosts reporting inside its own process, next to the COPY seeding of 23 M rows: that figure
    // is the bench's, shown but not judged against the apps' target.
    metrics: Object.entries(peaks).map(([app, mb]) =>
      metric(`peak RSS, ${app}`, mb, 'MB', { target: { op: '<', value: 300, of: 'value', text: '< 300 MB', applies: !app.includes('bench process') } }),
    ),
    checks: [],
    notes: ['VmHWM of each app process, read just before it stopped, highest over the scenarios above.'],
  });

  const report = { mode: MODE, merged: earlier.map((s) => `${s.scenario} (${s.finishedAt})`), startedAt, finishedAt: new Date().toISOString(), machine: { ...info, loadAvgAtEnd: os.loadavg().map((x) => +x.toFixed(2)) }, scenarios };
  fs.mkdirSync(outDir, { recursive: true });
  const stamp = startedAt.slice(0, 16).replace(/:/g, '-');
  const md = markdown(report);
  for (const base of ['latest', `${stamp}-${MODE}`]) {
    fs.writeFileSync(path.join(outDir, `${base}.json`), `${JSON.stringify(report, null, 2)}\n`);
    fs.writeFileSync(path.join(outDir, `${base}.md`), md);
  }
  console.log(`\n${md}\nwritten to ${path.relative(ROOT, outDir)}/latest.{md,json} and ${stamp}-${MODE}.{md,json}`);
  const failed = scenarios.filter((s) => !s.ok).map((s) => s.scenario);
  if (failed.length) {
    console.error(`failed: ${failed.join(', ')}`);
    process.exit(1);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
