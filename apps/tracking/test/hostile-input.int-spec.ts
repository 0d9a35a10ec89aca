import { ManualClock } from '@trackly/kernel';
import { rawHttp } from '@trackly/testing';
import { startTrackingForTest, TrackingTestApp } from './tracking-test-app';

/**
 * The click edge against malformed and hostile requests. Refused rows (4xx) must leave no click row, no outbox event
 * and no HUMAN count behind, and never redirect. Rows on a real code that smuggle a destination in the query or the
 * headers must get the offer's own URL, with our own fresh click id, and nothing else.
 */

const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1';
const BROWSER = { 'user-agent': IPHONE, 'accept-language': 'en-US,en;q=0.9' };
const OFFER = 'https://shop.example/land';
const MAX_URL = 2048;
const MAX_HEADER = 8192;

interface Row {
  name: string;
  method?: string;
  /** The request path from the valid short code (already encoded as it goes on the wire). */
  path?: (code: string) => string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** A whole raw HTTP/1.1 request, for what fetch would normalise or refuse to send. */
  raw?: (code: string) => string;
  status: number;
}

const fullwidth = (s: string) => [...s].map((ch) => String.fromCodePoint(ch.codePointAt(0)! + 0xfee0)).join('');
const swapCase = (s: string) => [...s].map((c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase())).join('');
const rawGet = (target: string, extra = '') => `GET ${target} HTTP/1.1\r\nHost: x\r\nUser-Agent: ${IPHONE}\r\n${extra}Connection: close\r\n\r\n`;

/** Refused: 4xx, nothing recorded, no Location. */
const refused: Record<string, Row[]> = {
  'unknown and malformed codes': [
    { name: 'unknown code', path: () => '/c/ZZZZZZZZZZZZ', status: 404 },
    { name: 'the code with its case swapped', path: (c) => `/c/${swapCase(c)}`, status: 404 },
    { name: '5 characters', path: () => '/c/abcde', status: 404 },
    { name: '33 characters', path: () => `/c/${'a'.repeat(33)}`, status: 404 },
    { name: '1,500 characters', path: () => `/c/${'a'.repeat(1500)}`, status: 404 },
    { name: 'the code plus one character', path: (c) => `/c/${c}x`, status: 404 },
    { name: 'dash', path: () => '/c/abc-defgh', status: 404 },
    { name: 'underscore', path: () => '/c/abc_defgh', status: 404 },
    { name: 'dot', path: (c) => `/c/${c}.json`, status: 404 },
    { name: 'tilde', path: () => '/c/abc~defgh', status: 404 },
    { name: 'plus', path: () => '/c/abc+defgh', status: 404 },
    { name: 'encoded space', path: (c) => `/c/${c}%20`, status: 404 },
    { name: 'emoji', path: () => `/c/${encodeURIComponent('abc😀defgh')}`, status: 404 },
    { name: 'semicolon parameter', path: (c) => `/c/${c};jsessionid=x`, status: 404 },
    { name: 'encoded #', path: (c) => `/c/${c}%23frag`, status: 404 },
    { name: 'encoded ?', path: (c) => `/c/${c}%3Furl=https://evil.example`, status: 404 },
    { name: 'user@host form', path: (c) => `/c/${c}@evil.example`, status: 404 },
    { name: "SQL ' OR '1'='1", path: () => `/c/${encodeURIComponent("' OR '1'='1")}`, status: 404 },
    { name: "SQL abc'--", path: () => `/c/${encodeURIComponent("abcdef'--")}`, status: 404 },
    { name: 'SQL UNION SELECT', path: () => `/c/${encodeURIComponent('1 UNION SELECT short_code FROM tracking.messages')}`, status: 404 },
    { name: 'SQL stacked statement', path: (c) => `/c/${c}${encodeURIComponent(';DROP TABLE tracking.clicks')}`, status: 404 },
  ],
  'paths and redirect tricks': [
    { name: 'encoded path traversal', path: () => '/c/..%2F..%2Fetc%2Fpasswd', status: 404 },
    { name: 'raw dot-dot', raw: () => rawGet('/c/..'), status: 404 },
    { name: 'raw encoded dot-dot', raw: () => rawGet('/c/%2e%2e'), status: 404 },
    { name: 'raw encoded dot-dot into another path', raw: (c) => rawGet(`/c/%2e%2e%2f${c}`), status: 404 },
    { name: 'raw dot-dot after the code', raw: (c) => rawGet(`/c/${c}/../../admin`), status: 404 },
    { name: 'abc%2F%2Fevil.com', path: () => '/c/abc%2F%2Fevil.com', status: 404 },
    { name: 'the code then %2F%2Fevil.com', path: (c) => `/c/${c}%2F%2Fevil.com`, status: 404 },
    { name: '%2F%2Fevil.com as the code', path: () => '/c/%2F%2Fevil.com', status: 404 },
    { name: 'encoded backslashes', path: () => '/c/%5C%5Cevil.com', status: 404 },
    { name: 'encoded /\\', path: () => '/c/%2F%5Cevil.com', status: 404 },
    { name: 'double-encoded //', path: () => '/c/%252F%252Fevil.com', status: 404 },
    { name: '//evil.com as the whole path', raw: () => rawGet('//evil.com'), status: 404 },
    { name: '/c//evil.com', raw: () => rawGet('/c//evil.com'), status: 404 },
    { name: 'a path after the code', path: (c) => `/c/${c}/https://evil.example`, status: 404 },
    { name: 'an encoded URL as the code', path: () => '/c/https%3A%2F%2Fevil.example', status: 404 },
    { name: 'http: with encoded slashes', path: () => '/c/http:%2F%2Fevil.com', status: 404 },
    { name: 'javascript: as the code', path: () => '/c/javascript:alert(1)', status: 404 },
    { name: 'data: as the code', path: () => `/c/${encodeURIComponent('data:text/html,<script>alert(1)</script>')}`, status: 404 },
    { name: 'empty code', path: () => '/c/', status: 404 },
    { name: 'no code segment', path: () => '/c', status: 404 },
  ],
  'encodings and Unicode': [
    { name: 'CRLF + Location after the code', path: (c) => `/c/${c}%0d%0aLocation:%20https://evil.example`, status: 404 },
    { name: 'CRLF + Set-Cookie after the code', path: (c) => `/c/${c}%0D%0ASet-Cookie:%20a=b`, status: 404 },
    { name: '%00 after the code', path: (c) => `/c/${c}%00`, status: 404 },
    { name: '%00 inside the code', path: (c) => `/c/${c.slice(0, 6)}%00${c.slice(6)}`, status: 404 },
    { name: 'zero-width space after the code', path: (c) => `/c/${c}%E2%80%8B`, status: 404 },
    { name: 'RTL override before the code', path: (c) => `/c/%E2%80%AE${c}`, status: 404 },
    { name: 'fullwidth look-alike code', path: (c) => `/c/${encodeURIComponent(fullwidth(c))}`, status: 404 },
    { name: 'Cyrillic homoglyph in the code', path: (c) => `/c/${encodeURIComponent(`${c.slice(0, 11)}а`)}`, status: 404 },
    { name: 'dotless i appended', path: (c) => `/c/${encodeURIComponent(`${c}ı`)}`, status: 404 },
    { name: 'invalid escape %ZZ', path: (c) => `/c/${c}%ZZ`, status: 400 },
    { name: 'truncated escape', path: (c) => `/c/${c}%4`, status: 400 },
    { name: 'lone surrogate %ED%A0%80', path: () => '/c/%ED%A0%80', status: 400 },
    { name: 'overlong UTF-8 %C0%AF', path: (c) => `/c/${c}%C0%AF`, status: 400 },
    { name: 'bytes FF FE', path: () => '/c/%FF%FEabcdefgh', status: 400 },
    { name: 'raw space in the request target', raw: (c) => rawGet(`/c/${c} x`), status: 400 },
    { name: 'raw NUL byte in the request target', raw: (c) => rawGet(`/c/${c}\u0000`), status: 400 },
    { name: 'raw bare CR in a header', raw: (c) => rawGet(`/c/${c}`, 'X-A: a\rb\r\n'), status: 400 },
    { name: 'raw obsolete header folding', raw: (c) => rawGet(`/c/${c}`, 'X-A: a\r\n b\r\n'), status: 400 },
    { name: 'raw NUL in the user agent', raw: (c) => `GET /c/${c} HTTP/1.1\r\nHost: x\r\nUser-Agent: Mozilla\u0000evil\r\nConnection: close\r\n\r\n`, status: 400 },
    { name: 'raw Content-Length with Transfer-Encoding', raw: (c) => `GET /c/${c} HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n`, status: 400 },
  ],
  'sizes': [
    { name: 'code of 10,000 characters (URL over the limit)', path: () => `/c/${'a'.repeat(10_000)}`, status: 431 },
    { name: 'URL just over TRACKING_MAX_URL_BYTES', path: (c) => `/c/${c}?pad=${'p'.repeat(MAX_URL)}`, status: 414 },
    { name: 'URL of 6 KB', path: (c) => `/c/${c}?pad=${'p'.repeat(6000)}`, status: 414 },
    { name: 'user agent of 10 KB', headers: { 'user-agent': `Mozilla/5.0 ${'A'.repeat(10_000)}` }, status: 431 },
    { name: '100 headers of 100 bytes', headers: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`x-h${i}`, 'v'.repeat(90)])), status: 431 },
    { name: 'cookie of 9 KB', headers: { cookie: `a=${'c'.repeat(9000)}` }, status: 431 },
  ],
  'wrong methods': [
    ...['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'PROPFIND'].map((method): Row => ({ name: method, method, status: 405 })),
    { name: 'POST with a form body naming a destination', method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'url=https%3A%2F%2Fevil.example', status: 405 },
    { name: 'POST with a JSON body', method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"url":"https://evil.example"}', status: 405 },
    { name: 'POST with 1 MB of body', method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.alloc(1_048_576, 0x61), status: 405 },
    { name: 'PUT on an unknown code', method: 'PUT', path: () => '/c/ZZZZZZZZZZZZ', status: 405 },
    { name: 'raw TRACE', raw: (c) => `TRACE /c/${c} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, status: 405 },
    { name: 'raw made-up method', raw: (c) => `FOO /c/${c} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, status: 400 },
  ],
};

/** On the real code, with a destination or click id smuggled in: the offer's URL, our click id, nothing else. */
const redirected: Row[] = [
  { name: '?url=http://evil', path: (c) => `/c/${c}?url=http://evil.example`, status: 302 },
  { name: '?redirect=//evil&next=/\\evil', path: (c) => `/c/${c}?redirect=//evil.example&next=/%5Cevil.example`, status: 302 },
  { name: 'our own parameter names in the query', path: (c) => `/c/${c}?cid=attacker&m=other-message&click_id=attacker`, status: 302 },
  { name: 'CRLF + Location in the query', path: (c) => `/c/${c}?%0D%0ALocation:%20http://evil.example=1`, status: 302 },
  { name: 'encoded scheme in the query', path: (c) => `/c/${c}?u=javascript%3Aalert(1)`, status: 302 },
  { name: 'a Host header naming another site', headers: { host: 'evil.example' }, status: 302 },
  { name: 'X-Forwarded-Host', headers: { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http' }, status: 302 },
  { name: 'Forwarded host=', headers: { forwarded: 'host=evil.example;proto=http' }, status: 302 },
  { name: 'X-Original-URL and X-Rewrite-URL', headers: { 'x-original-url': '//evil.example', 'x-rewrite-url': '//evil.example' }, status: 302 },
  { name: 'a Referer from another site', headers: { referer: 'https://evil.example/' }, status: 302 },
  { name: 'SQL in the user agent', headers: { 'user-agent': `${IPHONE} ' OR '1'='1; DROP TABLE tracking.clicks;--` }, status: 302 },
  { name: 'user agent of 6 KB', headers: { 'user-agent': `${IPHONE} ${'A'.repeat(6000)}` }, status: 302 },
  { name: 'Accept-Language of 4 KB', headers: { 'accept-language': 'en;q=0.9,'.repeat(400) }, status: 302 },
  { name: 'HEAD (recorded as a bot, never counted)', method: 'HEAD', status: 302 },
  // Node reads a request line without a version as HTTP/0.9-style and the CRLF ends it: the "Location" is a request
  // header then, and the answer is our redirect.
  { name: 'raw CR LF + Location inside the request line', raw: (c) => `GET /c/${c}\r\nLocation: https://evil.example HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, status: 302 },
  { name: 'raw absolute-form target naming another host', raw: (c) => `GET http://evil.example/c/${c} HTTP/1.1\r\nHost: evil.example\r\nUser-Agent: ${IPHONE}\r\nConnection: close\r\n\r\n`, status: 302 },
];

describe('click edge: hostile input (real Postgres, NATS, HTTP)', () => {
  let t: TrackingTestApp;
  let pg: TrackingTestApp['pg'];
  let client: TrackingTestApp['client'];
  let httpPort: number;
  let code: string;
  const clock = new ManualClock(new Date('2026-11-02T10:00:00Z'));

  beforeAll(async () => {
    t = await startTrackingForTest(
      {
        TRACKING_MAX_URL_BYTES: String(MAX_URL),
        TRACKING_MAX_HEADER_BYTES: String(MAX_HEADER),
        // Every row comes from 127.0.0.1 with one user agent: neither the noise limiter nor the repeat rule is tested here.
        TRACKING_NOISE_RATE_PER_S: '0',
        TRACKING_BOT_REPEAT_CODES: '0',
      },
      clock,
    );
    ({ client, pg, httpPort } = t);
    await client.upsertCampaign({ campaignId: 'camp-1', name: 'Weekly blast' });
    await client.upsertCreative({ creativeId: 'cr-1', name: 'Summer' });
    await client.upsertOffer({
      offerId: 'summer',
      name: 'Summer',
      destinationUrlTemplate: `${OFFER}?cid={click_id}&m={message_id}`,
      defaultPayout: { currencyCode: 'USD', amountMicros: '1000000' },
      clickWindowDays: 30,
    });
    const { messages } = await client.registerMessages({
      messages: [{ messageId: 'msg-h', contactId: 'c-h', phoneE164: '+15551231234', campaignId: 'camp-1', creativeId: 'cr-1', offerId: 'summer', sentAt: new Date('2026-11-01T00:00:00Z') }],
    });
    code = messages[0].shortCode;
  });

  afterAll(async () => {
    await t?.close();
  }, 30_000);

  /** A click row is also its ClickRecorded event's source (xid set): no row, no event. */
  async function counts(): Promise<{ clicks: number; human: number; events: number; outbox: number }> {
    const { rows: [r] } = await pg.query(
      `SELECT (SELECT count(*)::int FROM "tracking".clicks) AS clicks,
              (SELECT count(*)::int FROM "tracking".clicks WHERE click_class = 'HUMAN') AS human,
              (SELECT count(*)::int FROM "tracking".clicks WHERE xid IS NOT NULL) AS events,
              (SELECT count(*)::int FROM "tracking".outbox WHERE subject LIKE '%ClickRecorded') AS outbox`,
    );
    return r;
  }

  async function send(row: Row): Promise<{ status: number; location: string | null; allow: string | null; body: string }> {
    if (row.raw) {
      const r = await rawHttp(httpPort, row.raw(code), { untilClose: true });
      return { status: r.status, location: /\r\nlocation: *([^\r\n]*)/i.exec(r.answer)?.[1] ?? null, allow: null, body: r.answer };
    }
    const path = (row.path ?? ((c) => `/c/${c}`))(code);
    const res = await fetch(`http://127.0.0.1:${httpPort}${path}`, { method: row.method ?? 'GET', redirect: 'manual', headers: { ...BROWSER, ...row.headers }, body: row.body });
    return { status: res.status, location: res.headers.get('location'), allow: res.headers.get('allow'), body: await res.text() };
  }

  const refusedRows: [string, Row][] = Object.entries(refused).flatMap(([category, list]) => list.map((r): [string, Row] => [`${category}: ${r.name} -> ${r.status}`, r]));

  it('control: the real code redirects to the offer and counts one HUMAN click', async () => {
    const before = await counts();
    const res = await send({ name: 'control', status: 302 });
    expect(res.status).toBe(302);
    expect(res.location).toMatch(new RegExp(`^${OFFER}\\?cid=[0-9A-Za-z]{22}&m=msg-h$`));
    expect(await counts()).toEqual({ clicks: before.clicks + 1, human: before.human + 1, events: before.events + 1, outbox: 0 });
  });

  it(`has at least 60 rows (${refusedRows.length} refused + ${redirected.length} redirected)`, () => {
    expect(refusedRows.length + redirected.length).toBeGreaterThanOrEqual(60);
  });

  it.each(refusedRows)('%s', async (_name, row) => {
    const before = await counts();
    const res = await send(row);
    expect({ status: res.status, location: res.location }).toEqual({ status: row.status, location: null });
    // Nothing recorded, nothing counted, no event; and no stack trace or internals in the answer.
    expect(await counts()).toEqual(before);
    expect(res.body).not.toMatch(/\bat \S+ \(|node_modules|\/work\/|Error:|<html/i);
    if (row.status === 405 && !row.raw) expect(res.allow).toBe('GET, HEAD');
  });

  it.each(redirected.map((r): [string, Row] => [`${r.name} -> ${r.status}`, r]))('%s: the offer URL, our click id, nothing else', async (_name, row) => {
    const before = await counts();
    const res = await send(row);
    expect(res.status).toBe(302);
    const location = new URL(res.location!);
    expect(location.origin + location.pathname).toBe(OFFER);
    expect([...location.searchParams.keys()]).toEqual(['cid', 'm']);
    expect(location.searchParams.get('m')).toBe('msg-h');
    const clickId = location.searchParams.get('cid')!;
    expect(clickId).toMatch(/^[0-9A-Za-z]{22}$/);
    const after = await counts();
    expect(after.clicks).toBe(before.clicks + 1);
    const { rows: [click] } = await pg.query(`SELECT click_class, length(user_agent)::int AS ua FROM "tracking".clicks WHERE click_id = $1`, [clickId]);
    expect(click.ua).toBeLessThanOrEqual(512);
    if (row.method === 'HEAD') {
      expect(click.click_class).toBe('BOT');
      expect(after.human).toBe(before.human);
    }
  });
});
