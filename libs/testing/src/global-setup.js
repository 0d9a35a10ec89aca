// Jest global setup: find Postgres and NATS JetStream for the integration specs, once per run.
// 1. DATABASE_URL / NATS_URL (or the local defaults) when they answer;
// 2. otherwise testcontainers (Postgres + `nats -js`) when a Docker engine is available;
// 3. otherwise fail with a message that says what to start.
// Workers read TRACKLY_TEST_PG_URL / TRACKLY_TEST_NATS_URL.
'use strict';
const net = require('node:net');
const { Client } = require('pg');

const DEFAULT_PG = 'postgres://postgres@127.0.0.1:5432/postgres';
const DEFAULT_NATS = 'nats://127.0.0.1:4222';

function adminUrl(url) {
  const u = new URL(url);
  u.pathname = '/postgres';
  return u.toString();
}

async function pgAnswers(url) {
  const c = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

function natsAnswers(url) {
  const u = new URL(url.replace(/^nats:/, 'http:'));
  return new Promise((resolve) => {
    const s = net.connect({ host: u.hostname, port: Number(u.port || 4222) });
    const done = (ok) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(2000, () => done(false));
    s.once('data', (d) => done(d.toString().startsWith('INFO')));
    s.once('error', () => done(false));
  });
}

async function dropStaleDatabases(url) {
  // Databases left by crashed runs: named trackly_t_<name>_<epoch seconds>_<rand>; older than an hour goes.
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query("SELECT datname FROM pg_database WHERE datname LIKE 'trackly\\_t\\_%'");
    const cutoff = Date.now() / 1000 - 3600;
    for (const { datname } of rows) {
      const m = /_(\d{10})_[a-z0-9]+$/.exec(datname);
      if (m && Number(m[1]) < cutoff) await c.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`).catch(() => undefined);
    }
  } finally {
    await c.end();
  }
}

module.exports = async function globalSetup() {
  if (process.env.TRACKLY_TEST_PG_URL && process.env.TRACKLY_TEST_NATS_URL) return;
  let pg = adminUrl(process.env.DATABASE_URL || DEFAULT_PG);
  let nats = process.env.NATS_URL || DEFAULT_NATS;
  const [pgOk, natsOk] = await Promise.all([pgAnswers(pg), natsAnswers(nats)]);
  if (!pgOk || !natsOk) {
    let tc;
    try {
      tc = require('testcontainers');
      await tc.getContainerRuntimeClient();
    } catch (e) {
      const missing = [!pgOk && `PostgreSQL at ${pg}`, !natsOk && `NATS at ${nats}`].filter(Boolean).join(' and ');
      throw new Error(
        `${missing} did not answer, and no Docker engine is available for testcontainers (${e.message}). ` +
          'Start them (see README "Postgres and NATS"), or set DATABASE_URL / NATS_URL.',
      );
    }
    globalThis.__TRACKLY_CONTAINERS__ = [];
    if (!pgOk) {
      const { PostgreSqlContainer } = require('@testcontainers/postgresql');
      const c = await new PostgreSqlContainer('postgres:16-alpine').withUsername('postgres').withPassword('postgres').start();
      globalThis.__TRACKLY_CONTAINERS__.push(c);
      pg = adminUrl(c.getConnectionUri());
    }
    if (!natsOk) {
      const c = await new tc.GenericContainer('nats:2.10-alpine').withCommand(['-js']).withExposedPorts(4222)
        .withWaitStrategy(tc.Wait.forLogMessage(/Server is ready/)).start();
      globalThis.__TRACKLY_CONTAINERS__.push(c);
      nats = `nats://${c.getHost()}:${c.getMappedPort(4222)}`;
    }
  }
  await dropStaleDatabases(pg);
  process.env.TRACKLY_TEST_PG_URL = pg;
  process.env.TRACKLY_TEST_NATS_URL = nats;
};
