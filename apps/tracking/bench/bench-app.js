'use strict';
// What the tracking benches (click.bench.js, register.bench.js) share: the built app as a child process, its gRPC
// client, the catalog seed, the machine-wide bench lock, and per-process CPU and memory from /proc.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { fork } = require('node:child_process');
// The suite's own helpers (bench/lib): one definition of where Postgres and NATS are and how to reach them.
const { NATS_URL, acquireBenchLock, dbUrl, freePort } = require('../../../bench/lib/common');

const ROOT = path.resolve(__dirname, '../../..');
// Built by the npm scripts into a folder of their own, so a concurrent `nx build` cannot pull it away mid-run.
const BUILD = path.join(ROOT, 'dist/bench/tracking');
const APP_MAIN = path.join(BUILD, 'apps/tracking/src/main.js');
const PROFILES = path.join(ROOT, 'dist/bench-profiles');

/**
 * One bench at a time on the machine (bench/lib/common.js's lock), unless `npm run bench` (an ancestor of this
 * process) already holds it.
 */
async function benchLock() {
  const file = path.join(os.tmpdir(), 'trackly-bench.lock');
  let holder = 0;
  try {
    holder = Number(fs.readFileSync(file, 'utf8')) || 0;
  } catch {
    /* free */
  }
  for (let pid = process.ppid; pid > 1; ) {
    if (pid === holder) return;
    try {
      pid = Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
    } catch {
      break;
    }
  }
  await acquireBenchLock(file);
}

async function waitHttp(url, child) {
  const end = Date.now() + 60_000;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`${url}: server exited with ${child.exitCode}`);
    try {
      const r = await fetch(url, { redirect: 'manual' });
      if (r.status < 500) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not come up`);
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', resolve);
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
  });
}

/** CPU seconds (user + system) the process has used so far, from /proc (Linux); undefined elsewhere. */
function cpuSeconds(pid) {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return undefined;
  }
}

/** Peak resident set size of a process so far, in MB (VmHWM, Linux); undefined elsewhere. */
function peakRssMb(pid) {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

/** Resident set size of a process now, in MB (VmRSS, Linux); undefined elsewhere. */
function rssMb(pid) {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds so far of the local nats-server (shared with everything else that uses it), or undefined. */
function natsServerCpuSeconds() {
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'nats-server') return cpuSeconds(pid);
    } catch {
      /* exited meanwhile */
    }
  }
  return undefined;
}

/**
 * CPU seconds of every Postgres server process so far (the database's share of a run), from /proc, with the children
 * they reaped (the postmaster's cutime and cstime): a backend that ends between two samples (a pool's idle timeout)
 * would otherwise take its CPU out of the second one.
 */
function postgresCpuSeconds() {
  let total = 0;
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (!stat.includes('(postgres)')) continue;
      const fields = stat.split(') ')[1].split(' ');
      total += (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / 100; // utime, stime, cutime, cstime
    } catch {
      /* exited meanwhile */
    }
  }
  return total;
}

/**
 * CPU seconds so far of the Postgres backends serving one database (its connections, from pg_stat_activity): the
 * database's share of a run without the other databases of a shared server. Per pid, so sample before and after.
 */
async function dbBackendsCpu(c, dbName) {
  const { rows } = await c.query('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [dbName]);
  const out = new Map();
  for (const { pid } of rows) {
    const s = cpuSeconds(pid);
    if (s !== undefined) out.set(pid, s);
  }
  return out;
}

/** CPU seconds used between two dbBackendsCpu samples (backends that appeared meanwhile count from zero). */
function cpuBetween(before, after) {
  let total = 0;
  for (const [pid, s] of after) total += s - (before.get(pid) ?? 0);
  return total;
}

/**
 * What a slice of load cost, as `probe` and `costs` for bench/lib/alternate.js: CPU seconds of the server (`pid`), of
 * the database's Postgres backends (both servers' when two share it: the idle one's cost nothing) and of each named
 * subset of them (`subsets`: e.g. a relay's backends), of every Postgres process, of nats-server and of this process
 * (the load generator), and the WAL bytes written (nothing else writes during a slice: full-page images after a
 * checkpoint show here). A figure the machine cannot give (not Linux) is undefined.
 */
function sliceCosts(c, dbName, pid, subsets = {}) {
  const diff = (a, b) => (a === undefined || b === undefined ? undefined : b - a);
  return {
    probe: async () => {
      const named = {};
      for (const [k, sample] of Object.entries(subsets)) named[k] = await sample();
      return {
        cpu: cpuSeconds(pid),
        db: await dbBackendsCpu(c, dbName),
        named,
        pg: postgresCpuSeconds(),
        nats: natsServerCpuSeconds(),
        gen: process.cpuUsage(),
        wal: (await c.query(`SELECT pg_current_wal_lsn() AS l`)).rows[0].l,
      };
    },
    costs: async (a, b) => ({
      cpu: diff(a.cpu, b.cpu),
      db: cpuBetween(a.db, b.db),
      ...Object.fromEntries(Object.keys(subsets).map((k) => [k, cpuBetween(a.named[k], b.named[k])])),
      pg: b.pg - a.pg,
      nats: diff(a.nats, b.nats),
      gen: (b.gen.user - a.gen.user + b.gen.system - a.gen.system) / 1e6,
      wal: Number((await c.query(`SELECT pg_wal_lsn_diff($1, $2) AS b`, [b.wal, a.wal])).rows[0].b),
    }),
  };
}

/** BENCH_NODE_FLAGS (e.g. `--perf-basic-prof` for `perf record`): extra flags for the servers a bench starts. */
function extraNodeFlags() {
  return (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
}

/** Starts the built tracking app on free ports; `env` on top of the bench defaults. */
async function startTracking({ dbName, prefix, env = {}, label, cpuProf = false, pool = 10 }) {
  const [port, grpcPort] = [await freePort(), await freePort()];
  // The heap cap the tracking container gets in deploy/k8s (NODE_OPTIONS there), as bench/lib/platform.js runs the
  // apps, so the peak RSS measured is what production sees.
  const execArgv = ['--max-old-space-size=256', ...extraNodeFlags(), ...(cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${PROFILES}`, `--cpu-prof-name=${label}.cpuprofile`] : [])];
  const child = fork(APP_MAIN, [], {
    execArgv,
    env: {
      ...process.env,
      DATABASE_URL: dbUrl(dbName),
      DATABASE_POOL_SIZE: String(pool),
      NATS_URL,
      NATS_PREFIX: prefix,
      TRACKING_HOST: '127.0.0.1',
      TRACKING_HTTP_PORT: String(port),
      TRACKING_GRPC_PORT: String(grpcPort),
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: 'inherit',
  });
  await waitHttp(`http://127.0.0.1:${port}/c/none`, child);
  return { child, port, grpcPort };
}

/** A plain grpc-js client of the built app's TrackingService (the generated service definition, no proto files). */
function trackingClient(grpcPort) {
  const grpc = require('@grpc/grpc-js');
  const { TrackingServiceService } = require(path.join(BUILD, 'libs/contracts/src/gen/trackly/tracking/v1/tracking_service.js'));
  const Ctor = grpc.makeGenericClientConstructor(TrackingServiceService, 'TrackingService');
  const client = new Ctor(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': 64 << 20,
    'grpc.max_send_message_length': 64 << 20,
  });
  const authToken = process.env.GRPC_AUTH_TOKEN;
  const call = (method) => (req) =>
    new Promise((resolve, reject) => {
      const md = new grpc.Metadata();
      if (authToken) md.set('authorization', `Bearer ${authToken}`);
      client[method](req, md, { deadline: Date.now() + 120_000 }, (err, res) => (err ? reject(err) : resolve(res)));
    });
  return { registerMessages: call('registerMessages'), close: () => client.close() };
}

/** `n` campaigns, creatives and offers named bench-0..n-1, written straight into the app's tables. */
async function seedCatalog(c, n = 1) {
  for (let i = 0; i < n; i++) {
    await c.query(`INSERT INTO "tracking".campaigns (campaign_id, name) VALUES ($1, 'Bench') ON CONFLICT DO NOTHING`, [`bench-${i}`]);
    await c.query(`INSERT INTO "tracking".creatives (creative_id, name) VALUES ($1, 'Bench') ON CONFLICT DO NOTHING`, [`bench-${i}`]);
    await c.query(
      `INSERT INTO "tracking".offers (offer_id, name, destination_url_template, default_payout_micros, currency)
       VALUES ($1, 'Bench', 'https://shop.example/land?cid={click_id}&m={message_id}', 1000000, 'USD') ON CONFLICT DO NOTHING`,
      [`bench-${i}`],
    );
  }
}

/** Messages in one stream of the bench's NATS prefix (0 when the stream does not exist). */
async function streamMessages(streamName) {
  const { connect } = require('@nats-io/transport-node');
  const { jetstreamManager } = require('@nats-io/jetstream');
  const nc = await connect({ servers: NATS_URL });
  try {
    const jsm = await jetstreamManager(nc);
    return (await jsm.streams.info(streamName)).state.messages;
  } catch (e) {
    if (/not found/i.test(e.message)) return 0;
    throw e;
  } finally {
    await nc.close();
  }
}

/** Removes every stream of a bench prefix (upper case, e.g. BENCHCLICK_), so runs do not pile up events. */
async function deleteStreams(streamPrefix) {
  const { connect } = require('@nats-io/transport-node');
  const { jetstreamManager } = require('@nats-io/jetstream');
  const nc = await connect({ servers: NATS_URL });
  try {
    const jsm = await jetstreamManager(nc);
    for await (const s of jsm.streams.list()) if (s.config.name.startsWith(streamPrefix)) await jsm.streams.delete(s.config.name);
  } finally {
    await nc.close();
  }
}

module.exports = {
  extraNodeFlags,
  ROOT,
  PROFILES,
  BUILD,
  benchLock,
  waitHttp,
  stop,
  cpuSeconds,
  peakRssMb,
  rssMb,
  postgresCpuSeconds,
  natsServerCpuSeconds,
  dbBackendsCpu,
  cpuBetween,
  sliceCosts,
  startTracking,
  trackingClient,
  seedCatalog,
  streamMessages,
  deleteStreams,
};
