#!/usr/bin/env node
// `npm start`: runs all five apps (built by nx) against DATABASE_URL and NATS_URL, prints where each listens,
// and stops them all on Ctrl-C. Each app creates its database schema, runs its migrations and creates its streams.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const readline = require('node:readline');
const grpc = require('@grpc/grpc-js');
const { APPS } = require('./platform');
const { checkInfra } = require('./infra-check');

const COLORS = [36, 33, 35, 32, 34];
const color = (i, s) => (process.stdout.isTTY ? `\x1b[${COLORS[i % COLORS.length]}m${s}\x1b[0m` : s);

async function waitReady(app, env, child) {
  const target = app.ready(env);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) return false;
    try {
      if (target.http) {
        const r = await fetch(target.http);
        if (r.ok) return true;
      } else if (await grpcServing(target.grpc)) return true;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

function grpcServing(address) {
  return new Promise((resolve) => {
    const Client = grpc.makeGenericClientConstructor({}, 'health');
    const c = new Client(address, grpc.credentials.createInsecure());
    // grpc.health.v1.Health/Check with an empty request (service "") is the bytes of an empty message.
    c.makeUnaryRequest('/grpc.health.v1.Health/Check', (x) => x, (b) => b, Buffer.alloc(0), new grpc.Metadata(), { deadline: Date.now() + 1000 }, (err, res) => {
      c.close();
      // HealthCheckResponse { status = 1 (SERVING) } encodes as 08 01.
      resolve(!err && res && res[0] === 0x08 && res[1] === 0x01);
    });
  });
}

async function main() {
  const env = { ...process.env };
  env.LOG_LEVEL ??= 'info';
  const missing = APPS.filter((a) => !fs.existsSync(a.main));
  if (missing.length) {
    console.error(`not built: ${missing.map((a) => a.name).join(', ')} — run \`npm start\` (it builds first) or \`npm run build\``);
    process.exit(1);
  }
  const problems = await checkInfra(env);
  if (problems.length) {
    console.error(`Trackly cannot start:\n- ${problems.join('\n- ')}`);
    process.exit(1);
  }

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
    const child = spawn(process.execPath, ['--enable-source-maps', app.main], { env, stdio: ['ignore', 'pipe', 'pipe'] });
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
  const ready = await Promise.all(APPS.map((a, i) => waitReady(a, env, children[i])));
  if (stopping) return;
  const failed = APPS.filter((_, i) => !ready[i]).map((a) => a.name);
  if (failed.length) {
    console.error(`not ready after 60 s: ${failed.join(', ')}`);
    stopAll(1);
    return;
  }
  const lines = APPS.flatMap((a) => a.listens(env).map((l, j) => `  ${(j ? '' : a.name).padEnd(12)} ${l}`));
  console.log(`\nTrackly attribution is running:\n${lines.join('\n')}\n\nTry \`npm run demo\` in another terminal. Ctrl-C stops everything.\n`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
