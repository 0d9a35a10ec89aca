'use strict';
// The baseline of `npm run bench:click`: the least a durable click edge can do. node:http + pg, one INSERT
// (autocommit) per request, then a 302. No framework, no lookup, no classification, no outbox.
const http = require('node:http');
const { randomBytes } = require('node:crypto');
const { Pool } = require('pg');

const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.POOL_SIZE ?? 10) });
const port = Number(process.env.PORT);

const server = http.createServer(async (req, res) => {
  const code = req.url.slice(3);
  const clickId = randomBytes(16).toString('base64url');
  try {
    await pool.query('INSERT INTO bench_bare.clicks (click_id, short_code, clicked_at, user_agent, ip) VALUES ($1, $2, now(), $3, $4)', [
      clickId,
      code,
      req.headers['user-agent'] ?? '',
      req.socket.remoteAddress ?? '',
    ]);
    res.writeHead(302, { Location: `https://shop.example/land?cid=${clickId}`, 'Cache-Control': 'no-store' }).end();
  } catch (e) {
    res.writeHead(500).end(String(e));
  }
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => process.send?.('ready'));
process.on('SIGTERM', () => server.close(() => pool.end().then(() => process.exit(0))));
