import { AsyncLocalStorage } from 'node:async_hooks';
import { connect } from 'node:net';
import { ManualClock } from '@trackly/kernel';
import { IngestTestApp, partnerRequest, startIngestForTest } from './ingest-test-app';

/** One raw HTTP/1.1 exchange: the head and body exactly as the server wrote them. */
function exchange(port: number, request: string): Promise<{ status: number; head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(request));
    const chunks: Buffer[] = [];
    s.on('data', (c) => chunks.push(c));
    s.on('error', reject);
    s.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const at = text.indexOf('\r\n\r\n');
      resolve({ status: Number(text.slice(9, 12)), head: text.slice(0, at), body: text.slice(at + 4) });
    });
  });
}

/**
 * The node:http postback edge in front of Express: what it answers differently from the Express path it replaced
 * (on purpose), and that the requests it does not take still reach Express.
 */
describe('postback edge: node:http path (real Postgres, NATS, HTTP)', () => {
  jest.setTimeout(120_000);
  let t: IngestTestApp;
  let token: string;
  const clock = new ManualClock(new Date('2026-11-02T10:00:00Z'));
  const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: x\r\nX-Request-Id: edge-req-1\r\nConnection: close\r\n${extra}\r\n`;

  beforeAll(async () => {
    t = await startIngestForTest({}, clock);
    token = (await t.client.upsertPartner(partnerRequest('gen'))).token;
  });

  afterAll(async () => {
    await t?.close();
  });

  it('answers a duplicate GET carrying If-None-Match with its body, never 304 (Express answered 304 to a matching ETag)', async () => {
    const path = `/postbacks/gen?conversion_id=inm-1&payout=1.00&currency=USD&token=${token}`;
    const first = await exchange(t.httpPort, get(path));
    expect(first.status).toBe(200);
    const again = await exchange(t.httpPort, get(path, 'If-None-Match: *\r\n'));
    expect(again.status).toBe(200);
    expect(JSON.parse(again.body)).toMatchObject({ status: 'duplicate', conversion_id: 'inm-1' });
    expect(again.head).toMatch(/^x-request-id: edge-req-1$/im);
    expect(again.head).toMatch(/^Cache-Control: no-store$/im);
    expect(again.head).not.toMatch(/^(ETag|X-Powered-By):/im);
  });

  it('archives and answers 415 a body in a content encoding it cannot read (Express answered 500, unarchived)', async () => {
    const body = `conversion_id=enc-1&payout=1&token=${token}`;
    const r = await exchange(
      t.httpPort,
      `POST /postbacks/gen HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Encoding: foo\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    expect(r.status).toBe(415);
    expect(JSON.parse(r.body)).toEqual({ error: 'UNSUPPORTED_MEDIA_TYPE', message: 'unsupported content encoding "foo"' });
    const { rows } = await t.pg.query(`SELECT outcome FROM "ingest".postback_requests WHERE method = 'POST' AND content_type = 'application/x-www-form-urlencoded' ORDER BY id DESC LIMIT 1`);
    expect(rows).toEqual([{ outcome: 'invalid' }]);
  });

  it('passes the request id to the events without entering an async context (whose hook would cost every promise)', async () => {
    const run = jest.spyOn(AsyncLocalStorage.prototype, 'run');
    try {
      const stored = await exchange(t.httpPort, get(`/postbacks/gen?conversion_id=ctx-1&payout=1.00&currency=USD&token=${token}`).replace('edge-req-1', 'ctx-stored'));
      const refused = await exchange(t.httpPort, get('/postbacks/gen?conversion_id=ctx-2&payout=1.00&token=wrong').replace('edge-req-1', 'ctx-refused'));
      expect([stored.status, refused.status]).toEqual([200, 401]);
      expect(run).not.toHaveBeenCalled();
    } finally {
      run.mockRestore();
    }
    const conversion = await t.pg.query(`SELECT event_headers FROM "ingest".conversions WHERE conversion_id = 'ctx-1'`);
    expect(conversion.rows).toEqual([{ event_headers: { 'Trackly-Request-Id': 'ctx-stored' } }]);
    const refusal = await t.pg.query(`SELECT headers FROM "ingest".outbox WHERE subject LIKE '%PostbackRefused' AND headers->>'Trackly-Request-Id' = 'ctx-refused'`);
    expect(refusal.rows).toHaveLength(1);
  });

  it('gives an adjustment made in a batch its own request\'s id, though the batch runs in no request\'s context', async () => {
    const first = await exchange(t.httpPort, get(`/postbacks/gen?conversion_id=ctx-adj&payout=1.00&currency=USD&token=${token}`).replace('edge-req-1', 'ctx-adj-1'));
    const adjusted = await exchange(t.httpPort, get(`/postbacks/gen?conversion_id=ctx-adj&payout=2.50&currency=USD&token=${token}`).replace('edge-req-1', 'ctx-adj-2'));
    expect([first.status, JSON.parse(adjusted.body).status]).toEqual([200, 'adjusted']);
    const { rows } = await t.pg.query(
      `SELECT headers->>'Trackly-Request-Id' AS request_id FROM "ingest".outbox WHERE subject LIKE '%ConversionAdjusted' AND payload IS NOT NULL ORDER BY seq DESC LIMIT 1`,
    );
    expect(rows).toEqual([{ request_id: 'ctx-adj-2' }]);
  });

  it('leaves other paths, and a partner id that does not decode, to Express', async () => {
    const root = await exchange(t.httpPort, get('/postbacks/'));
    expect(root.status).toBe(404);
    expect(JSON.parse(root.body)).toMatchObject({ message: 'Cannot GET /postbacks/' });
    const bad = await exchange(t.httpPort, get('/postbacks/g%ZZn?conversion_id=x'));
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toMatchObject({ message: "Failed to decode param 'g%ZZn'" });
    const metrics = await exchange(t.httpPort, get('/metrics'));
    expect(metrics.body).toMatch(/http_server_requests_total\{[^}]*route="\/postbacks\/:partnerId"[^}]*status="200"[^}]*\} \d+/);
  });
});
