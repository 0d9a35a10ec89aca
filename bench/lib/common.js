'use strict';
// What every scenario of `npm run bench` shares: flags, throwaway databases, free ports, percentiles, NATS clean-up.
const http = require('node:http');
const { Client } = require('pg');

/** `--tiny --rate=20 --json=x.json` -> { tiny: 'true', rate: '20', json: 'x.json' }. */
function parseArgs(argv = process.argv.slice(2)) {
  return Object.fromEntries(
    argv.map((a) => {
      const [k, ...v] = a.replace(/^--/, '').split('=');
      return [k, v.length ? v.join('=') : 'true'];
    }),
  );
}

/** tiny (CI: seconds), quick (a minute or two), full (the figures). */
function modeOf(args) {
  if (args.tiny === 'true') return 'tiny';
  if (args.quick === 'true') return 'quick';
  return 'full';
}

const BASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/trackly';
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

function dbUrl(name) {
  const u = new URL(BASE_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

async function admin(fn) {
  const c = new Client({ connectionString: dbUrl('postgres') });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function createDatabase(name) {
  await admin(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${name}`);
  });
  return dbUrl(name);
}

async function dropDatabase(name) {
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).catch(() => undefined);
}

async function connect(url) {
  const c = new Client({ connectionString: url });
  await c.connect();
  return c;
}


function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Removes the JetStream streams a bench's apps created under its prefix (upper-cased by the apps). */
async function deleteStreams(prefix) {
  const { connect: natsConnect } = require('@nats-io/transport-node');
  const { jetstreamManager } = require('@nats-io/jetstream');
  const nc = await natsConnect({ servers: NATS_URL });
  try {
    const jsm = await jetstreamManager(nc);
    for await (const s of jsm.streams.list()) if (s.config.name.startsWith(`${prefix.toUpperCase()}_`)) await jsm.streams.delete(s.config.name);
  } finally {
    await nc.close();
  }
}

/**
 * Waits (polling every `intervalMs`) until the service's outbox in `schema` has published everything, for at most
 * `timeoutMs`; resolves to how many rows are still unpublished (0 when it drained).
 */
async function unpublishedAfter(c, schema, timeoutMs, intervalMs) {
  let unpublished = -1;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    unpublished = (await c.query(`SELECT count(*)::int AS n FROM "${schema}".outbox WHERE published_at IS NULL`)).rows[0].n;
    if (unpublished === 0) break;
    await sleep(intervalMs);
  }
  return unpublished;
}

/** Prints a scenario's checks and the apps' peak RSS; true when every check passed. */
function printChecks(checks, memory) {
  printTable(checks.map((k) => ({ ...k, ok: k.ok ? 'yes' : 'NO' })));
  console.log(`peak RSS (MB): ${JSON.stringify(memory)}`);
  return checks.every((k) => k.ok);
}

/** Prints rows as a markdown table (the scenarios' short summary). */
function printTable(rows, columns) {
  const cols = columns ?? Object.keys(rows[0] ?? {});
  console.log(`| ${cols.join(' | ')} |`);
  console.log(`| ${cols.map(() => '---').join(' | ')} |`);
  for (const r of rows) console.log(`| ${cols.map((c) => (r[c] === undefined || r[c] === null ? '' : String(r[c]))).join(' | ')} |`);
}

/**
 * One bench at a time on a machine: runs share the build folder, database names and stream prefixes, and two loads
 * at once would measure each other. Waits for the holder (a pid in a lock file) to finish; a dead holder's lock is
 * taken over. Released when this process exits.
 */
async function acquireBenchLock(file = require('node:path').join(require('node:os').tmpdir(), 'trackly-bench.lock')) {
  const fs = require('node:fs');
  let told = false;
  for (;;) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      process.on('exit', () => {
        try {
          if (fs.readFileSync(file, 'utf8') === String(process.pid)) fs.unlinkSync(file);
        } catch {
          /* already gone */
        }
      });
      for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => process.exit(130));
      return;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
    const holder = Number(fs.readFileSync(file, 'utf8')) || 0;
    let alive = false;
    try {
      process.kill(holder, 0);
      alive = true;
    } catch {
      alive = false;
    }
    if (!alive) {
      fs.rmSync(file, { force: true });
      continue;
    }
    if (!told) console.log(`waiting for another bench run to finish (pid ${holder}, lock ${file})`);
    told = true;
    await sleep(2000);
  }
}

/** A phone's user agent for taps the classifier must call HUMAN. */
const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';

/** GET over a keep-alive agent of `maxSockets` sockets, resolving to { status, headers, body } (redirects not followed). */
function keepAliveGet(maxSockets) {
  // Idle sockets are dropped after 4 s, before the apps' 5 s keep-alive timeout closes them: otherwise a request
  // sent on a socket at the moment the server closes it fails with ECONNRESET (seen under load, when a burst opened
  // every socket and the steady rate then left most of them idle).
  const agent = new http.Agent({ keepAlive: true, maxSockets, timeout: 4000 });
  return (url, headers = {}) =>
    new Promise((resolve, reject) => {
      const req = http.get(url, { agent, headers }, (res) => {
        const chunks = [];
        res.on('data', (d) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
    });
}

/** Runs fn over items with at most `concurrency` at a time. */
async function pool(items, concurrency, fn) {
  let i = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (i < items.length) {
      const k = i++;
      await fn(items[k], k);
    }
  }));
}

// One freePort for the whole tree: the launcher's.
const { freePort } = require('../../tools/launcher');

module.exports = { IPHONE, keepAliveGet, pool, acquireBenchLock, parseArgs, modeOf, BASE_URL, NATS_URL, dbUrl, admin, createDatabase, dropDatabase, connect, freePort, percentile, sleep, deleteStreams, printTable, unpublishedAfter, printChecks };
