'use strict';
// The baseline of the ingest bench, the same approach as apps/tracking/bench/bare-server.js: the least a durable
// postback edge can do. node:http + pg, one INSERT (autocommit, duplicates ignored on the partner's key) per
// request, then a 200. No framework, no token check, no archive, no outbox.
const http = require('node:http');
const { Pool } = require('pg');

const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.POOL_SIZE ?? 10) });
const port = Number(process.env.PORT);

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  const q = url.searchParams;
  try {
    const r = await pool.query(
      `INSERT INTO bench_bare.postbacks (partner_id, conversion_id, click_id, payout, currency, received_at, raw)
       VALUES ($1, $2, $3, $4, $5, now(), $6) ON CONFLICT DO NOTHING`,
      [url.pathname.split('/')[2] ?? '', q.get('conversion_id') ?? '', q.get('click_id') ?? '', q.get('payout') ?? '0', q.get('currency') ?? 'USD', url.search],
    );
    res.writeHead(200, { 'content-type': 'application/json' }).end(`{"status":"${r.rowCount ? 'stored' : 'duplicate'}"}`);
  } catch (e) {
    res.writeHead(500).end(String(e));
  }
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => process.send?.('ready'));
process.on('SIGTERM', () => server.close(() => pool.end().then(() => process.exit(0))));
