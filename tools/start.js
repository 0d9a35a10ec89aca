#!/usr/bin/env node
// `npm start`: runs every app (built by nx) against DATABASE_URL and NATS_URL, prints where each listens,
// and stops them all on Ctrl-C. Each app creates its database schema, runs its migrations and creates its streams.
'use strict';
const fs = require('node:fs');
const readline = require('node:readline');
const { APPS, defaultPorts, endpoints, appEnv, mainOf, spawnApp, waitReady } = require('./launcher');
const { checkInfra } = require('./infra-check');

const COLORS = [36, 33, 35, 32, 31, 34];
const color = (i, s) => (process.stdout.isTTY ? `\x1b[${COLORS[i % COLORS.length]}m${s}\x1b[0m` : s);

/** What each app offers a person, on the ports `npm start` uses. */
function listens(name, ep) {
  switch (name) {
    case 'tracking': return [`gRPC  ${ep.trackingGrpc}`, `HTTP  ${ep.trackingHttp}/c/{code}  (click edge)`];
    case 'ingest': return [`gRPC  ${ep.ingestGrpc}`, `HTTP  ${ep.ingestHttp}/postbacks/{partner}  (partner postbacks)`];
    case 'delivery': return [`gRPC  ${ep.deliveryGrpc}  (outbound webhooks and postbacks)`];
    case 'gateway': return [`HTTP  ${ep.gatewayHttp}/  (the console; its API under /api, described at /api/openapi.json)`];
    default: return [`gRPC  ${ep[`${name}Grpc`]}`];
  }
}

async function main() {
  const env = { ...process.env };
  env.LOG_LEVEL ??= 'info';
  const missing = APPS.filter((a) => !fs.existsSync(mainOf(a.name)));
  if (missing.length) {
    console.error(`not built: ${missing.map((a) => a.name).join(', ')} — run \`npm start\` (it builds first) or \`npm run build\``);
    process.exit(1);
  }
  const problems = await checkInfra(env);
  if (problems.length) {
    console.error(`Trackly cannot start:\n- ${problems.join('\n- ')}`);
    process.exit(1);
  }

  const ports = defaultPorts(env);
  const children = [];
  let stopping = false;
  const stopAll = (code) => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping…');
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    Promise.all(children.map((c) => (c.exitCode !== null ? null : new Promise((r) => c.once('exit', r))))).then(() => process.exit(code));
    setTimeout(() => process.exit(code || 1), 30_000).unref();
  };
  process.on('SIGINT', () => stopAll(0));
  process.on('SIGTERM', () => stopAll(0));

  for (const [i, app] of APPS.entries()) {
    const child = spawnApp(app.name, { execArgv: ['--enable-source-maps'], env: { ...env, ...appEnv(app.name, ports) }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    const tag = color(i, `[${app.name}]`.padEnd(14));
    for (const stream of [child.stdout, child.stderr]) {
      readline.createInterface({ input: stream }).on('line', (line) => console.log(`${tag}${line}`));
    }
    child.on('exit', (code, signal) => {
      if (!stopping) {
        console.error(`${app.name} exited (${signal ?? code}); stopping the platform`);
        stopAll(1);
      }
    });
  }
  const ready = await Promise.allSettled(APPS.map((a, i) => waitReady(a.name, ports, { child: children[i], timeoutMs: 60_000 })));
  if (stopping) return;
  const failed = ready.flatMap((r) => (r.status === 'rejected' ? [r.reason.message] : []));
  if (failed.length) {
    console.error(`not ready: ${failed.join('; ')}`);
    stopAll(1);
    return;
  }
  const ep = endpoints(ports);
  const lines = APPS.flatMap((a) => listens(a.name, ep).map((l, j) => `  ${(j ? '' : a.name).padEnd(12)} ${l}`));
  console.log(`\nTrackly attribution is running:\n${lines.join('\n')}\n\nTry \`npm run demo\` in another terminal. Ctrl-C stops everything.\n`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
