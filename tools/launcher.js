// The one launcher: which apps make up the platform, in which order they start, the environment each one needs to
// listen where it should and find the others, and how to tell it is ready. `npm start`, `npm run migrate`, the
// benches, the fault suite and the in-process test stacks all start the platform through this module, so adding an
// app or a port is one edit here. (Plain CommonJS with types in launcher.d.ts: `npm start` runs it unbuilt.)
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');

const ROOT = path.resolve(__dirname, '..');

/**
 * The apps in start order (each creates its schema and runs its migrations at start-up; tracking first because
 * attribution reads offers from it). `listens` and `peers` name the env variables of the app's own ports and of the
 * other apps it calls; `db`: it owns a schema; `ready`: what answers once it is up.
 */
const APPS = [
  { name: 'tracking', db: true, ports: { grpc: ['TRACKING_GRPC_PORT', 50051], http: ['TRACKING_HTTP_PORT', 3001] }, host: 'TRACKING_HOST', publicUrl: 'TRACKING_PUBLIC_URL', peers: {}, ready: 'http' },
  { name: 'ingest', db: true, ports: { grpc: ['INGEST_GRPC_PORT', 50052], http: ['INGEST_HTTP_PORT', 3002] }, host: 'INGEST_HOST', publicUrl: 'INGEST_PUBLIC_URL', peers: {}, ready: 'http' },
  { name: 'attribution', db: true, ports: { grpc: ['ATTRIBUTION_GRPC_PORT', 50053] }, host: 'ATTRIBUTION_HOST', peers: { TRACKING_GRPC_URL: 'tracking' }, ready: 'grpc' },
  { name: 'reporting', db: true, ports: { grpc: ['REPORTING_GRPC_PORT', 50054] }, host: 'REPORTING_HOST', peers: {}, ready: 'grpc' },
  { name: 'delivery', db: true, ports: { grpc: ['DELIVERY_GRPC_PORT', 50055] }, host: 'DELIVERY_HOST', peers: {}, ready: 'grpc' },
  {
    name: 'gateway', db: false, ports: { http: ['GATEWAY_HTTP_PORT', 3000] }, host: 'GATEWAY_HOST',
    peers: {
      REPORTING_GRPC_URL: 'reporting', INGEST_GRPC_URL: 'ingest', ATTRIBUTION_GRPC_URL: 'attribution', TRACKING_GRPC_URL: 'tracking', DELIVERY_GRPC_URL: 'delivery',
    },
    ready: 'http',
  },
];
const NAMES = APPS.map((a) => a.name);
const byName = (name) => {
  const app = APPS.find((a) => a.name === name);
  if (!app) throw new Error(`unknown app ${name} (the platform: ${NAMES.join(', ')})`);
  return app;
};

/** Where nx puts an app's build (`dist/apps/<app>`), or under another folder the caller copied builds to. */
function mainOf(name, appsDir = path.join(ROOT, 'dist/apps')) {
  return path.join(appsDir, name, 'apps', name, 'src/main.js');
}

/**
 * A free TCP port on 127.0.0.1 for a server started a moment later. Drawn at random below the kernel's ephemeral range
 * and checked by binding it: a port the OS picks (port 0) comes from that range, the one every outgoing connection's
 * local port comes from too, so a pg or NATS client connecting between the check and the server's listen could take it
 * (seen as EADDRINUSE in a full parallel test run). Falls back to the OS's pick if no drawn port is free.
 */
async function freePort() {
  const low = ephemeralLow();
  for (let attempt = 0; attempt < 50 && low > FREE_PORT_FROM + 100; attempt++) {
    const port = FREE_PORT_FROM + Math.floor(Math.random() * (low - FREE_PORT_FROM));
    if (await bindable(port)) return port;
  }
  return listenAndClose(0);
}

/** Below the ephemeral range and above the platform's defaults (3000–3002 HTTP; gRPC's 50051+ are above it anyway). */
const FREE_PORT_FROM = 10_000;

/** The first port of the kernel's ephemeral range (Linux: /proc; elsewhere IANA's 49152). */
function ephemeralLow() {
  try {
    return Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 49_152;
  } catch {
    return 49_152;
  }
}

function bindable(port) {
  return listenAndClose(port).then(
    () => true,
    () => false,
  );
}

function listenAndClose(port) {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => {
      const { port: bound } = s.address();
      s.close(() => resolve(bound));
    });
  });
}

/** The ports `npm start` uses: each app's variables when set, else the documented defaults. */
function defaultPorts(env = process.env) {
  const ports = {};
  for (const a of APPS) {
    ports[a.name] = {};
    for (const [kind, [variable, fallback]] of Object.entries(a.ports)) ports[a.name][kind] = Number(env[variable] || fallback);
  }
  return ports;
}

/** Free ports for every app (tests, benches, the fault suite: never the defaults a running `npm start` holds). */
async function allocatePorts() {
  const ports = {};
  for (const a of APPS) {
    ports[a.name] = {};
    for (const kind of Object.keys(a.ports)) ports[a.name][kind] = await freePort();
  }
  return ports;
}

/** Addresses of every app's listeners for these ports. */
function endpoints(ports, host = '127.0.0.1') {
  const out = {};
  for (const a of APPS) {
    const p = ports[a.name];
    if (p.grpc) out[`${a.name}Grpc`] = `${host}:${p.grpc}`;
    if (p.http) out[`${a.name}Http`] = `http://${host}:${p.http}`;
  }
  return out;
}

/** The variables one app needs to listen on its ports and reach the others (merged over the caller's common env). */
function appEnv(name, ports, host = '127.0.0.1') {
  const a = byName(name);
  const env = { [a.host]: host };
  for (const [kind, [variable]] of Object.entries(a.ports)) env[variable] = String(ports[name][kind]);
  if (a.publicUrl) env[a.publicUrl] = `http://${host}:${ports[name].http}`;
  for (const [variable, peer] of Object.entries(a.peers)) env[variable] = `${host}:${ports[peer].grpc}`;
  return env;
}

/** grpc.health.v1.Health/Check with an empty request; HealthCheckResponse { status: SERVING } encodes as 08 01. */
function grpcServing(address) {
  return new Promise((resolve) => {
    const Client = grpc.makeGenericClientConstructor({}, 'health');
    const c = new Client(address, grpc.credentials.createInsecure());
    c.makeUnaryRequest('/grpc.health.v1.Health/Check', (x) => x, (b) => b, Buffer.alloc(0), new grpc.Metadata(), { deadline: Date.now() + 1000 }, (err, res) => {
      c.close();
      resolve(!err && !!res && res[0] === 0x08 && res[1] === 0x01);
    });
  });
}

/** Whether the app answers: /readyz (tracking, ingest) or /healthz (gateway) over HTTP, else gRPC health. */
async function isReady(name, ports, host = '127.0.0.1') {
  const a = byName(name);
  try {
    if (a.ready === 'http') {
      const res = await fetch(`http://${host}:${ports[name].http}/${name === 'gateway' ? 'healthz' : 'readyz'}`, { signal: AbortSignal.timeout(2000) });
      return res.status === 200;
    }
    return await grpcServing(`${host}:${ports[name].grpc}`);
  } catch {
    return false;
  }
}

/** Waits until the app answers; fails at once when its process exits, and names the app when it never answers. */
async function waitReady(name, ports, { child, timeoutMs = 90_000, host = '127.0.0.1' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) while starting`);
    if (await isReady(name, ports, host)) return;
    if (Date.now() > deadline) throw new Error(`${name} was not ready after ${Math.round(timeoutMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Spawns one built app: `node [execArgv] [--require preload…] main.js [args]`. */
function spawnApp(name, { main = mainOf(name), env, stdio = ['ignore', 'inherit', 'inherit'], execArgv = [], preload = [], args = [] } = {}) {
  return spawn(process.execPath, [...execArgv, ...preload.flatMap((p) => ['--require', p]), main, ...args], { env, stdio });
}

module.exports = { ROOT, APPS, NAMES, mainOf, freePort, defaultPorts, allocatePorts, endpoints, appEnv, grpcServing, isReady, waitReady, spawnApp };
