'use strict';
/**
 * The apps under test, built into a folder of the bench's own (dist/bench/platform, so a concurrent `nx build`
 * cannot pull files away mid-run) and started as child processes on one throwaway database, one NATS prefix and
 * free ports, as `npm start` runs them. Reads each child's peak RSS (VmHWM) before stopping it.
 */
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { allocatePorts, appEnv, endpoints, NAMES, spawnApp, waitReady } = require('../../tools/launcher');
const { NATS_URL } = require('./common');

const ROOT = path.resolve(__dirname, '../..');
const DIST = path.join(ROOT, 'dist/bench/platform');
const PROFILE_DIR = path.join(ROOT, 'dist/bench/profiles');
// The bench's tsc build puts every app under one root (dist/bench/platform/apps/<app>/src), not nx's per-app folders.
const mainOf = (app) => path.join(DIST, 'apps', app, 'src/main.js');

/** Compiles the apps (and the libs they import) with one tsc run (the benches use the gateway's API, not the console). */
function build() {
  const t = Date.now();
  fs.rmSync(DIST, { recursive: true, force: true });
  const bin = (name) => path.join(ROOT, 'node_modules/.bin', name);
  try {
    execFileSync(bin('tsc'), ['-p', 'bench/tsconfig.apps.json'], { cwd: ROOT, stdio: 'inherit' });
  } catch {
    // tsc still emits on type errors (the typecheck of `npm test` owns those); a missing main is what stops us.
    console.warn('bench build: tsc reported type errors (see above); running what it emitted');
  }
  execFileSync(bin('tsc-alias'), ['-p', 'bench/tsconfig.apps.json'], { cwd: ROOT, stdio: 'inherit' });
  for (const app of NAMES) if (!fs.existsSync(mainOf(app))) throw new Error(`bench build: ${mainOf(app)} is missing`);
  console.log(`built the apps into ${path.relative(ROOT, DIST)} in ${((Date.now() - t) / 1000).toFixed(1)} s`);
}

/** Builds unless told the orchestrator already did (`--no-build`) or the build is missing. */
function ensureBuilt(args) {
  if (args['no-build'] === 'true' && fs.existsSync(mainOf('gateway'))) return;
  build();
}

/** A compiled module of the tree (contracts, libs), for the bench's own gRPC clients. */
const requireDist = (rel) => require(path.join(DIST, rel));

function grpcClient(service, address, deadlineMs = 30_000) {
  const { createGrpcClient } = requireDist('libs/grpc/src');
  return createGrpcClient(service, address, { deadlineMs });
}

/** gRPC clients of tracking and ingest on a started platform, and ingest's PartnerKind (to register partners). */
function trackingAndIngest(platform, trackingDeadlineMs) {
  const { TrackingServiceService } = requireDist('libs/contracts/src/gen/trackly/tracking/v1/tracking_service');
  const { IngestServiceService } = requireDist('libs/contracts/src/gen/trackly/ingest/v1/ingest_service');
  const { PartnerKind } = requireDist('libs/contracts/src/gen/trackly/ingest/v1/ingest');
  return { tracking: grpcClient(TrackingServiceService, platform.trackingGrpc, trackingDeadlineMs), ingest: grpcClient(IngestServiceService, platform.ingestGrpc), PartnerKind };
}

/** Peak resident set size (VmHWM) of a live process in MB, from /proc (Linux only). */
function peakRssMb(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? +(Number(m[1]) / 1024).toFixed(1) : null;
  } catch {
    return null;
  }
}

/**
 * Starts the named apps (in dependency order) on `databaseUrl` and NATS prefix `prefix`. `cpuProf` writes a
 * .cpuprofile per app into dist/bench/profiles when it stops; `label` names the files. `env` adds variables.
 */
async function startApps(names, { databaseUrl, prefix, cpuProf = false, label = 'bench', env = {} }) {
  const ports = await allocatePorts();
  const common = { ...process.env, DATABASE_URL: databaseUrl, NATS_URL, NATS_PREFIX: prefix, LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn', ...env };
  // What the benches set beyond the launcher's ports and peers. METRICS_PORT 0: any free port, so a bench never
  // collides with an `npm start` on this machine. The gateway has no API keys: /api is open, as in local development.
  const extra = {
    // One load generator = one IP and one user agent: the repeat-pattern rule would call it a scanner.
    tracking: { TRACKING_BOT_REPEAT_CODES: '0' },
    attribution: { METRICS_PORT: '0' },
    reporting: { METRICS_PORT: '0' },
    // The bench's receiver listens on 127.0.0.1, which production refuses as a destination.
    delivery: { METRICS_PORT: '0', DELIVERY_ALLOW_PRIVATE_DESTINATIONS: 'true' },
  };
  const order = NAMES.filter((n) => names.includes(n));
  const running = [];
  const stop = async () => {
    const memory = {};
    for (const r of running) memory[r.name] = peakRssMb(r.child.pid);
    for (const r of [...running].reverse()) {
      if (r.child.exitCode !== null) continue;
      await new Promise((resolve) => {
        r.child.once('exit', resolve);
        r.child.kill('SIGTERM');
        setTimeout(() => r.child.kill('SIGKILL'), 20_000).unref();
      });
    }
    return memory;
  };
  try {
    for (const name of order) {
      // The heap cap every app container gets in deploy/k8s (NODE_OPTIONS there), so peak RSS is what production sees.
      const execArgv = ['--max-old-space-size=256', ...(cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=${label}-${name}.cpuprofile`] : [])];
      const child = spawnApp(name, { main: mainOf(name), execArgv, env: { ...common, ...appEnv(name, ports), ...(extra[name] ?? {}), ...(env[name] ?? {}) } });
      running.push({ name, child });
      await waitReady(name, ports, { child });
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    ...endpoints(ports),
    pids: Object.fromEntries(running.map((r) => [r.name, r.child.pid])),
    /** Peak RSS so far per app (MB). */
    memory: () => Object.fromEntries(running.map((r) => [r.name, peakRssMb(r.child.pid)])),
    /** Stops every app; resolves to each one's peak RSS (MB) read just before. */
    stop,
  };
}

/** Runs an app's `migrate` command once (creates its schema) without starting it. */
function migrate(app, databaseUrl) {
  execFileSync(process.execPath, [mainOf(app), 'migrate'], { env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' }, stdio: 'inherit' });
}

module.exports = { ROOT, DIST, PROFILE_DIR, build, ensureBuilt, requireDist, grpcClient, trackingAndIngest, startApps, migrate, peakRssMb };
