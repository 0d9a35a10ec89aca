// Says plainly whether Postgres and NATS answer, before any app starts.
'use strict';
const net = require('node:net');
const { Client } = require('pg');

async function checkPostgres(url) {
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const c = new Client({ connectionString: admin.toString(), connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    return null;
  } catch (e) {
    return `PostgreSQL does not answer at ${admin.host} (${e.message}).\n  Start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n  or set DATABASE_URL (see README "Postgres and NATS").`;
  } finally {
    await c.end().catch(() => undefined);
  }
}

function checkNats(url) {
  const u = new URL(url.replace(/^nats:/, 'http:'));
  return new Promise((resolve) => {
    const s = net.connect({ host: u.hostname, port: Number(u.port || 4222) });
    const done = (err) => {
      s.destroy();
      resolve(err);
    };
    s.setTimeout(3000, () => done(`NATS does not answer at ${u.host} (timeout).`));
    s.once('data', () => done(null));
    s.once('error', (e) => done(`NATS does not answer at ${u.host} (${e.message}).\n  Start it with JetStream: nats-server -js  (see README "Postgres and NATS"), or set NATS_URL.`));
  });
}

async function checkInfra(env) {
  const problems = (await Promise.all([
    checkPostgres(env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/trackly'),
    checkNats(env.NATS_URL || 'nats://127.0.0.1:4222'),
  ])).filter(Boolean);
  return problems;
}

module.exports = { checkInfra };
