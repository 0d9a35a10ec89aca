import { Events } from '@trackly/messaging';
import { PostbackRefused } from '@trackly/contracts/ingest/v1/ingest_events';
import { ManualClock } from '@trackly/kernel';
import { rawHttp } from '@trackly/testing';
import { PartnerKind } from '@trackly/contracts/ingest/v1/ingest';
import { IngestTestApp, partnerRequest, startIngestForTest } from './ingest-test-app';

/**
 * The postback edge against malformed and hostile requests: each row is one request and the 4xx it must get, and
 * after each one no conversion row and no outbox event may exist that was not there before. The raw archive may
 * keep the refused request (that is its job: docs/partners.md), but never as stored, and never with the token.
 */

const MAX_QUERY = 8192;
const MAX_BODY = 16_384;
const MAX_HEADER = 16_384;
const CLICK = 'Ab3dEf9hIj2LmN0pQr5tUv';

/** A valid query per partner kind; `$ID` becomes a key of the row's own, so no row can hide behind another's. */
const BASE: Record<string, string> = {
  gen: `click_id=${CLICK}&conversion_id=$ID&payout=1.00&currency=USD`,
  walled: `click_id=${CLICK}&conversion_id=$ID&payout=1.00&currency=USD`,
  tune: `aff_click_id=${CLICK}&transaction_id=$ID&goal_id=0&payout=1.00&currency=USD&datetime=2026-11-02%2009:00:00`,
  ef: `sub1=${CLICK}&transaction_id=$ID&conversion_id=$ID&event_id=0&payout=1.00&currency=USD`,
};

/** The base query of `partner` with parameters replaced (value string, raw and already encoded), removed (null) or added. */
function q(over: Record<string, string | null>, partner = 'gen'): string {
  const pairs = BASE[partner].split('&').map((p) => p.split('=') as [string, string]);
  const out: string[] = [];
  const seen = new Set<string>();
  for (const [k, v] of pairs) {
    if (k in over) {
      seen.add(k);
      if (over[k] !== null) out.push(`${k}=${over[k]}`);
    } else out.push(`${k}=${v}`);
  }
  for (const [k, v] of Object.entries(over)) if (!seen.has(k) && v !== null) out.push(`${k}=${v}`);
  return out.join('&');
}

const enc = (s: string) => encodeURIComponent(s);

interface Row {
  name: string;
  /** GET unless said. */
  method?: string;
  /** The partner whose path and token are used (default gen). */
  partner?: string;
  /** A raw, already encoded path replacing /postbacks/{partner}. */
  path?: string;
  /** Query without the token (default: the partner's valid base query). */
  query?: string;
  /** The token parameter's raw value from the partner's real token; null = no token parameter at all. */
  token?: ((t: string) => string) | null;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Client address, through the trusted proxy header. */
  from?: string;
  /** A whole raw HTTP/1.1 request, for what fetch refuses to send. */
  raw?: (token: string) => string | Buffer;
  status: number;
  /** The archive's reason code, when the app (not Node) answered. */
  reason?: string;
}

const form = (body: string | Buffer, contentType = 'application/x-www-form-urlencoded'): Pick<Row, 'method' | 'headers' | 'body' | 'query'> => ({
  method: 'POST',
  headers: { 'content-type': contentType },
  body,
  query: '',
});
const json = (body: string | Buffer, contentType = 'application/json') => form(body, contentType);
const jsonOf = (fields: Record<string, unknown>) => json(JSON.stringify({ click_id: CLICK, conversion_id: '$ID', payout: '1.00', ...fields }));
const nested = (depth: number, open: string, close: string) => `{"conversion_id":"$ID","payout":"1","x":${open.repeat(depth)}1${close.repeat(depth)}}`;

const badNumbers: [string, string][] = [
  ['exponent', '1e3'],
  ['upper-case exponent', '1E3'],
  ['negative exponent', '1e-3'],
  ['huge exponent', '1e400'],
  ['NaN', 'NaN'],
  ['Infinity', 'Infinity'],
  ['-Infinity', '-Infinity'],
  ['minus zero', '-0'],
  ['minus zero with decimals', '-0.00'],
  ['negative', '-5'],
  ['small negative', '-0.01'],
  ['comma before 3 digits: thousands or decimals?', '1,000'],
  ['comma before 3 digits, European style', '19%2C999'],
  ['hex', '0x10'],
  ['binary', '0b101'],
  ['octal', '0o17'],
  ['30 digits', '1'.repeat(30)],
  ['13 digits (over 10^12 units)', '9999999999999'],
  ['7 decimals', '1.1234567'],
  ['below a micro', '0.0000001'],
  ['leading plus', '%2B1'],
  ['leading dot', '.5'],
  ['trailing dot', '5.'],
  ['two dots', '1.2.3'],
  ['inner space', '1%20000'],
  ['underscore separator', '1_000'],
  ['fraction', '1%2F2'],
  ['infinity sign', enc('∞')],
  ['trailing letters', '12abc'],
  ['generic currency sign', '%C2%A45'],
  ['unit suffix', '5kg'],
  ['code that is no currency', '5%20XYZ'],
  ['commas that group nothing', '1%2C23%2C4'],
  ['double minus', '--1'],
  ['null', 'null'],
  ['boolean', 'true'],
  ['array syntax', '%5B1%5D'],
  ['over 256 characters', '1'.repeat(300)],
];

const tokenRows: Row[] = [
  { name: 'no token', token: null, status: 401, reason: 'MISSING_TOKEN' },
  { name: 'empty token', token: () => '', status: 401, reason: 'MISSING_TOKEN' },
  { name: 'forged token (43 random characters)', token: () => 'Zm9yZ2VkLXRva2VuLWZvcmdlZC10b2tlbi1mb3JnZWQ', status: 401, reason: 'BAD_TOKEN' },
  { name: 'truncated token (one character short)', token: (t) => t.slice(0, -1), status: 401, reason: 'BAD_TOKEN' },
  { name: 'truncated token (first character only)', token: (t) => t.slice(0, 1), status: 401, reason: 'BAD_TOKEN' },
  { name: 'token with one character added', token: (t) => `${t}A`, status: 401, reason: 'BAD_TOKEN' },
  { name: 'upper-cased token', token: (t) => t.toUpperCase(), status: 401, reason: 'BAD_TOKEN' },
  { name: 'lower-cased token', token: (t) => t.toLowerCase(), status: 401, reason: 'BAD_TOKEN' },
  { name: 'token with a trailing space', token: (t) => `${t}%20`, status: 401, reason: 'BAD_TOKEN' },
  { name: 'token with base64 padding', token: (t) => `${t}%3D`, status: 401, reason: 'BAD_TOKEN' },
  { name: 'token with a zero-width space', token: (t) => `${t}%E2%80%8B`, status: 401, reason: 'BAD_TOKEN' },
  { name: 'token behind a zero-width joiner', token: (t) => `%E2%80%8D${t}`, status: 401, reason: 'BAD_TOKEN' },
  { name: 'token with CRLF', token: (t) => `${t}%0D%0A`, status: 401, reason: 'BAD_TOKEN' },
  { name: 'SQL in the token', token: () => enc("' OR '1'='1"), status: 401, reason: 'BAD_TOKEN' },
  { name: 'SQL comment in the token', token: () => enc("x' OR 1=1--"), status: 401, reason: 'BAD_TOKEN' },
  { name: 'the SHA-256 of the token instead', token: () => 'a'.repeat(64), status: 401, reason: 'BAD_TOKEN' },
  { name: 'a 5000-character token', token: () => 'A'.repeat(5000), status: 401, reason: 'BAD_TOKEN' },
  { name: "another partner's token", token: () => tokens.tune, status: 401, reason: 'BAD_TOKEN' },
  { name: 'the real token twice', query: `${q({})}&token=$TOKEN`, status: 401, reason: 'BAD_TOKEN' },
  { name: 'the real token and a forged one', query: `${q({})}&token=forged`, status: 401, reason: 'BAD_TOKEN' },
  { name: 'token only in an Authorization header', token: null, headers: { authorization: 'Bearer $TOKEN' }, status: 401, reason: 'MISSING_TOKEN' },
  { name: 'token only in an X-Token header', token: null, headers: { 'x-token': '$TOKEN' }, status: 401, reason: 'MISSING_TOKEN' },
  { name: 'token only in a cookie', token: null, headers: { cookie: 'token=$TOKEN' }, status: 401, reason: 'MISSING_TOKEN' },
  { name: 'token parameter with a capital T', token: null, query: `${q({})}&Token=$TOKEN`, status: 401, reason: 'MISSING_TOKEN' },
  { name: 'token as a path segment', token: null, path: '/postbacks/gen/$TOKEN', status: 404 },
  { name: 'token as a JSON number', token: null, ...json('{"conversion_id":"$ID","payout":"1","token":12345}'), status: 401, reason: 'BAD_TOKEN' },
  { name: 'token as JSON null', token: null, ...json('{"conversion_id":"$ID","payout":"1","token":null}'), status: 400, reason: 'UNREADABLE_BODY' },
  { name: 'token in a text/plain body', token: null, ...form('token=$TOKEN&conversion_id=$ID&payout=1', 'text/plain'), status: 415, reason: 'UNSUPPORTED_MEDIA_TYPE' },
  { name: 'valid token for a partner that does not exist', path: '/postbacks/nobody', status: 404, reason: 'UNKNOWN_PARTNER' },
];

const rows: Record<string, Row[]> = {
  'bad numbers': [
    ...badNumbers.map(([name, v]): Row => ({ name: `payout: ${name}`, query: q({ payout: v }), status: 400, reason: 'INVALID_FIELDS' })),
    { name: 'payout: fullwidth digits', query: q({ payout: enc('１２') }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'payout: fullwidth digits and point', query: q({ payout: enc('１０.００') }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'payout: Arabic-Indic digits', query: q({ payout: enc('١٢') }), status: 400, reason: 'INVALID_FIELDS' },
    // A missing or empty payout is stored flagged payout_absent (ingest.int-spec): not hostile, so not here.
    { name: 'payout: "$" while the postback says EUR', query: q({ payout: '%245', currency: 'EUR' }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'payout: "€" while the postback says USD', query: q({ payout: enc('€5'), currency: 'USD' }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'payout: code contradicting the currency parameter', query: q({ payout: '5%20GBP', currency: 'USD' }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'sale_amount: exponent', query: q({ sale_amount: '1e3' }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'sale_amount: negative', query: q({ sale_amount: '-1' }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'sale_amount: NaN', query: q({ sale_amount: 'NaN' }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'TUNE payout: exponent', partner: 'tune', query: q({ payout: '1e3' }, 'tune'), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'Everflow payout_amount: Infinity', partner: 'ef', query: q({ payout: null, payout_amount: 'Infinity' }, 'ef'), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'JSON payout: number with exponent', ...json('{"conversion_id":"$ID","payout":1e3}'), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'JSON payout: negative zero', ...json('{"conversion_id":"$ID","payout":-0}'), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'JSON payout: 7 decimals', ...json('{"conversion_id":"$ID","payout":1.0000001}'), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'JSON payout: 1e999999', ...json('{"conversion_id":"$ID","payout":1e999999}'), status: 400, reason: 'INVALID_FIELDS' },
  ],
  'bad encodings': [
    { name: 'stray % in click_id', query: q({ click_id: 'abc%ZZ' }), status: 400, reason: 'UNREADABLE_QUERY' },
    { name: 'trailing % in click_id', query: q({ click_id: 'abc%' }), status: 400, reason: 'UNREADABLE_QUERY' },
    { name: 'half an escape', query: q({ click_id: 'abc%4' }), status: 400, reason: 'UNREADABLE_QUERY' },
    { name: 'overlong UTF-8 "/" (%C0%AF)', query: q({ click_id: '%C0%AF' }), status: 400, reason: 'UNREADABLE_QUERY' },
    { name: 'overlong UTF-8 "." (%E0%80%AE)', query: q({ click_id: '%E0%80%AE' }), status: 400, reason: 'UNREADABLE_QUERY' },
    { name: 'lone high surrogate %ED%A0%80', query: q({ click_id: '%ED%A0%80' }), status: 400, reason: 'UNREADABLE_QUERY' },
    { name: 'lone low surrogate %ED%B0%80', query: q({ conversion_id: 'x%ED%B0%80' }), status: 400, reason: 'UNREADABLE_QUERY' },
    { name: 'beyond U+10FFFF', query: q({ click_id: '%F4%90%80%80' }), status: 400, reason: 'UNREADABLE_QUERY' },
    { name: 'bytes FF FE', query: q({ click_id: '%FF%FE' }), status: 400, reason: 'UNREADABLE_QUERY' },
    { name: 'truncated sequence', query: q({ click_id: '%E0%A4%A' }), status: 400, reason: 'UNREADABLE_QUERY' },
    { name: 'invalid escape in a parameter name', query: `${q({})}&%ZZ=1`, status: 400, reason: 'UNREADABLE_QUERY' },
    { name: 'invalid UTF-8 in an uninterpreted parameter', query: `${q({})}&note=%C3%28`, status: 400, reason: 'UNREADABLE_QUERY' },
    { name: '%00 in click_id', query: q({ click_id: 'abc%00def' }), status: 400, reason: 'INVALID_FIELDS' },
    { name: '%00 alone as click_id', query: q({ click_id: '%00' }), status: 400, reason: 'INVALID_FIELDS' },
    { name: '%00 at the end of conversion_id', query: q({ conversion_id: '$ID%00' }), status: 400, reason: 'INVALID_FIELDS' },
    { name: '%00 after the payout', query: q({ payout: '1.00%00' }), status: 400, reason: 'INVALID_FIELDS' },
    { name: '%00 after the currency', query: q({ currency: 'USD%00' }), status: 400, reason: 'INVALID_FIELDS' },
    { name: '%00 after the status', query: q({ status: 'approved%00' }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'U+FFFD sent as such', query: q({ click_id: '%EF%BF%BD' }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'noncharacter U+FFFF', query: q({ click_id: 'a%EF%BF%BF' }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'private-use U+E000', query: q({ conversion_id: '$ID%EE%80%80' }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'C1 control U+0085', query: q({ click_id: 'a%C2%85b' }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'form body with a lone surrogate', ...form('conversion_id=$ID&payout=1&click_id=%ED%A0%80'), status: 400, reason: 'UNREADABLE_BODY' },
    { name: 'form body with a stray %', ...form('conversion_id=$ID&payout=1%'), status: 400, reason: 'UNREADABLE_BODY' },
    { name: 'JSON body with a \\ud800 escape', ...json('{"conversion_id":"$ID","payout":"1","click_id":"a\\ud800"}'), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'JSON body with a \\u0000 escape', ...json('{"conversion_id":"$ID\\u0000","payout":"1"}'), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'JSON body with overlong UTF-8 bytes', ...json(Buffer.from([...Buffer.from('{"conversion_id":"'), 0xc0, 0xaf, ...Buffer.from('","payout":"1"}')])), status: 400, reason: 'UNREADABLE_BODY' },
    { name: 'JSON body in UTF-16', ...json(Buffer.from('\ufeff{"conversion_id":"$ID","payout":"1"}', 'utf16le')), status: 400, reason: 'UNREADABLE_BODY' },
    { name: 'raw space inside the request target', raw: (t) => `GET /postbacks/gen?conversion_id=a b&payout=1&token=${t} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, status: 400 },
    { name: 'raw NUL byte in the request target', raw: (t) => `GET /postbacks/gen?conversion_id=a\u0000b&payout=1&token=${t} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, status: 400 },
  ],
  'overlong fields': [
    { name: 'click_id of 10,000 characters in a form body', ...form(`conversion_id=$ID&payout=1&click_id=${'c'.repeat(10_000)}`), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'click_id of 10,000 characters in the query', query: q({ click_id: 'c'.repeat(10_000) }), status: 414, reason: 'QUERY_TOO_LONG' },
    { name: 'conversion_id of 1 KB', query: q({ conversion_id: 'k'.repeat(1024) }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'conversion_id of 257 characters', query: q({ conversion_id: 'k'.repeat(257) }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'transaction_id of 1 KB (TUNE)', partner: 'tune', query: q({ transaction_id: 't'.repeat(1024) }, 'tune'), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'currency of 1 KB', query: q({ currency: 'U'.repeat(1024) }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'status of 1 KB', query: q({ status: 's'.repeat(1024) }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'click_id of 1 KB in JSON', ...jsonOf({ click_id: 'c'.repeat(1024) }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'partner id of 65 characters', path: `/postbacks/${'p'.repeat(65)}`, status: 400, reason: 'INVALID_PARTNER_ID' },
    { name: 'partner id of 1 KB', path: `/postbacks/${'p'.repeat(1024)}`, status: 400, reason: 'INVALID_PARTNER_ID' },
    { name: 'query padded past the limit', query: `${q({})}&pad=${'x'.repeat(MAX_QUERY)}`, status: 414, reason: 'QUERY_TOO_LONG' },
    { name: 'payout repeated 500 times', query: `${q({ payout: null })}${'&payout=1'.repeat(500)}`, status: 400, reason: 'INVALID_FIELDS' },
    { name: 'form body over the limit', ...form(`conversion_id=$ID&payout=1&pad=${'x'.repeat(MAX_BODY)}`), status: 413, reason: 'BODY_TOO_LARGE' },
    { name: 'JSON body over the limit', ...json(`{"conversion_id":"$ID","payout":"1","pad":"${'x'.repeat(MAX_BODY)}"}`), status: 413, reason: 'BODY_TOO_LARGE' },
    { name: 'one header of 20 KB', raw: (t) => `GET /postbacks/gen?conversion_id=hdr&payout=1&token=${t} HTTP/1.1\r\nHost: x\r\nX-Pad: ${'h'.repeat(20_000)}\r\nConnection: close\r\n\r\n`, status: 431 },
    { name: '400 headers of 100 bytes', raw: (t) => `GET /postbacks/gen?conversion_id=hdrs&payout=1&token=${t} HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 400 }, (_, i) => `X-H${i}: ${'v'.repeat(90)}\r\n`).join('')}Connection: close\r\n\r\n`, status: 431 },
    { name: 'request URL of 20 KB', raw: (t) => `GET /postbacks/gen?conversion_id=url&payout=1&token=${t}&pad=${'u'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, status: 431 },
  ],
  'SQL injection': [
    { name: "partner id ' OR '1'='1", path: `/postbacks/gen${enc("' OR '1'='1")}`, status: 400, reason: 'INVALID_PARTNER_ID' },
    { name: 'partner id ;DROP TABLE', path: `/postbacks/gen${enc(';DROP TABLE "ingest".conversions')}`, status: 400, reason: 'INVALID_PARTNER_ID' },
    { name: 'partner id UNION SELECT', path: `/postbacks/${enc("x' UNION SELECT token_sha256 FROM \"ingest\".partners--")}`, status: 400, reason: 'INVALID_PARTNER_ID' },
    { name: "partner id admin'--", path: `/postbacks/${enc("admin'--")}`, status: 400, reason: 'INVALID_PARTNER_ID' },
    { name: 'payout 1;DROP TABLE', query: q({ payout: enc('1;DROP TABLE x') }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'payout 1 OR 1=1', query: q({ payout: enc('1 OR 1=1') }), status: 400, reason: 'INVALID_FIELDS' },
    { name: "currency USD'--", query: q({ currency: enc("USD'--") }), status: 400, reason: 'INVALID_FIELDS' },
    { name: "status approved' OR '1'='1", query: q({ status: enc("approved' OR '1'='1") }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'occurred_at with a stacked query', query: q({ occurred_at: enc("2026-11-02T10:00:00Z'; DROP TABLE x;--") }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'conversion_id with a NUL to cut the statement', query: q({ conversion_id: enc("x'") + '%00--' }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'click_id with a statement and a newline', query: q({ click_id: enc('1\'); DELETE FROM "ingest".conversions; --\n') }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'JSON operator object as conversion_id', ...json('{"conversion_id":{"$ne":null},"payout":"1"}'), status: 400, reason: 'UNREADABLE_BODY' },
    { name: 'sale_amount with a subquery', query: q({ sale_amount: enc('(SELECT 1)') }), status: 400, reason: 'INVALID_FIELDS' },
    { name: "reversal of conversion_id ' OR ''='", method: 'POST', path: '/postbacks/gen/reversal', query: `conversion_id=${enc("' OR ''='")}`, status: 404, reason: 'UNKNOWN_CONVERSION' },
    { name: 'reversal with event_id 0 OR 1=1 and a newline', method: 'POST', path: '/postbacks/gen/reversal', query: `transaction_id=x&event_id=${enc('0 OR 1=1\n')}`, status: 400, reason: 'INVALID_FIELDS' },
  ],
  'header injection': [
    { name: 'CRLF + Set-Cookie in click_id', query: q({ click_id: 'abc%0D%0ASet-Cookie:%20x=1' }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'CRLF + Location in conversion_id', query: q({ conversion_id: '$ID%0D%0ALocation:%20http://evil.example' }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'trailing CRLF on the currency', query: q({ currency: 'USD%0D%0A' }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'trailing LF on the payout', query: q({ payout: '1.00%0A' }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'trailing CR on the status', query: q({ status: 'approved%0D' }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'CRLF in occurred_at', query: q({ occurred_at: '2026-11-02T09:00:00Z%0D%0AX:%201' }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'LF in the TUNE goal_id', partner: 'tune', query: q({ goal_id: '1%0A' }, 'tune'), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'CRLF alone as click_id', query: q({ click_id: '%0D%0A' }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'tab inside the conversion id', query: q({ conversion_id: 'a%09b' }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'U+2028 line separator in click_id', query: q({ click_id: 'abc%E2%80%A8def' }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'U+2029 paragraph separator in conversion_id', query: q({ conversion_id: '$ID%E2%80%A9' }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'form body value with CRLF', ...form(`conversion_id=$ID&payout=1&click_id=a%0D%0AX-Injected:%201`), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'raw bare CR inside a header value', raw: (t) => `GET /postbacks/gen?conversion_id=cr&payout=1&token=${t} HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\nConnection: close\r\n\r\n`, status: 400 },
    { name: 'raw obsolete header folding', raw: (t) => `GET /postbacks/gen?conversion_id=fold&payout=1&token=${t} HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\nConnection: close\r\n\r\n`, status: 400 },
    { name: 'raw Content-Length and Transfer-Encoding together (smuggling)', raw: (t) => `POST /postbacks/gen?token=${t} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 30\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\nconversion_id=smug&payout=1`, status: 400 },
    { name: 'raw two different Content-Lengths', raw: (t) => `POST /postbacks/gen?token=${t} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 27\r\nContent-Length: 5\r\nConnection: close\r\n\r\nconversion_id=smug2&payout=1`, status: 400 },
  ],
  'Unicode tricks': [
    { name: 'homoglyph partner id (Cyrillic e)', path: `/postbacks/${enc('gеn')}`, status: 400, reason: 'INVALID_PARTNER_ID' },
    { name: 'fullwidth partner id', path: `/postbacks/${enc('ｇｅｎ')}`, status: 400, reason: 'INVALID_PARTNER_ID' },
    { name: 'partner id with a zero-width space', path: `/postbacks/gen${enc('\u200b')}`, status: 400, reason: 'INVALID_PARTNER_ID' },
    { name: 'partner id with an RTL override', path: `/postbacks/${enc('\u202egen')}`, status: 400, reason: 'INVALID_PARTNER_ID' },
    { name: 'partner id upper-cased', path: '/postbacks/GEN', status: 404, reason: 'UNKNOWN_PARTNER' },
    { name: 'RTL override in click_id', query: q({ click_id: enc(`${CLICK}\u202e`) }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'RTL override disguising a file name', query: q({ conversion_id: enc('order\u202etxt.exe') }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'zero-width space in click_id', query: q({ click_id: enc('Ab3dEf9h\u200bIj2LmN0pQr5tUv') }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'zero-width joiner in click_id', query: q({ click_id: enc('Ab3dEf9h\u200dIj2LmN0pQr5tUv') }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'zero-width non-joiner in conversion_id', query: q({ conversion_id: enc('ord\u200c1') }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'byte-order mark before click_id', query: q({ click_id: enc(`\ufeff${CLICK}`) }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'soft hyphen in click_id', query: q({ click_id: enc('Ab3d\u00adEf') }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'bidi isolate in conversion_id', query: q({ conversion_id: enc('\u2066ord-1\u2069') }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'fullwidth currency', query: q({ currency: enc('ＵＳＤ') }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'currency with a dotless i that upper-cases to IDR', query: q({ currency: enc('ıdr') }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'currency with a long s that upper-cases to USD', query: q({ currency: enc('uſd') }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'currency with a Cyrillic S', query: q({ currency: enc('UЅD') }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'status with a Kelvin sign that lower-cases to chargeback', query: q({ status: enc('chargebac\u212a') }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'status with a zero-width space', query: q({ status: enc('approved\u200b') }), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'payout with a zero-width space', query: q({ payout: enc('1\u200b.00') }), status: 400, reason: 'INVALID_FIELDS' },
  ],
  'wrong methods': [
    ...['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'PROPFIND'].map((method): Row => ({ name: `${method} /postbacks/{partner}`, method, status: 405 })),
    { name: 'HEAD /postbacks/{partner}', method: 'HEAD', status: 405 },
    { name: 'GET /postbacks/{partner}/reversal', method: 'GET', path: '/postbacks/gen/reversal', query: 'conversion_id=x', status: 405 },
    { name: 'PUT /postbacks/{partner}/reversal', method: 'PUT', path: '/postbacks/gen/reversal', query: 'conversion_id=x', status: 405 },
    { name: 'DELETE /postbacks/{partner}/reversal', method: 'DELETE', path: '/postbacks/gen/reversal', query: 'conversion_id=x', status: 405 },
    { name: 'raw TRACE', raw: (t) => `TRACE /postbacks/gen?${q({}).replace('$ID', 'trace')}&token=${t} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, status: 405 },
    { name: 'raw made-up method', raw: (t) => `FOO /postbacks/gen?${q({}).replace('$ID', 'foo')}&token=${t} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, status: 400 },
    { name: 'raw lower-case get', raw: (t) => `get /postbacks/gen?${q({}).replace('$ID', 'lower')}&token=${t} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, status: 400 },
  ],
  'wrong content types': [
    { name: 'text/plain', ...form('conversion_id=$ID&payout=1', 'text/plain'), status: 415, reason: 'UNSUPPORTED_MEDIA_TYPE' },
    { name: 'application/xml', ...form('<postback><conversion_id>x</conversion_id></postback>', 'application/xml'), status: 415, reason: 'UNSUPPORTED_MEDIA_TYPE' },
    { name: 'multipart/form-data', ...form('--b\r\nContent-Disposition: form-data; name="payout"\r\n\r\n1\r\n--b--\r\n', 'multipart/form-data; boundary=b'), status: 415, reason: 'UNSUPPORTED_MEDIA_TYPE' },
    { name: 'no Content-Type at all', method: 'POST', query: '', body: Buffer.from('conversion_id=$ID&payout=1'), status: 415, reason: 'UNSUPPORTED_MEDIA_TYPE' },
    { name: 'JSON in latin1', ...json('{"conversion_id":"$ID","payout":"1"}', 'application/json; charset=latin1'), status: 415, reason: 'UNSUPPORTED_MEDIA_TYPE' },
    { name: 'form in ISO-8859-1', ...form('conversion_id=$ID&payout=1', 'application/x-www-form-urlencoded; charset=iso-8859-1'), status: 415, reason: 'UNSUPPORTED_MEDIA_TYPE' },
    { name: 'application/jsonp', ...json('{"conversion_id":"$ID","payout":"1"}', 'application/jsonp'), status: 415, reason: 'UNSUPPORTED_MEDIA_TYPE' },
    { name: 'text/json', ...json('{"conversion_id":"$ID","payout":"1"}', 'text/json'), status: 415, reason: 'UNSUPPORTED_MEDIA_TYPE' },
    { name: 'two media types in one header', ...json('{"conversion_id":"$ID","payout":"1"}', 'application/json, text/html'), status: 415, reason: 'UNSUPPORTED_MEDIA_TYPE' },
    { name: 'image/png', ...form(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), 'image/png'), status: 415, reason: 'UNSUPPORTED_MEDIA_TYPE' },
    { name: 'JSON type, form body', ...json('conversion_id=$ID&payout=1'), status: 400, reason: 'UNREADABLE_BODY' },
    { name: 'form type, JSON body', ...form('{"conversion_id":"$ID","payout":"1"}'), status: 400, reason: 'INVALID_FIELDS' },
  ],
  'JSON bombs and shapes': [
    { name: '5000 nested arrays', ...json(nested(5000, '[', ']')), status: 400, reason: 'UNREADABLE_BODY' },
    { name: '2000 nested objects', ...json(nested(2000, '{"a":', '}')), status: 400, reason: 'UNREADABLE_BODY' },
    { name: 'top-level string', ...json('"conversion_id=x&payout=1"'), status: 400, reason: 'UNREADABLE_BODY' },
    { name: 'top-level number', ...json('1'), status: 400, reason: 'UNREADABLE_BODY' },
    { name: 'top-level null', ...json('null'), status: 400, reason: 'UNREADABLE_BODY' },
    { name: 'top-level array of postbacks', ...json('[{"conversion_id":"$ID","payout":"1"}]'), status: 400, reason: 'UNREADABLE_BODY' },
    { name: 'array as a value', ...json('{"conversion_id":"$ID","payout":["1","2"]}'), status: 400, reason: 'UNREADABLE_BODY' },
    { name: 'boolean payout', ...json('{"conversion_id":"$ID","payout":true}'), status: 400, reason: 'UNREADABLE_BODY' },
    { name: 'null payout', ...json('{"conversion_id":"$ID","payout":null}'), status: 400, reason: 'UNREADABLE_BODY' },
    { name: '__proto__ object', ...json('{"conversion_id":"$ID","__proto__":{"payout":"1"}}'), status: 400, reason: 'UNREADABLE_BODY' },
    { name: 'constructor.prototype object', ...json('{"conversion_id":"$ID","payout":"1","constructor":{"prototype":{"status":"reversed"}}}'), status: 400, reason: 'UNREADABLE_BODY' },
    { name: 'trailing garbage', ...json('{"conversion_id":"$ID","payout":"1"}xyz'), status: 400, reason: 'UNREADABLE_BODY' },
    { name: 'comments', ...json('{"conversion_id":"$ID", /* hi */ "payout":"1"}'), status: 400, reason: 'UNREADABLE_BODY' },
    { name: 'single quotes', ...json("{'conversion_id':'$ID','payout':'1'}"), status: 400, reason: 'UNREADABLE_BODY' },
    { name: 'a body of 1500 keys and no conversion id', ...json(`{${Array.from({ length: 1500 }, (_, i) => `"k${i}":1`).join(',')}}`), status: 400, reason: 'INVALID_FIELDS' },
  ],
  'duplicate parameters': [
    { name: 'payout twice, different values', query: `${q({})}&payout=1000`, status: 400, reason: 'INVALID_FIELDS' },
    { name: 'conversion_id twice', query: `${q({})}&conversion_id=other`, status: 400, reason: 'INVALID_FIELDS' },
    { name: 'click_id twice', query: `${q({})}&click_id=other`, status: 400, reason: 'INVALID_FIELDS' },
    { name: 'currency twice', query: `${q({})}&currency=EUR`, status: 400, reason: 'INVALID_FIELDS' },
    { name: 'status twice', query: `${q({ status: 'approved' })}&status=reversed`, status: 400, reason: 'INVALID_FIELDS' },
    { name: 'occurred_at twice', query: `${q({ occurred_at: '2026-11-02T09:00:00Z' })}&occurred_at=2026-11-01T09:00:00Z`, status: 400, reason: 'INVALID_FIELDS' },
    { name: 'TUNE goal_id twice', partner: 'tune', query: `${q({}, 'tune')}&goal_id=7`, status: 400, reason: 'INVALID_FIELDS' },
    { name: 'Everflow event_id twice', partner: 'ef', query: `${q({}, 'ef')}&event_id=3`, status: 400, reason: 'INVALID_FIELDS' },
    { name: 'sale_amount twice', query: `${q({ sale_amount: '10' })}&sale_amount=99`, status: 400, reason: 'INVALID_FIELDS' },
    { name: 'JSON with conversion_id twice', ...json('{"conversion_id":"$ID","payout":"1","conversion_id":"other"}'), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'form body with payout twice', ...form('conversion_id=$ID&payout=1&payout=2'), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'reversal with conversion_id twice', method: 'POST', path: '/postbacks/gen/reversal', query: 'conversion_id=a&conversion_id=b', status: 400, reason: 'INVALID_FIELDS' },
  ],
  tokens: tokenRows,
  'allow-list': [
    ...['198.51.100.1', '192.0.3.1', '192.0.1.255', '2001:db8::1', '::ffff:198.51.100.1', 'not-an-ip', '192.0.2.256', '0192.0.2.1', '[::1]:443', '192.0.2.5:8080, 198.51.100.2', '192.0.2.5, 203.0.113.9'].map(
      (from): Row => ({ name: `from ${from}`, partner: 'walled', from, status: 403, reason: 'SOURCE_NOT_ALLOWED' }),
    ),
    { name: 'no proxy header (the socket peer, 127.0.0.1)', partner: 'walled', status: 403, reason: 'SOURCE_NOT_ALLOWED' },
    { name: 'a reversal from outside', partner: 'walled', method: 'POST', path: '/postbacks/walled/reversal', query: 'conversion_id=x', from: '198.51.100.1', status: 403, reason: 'SOURCE_NOT_ALLOWED' },
  ],
  'unknown partners and paths': [
    { name: 'unknown partner', path: '/postbacks/nobody', status: 404, reason: 'UNKNOWN_PARTNER' },
    { name: 'encoded path traversal', path: '/postbacks/..%2F..%2Fetc%2Fpasswd', status: 400, reason: 'INVALID_PARTNER_ID' },
    // fetch would resolve %2e%2e as ".." before sending; a client that does not gets the partner id "..".
    { name: 'encoded dot-dot', raw: (t) => `GET /postbacks/%2e%2e?conversion_id=dots&payout=1&token=${t} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, status: 400 },
    { name: 'encoded dot-dot into another partner', raw: (t) => `GET /postbacks/%2e%2e%2fgen?conversion_id=dots2&payout=1&token=${t} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, status: 400 },
    { name: 'encoded slash into the reversal route', path: '/postbacks/gen%2Freversal', status: 400, reason: 'INVALID_PARTNER_ID' },
    { name: 'leading dash', path: '/postbacks/-gen', status: 400, reason: 'INVALID_PARTNER_ID' },
    { name: 'trailing dot', path: '/postbacks/gen.', status: 400, reason: 'INVALID_PARTNER_ID' },
    { name: 'NUL in the partner id', path: '/postbacks/gen%00', status: 400, reason: 'INVALID_PARTNER_ID' },
    { name: 'invalid escape in the partner id', path: '/postbacks/gen%ZZ', status: 400 },
    { name: 'empty partner id', path: '/postbacks/', status: 404 },
    { name: 'extra path segments', path: '/postbacks/gen/extra/segments', status: 404 },
  ],
  currencies: [
    ...['usd1', 'US', 'U', 'XXX', 'XTS', 'XAU', 'ABC', 'US%20D', '123', '%24', enc('€'), 'U%24D'].map((c): Row => ({
      name: `currency ${decodeURIComponent(c.replace(/%(?![0-9A-F]{2})/g, '%25'))}`,
      query: q({ currency: c }),
      status: 400,
      reason: 'INVALID_FIELDS',
    })),
    { name: 'Everflow offer_currency XXX', partner: 'ef', query: q({ currency: null, offer_currency: 'XXX' }, 'ef'), status: 400, reason: 'INVALID_FIELDS' },
  ],
  timestamps: [
    ...[
      ['far future', '2099-01-01T00:00:00Z'],
      ['just over a day ahead', '2026-11-03T10:00:01Z'],
      ['unix epoch', '1970-01-01T00:00:00Z'],
      ['year 1', '0001-01-01T00:00:00Z'],
      ['unix 0', '0'],
      ['three years ago', '2023-11-01T00:00:00Z'],
      ['negative unix', '-1'],
      ['unix in the year 5138', '99999999999'],
      ['unix milliseconds', '1793520000000'],
      ['February 30', '2026-02-30T00:00:00Z'],
      ['hour 25', '2026-11-02T25:00:00Z'],
      ['no UTC offset', '2026-11-02T10:00:00'],
      ['offset +24:00', '2026-11-02T10:00:00%2B24:00'],
      ['extended year', '%2B275760-09-13T00:00:00Z'],
      ['a word', 'yesterday'],
      ['NaN', 'NaN'],
      ['exponent', '1e9'],
    ].map(([name, v]): Row => ({ name: `occurred_at ${name}`, query: q({ occurred_at: v }), status: 400, reason: 'INVALID_FIELDS' })),
    { name: 'TUNE datetime without seconds', partner: 'tune', query: q({ datetime: '2026-11-02%2010:00' }, 'tune'), status: 400, reason: 'INVALID_FIELDS' },
    { name: 'TUNE datetime in 2099', partner: 'tune', query: q({ datetime: '2099-11-02%2010:00:00' }, 'tune'), status: 400, reason: 'INVALID_FIELDS' },
  ],
  statuses: [
    ...['maybe', 'constructor', '__proto__', 'toString', '1.0', '-1', 'approved,rejected', 'approved%20rejected'].map((s): Row => ({
      name: `status ${s}`,
      query: q({ status: s }),
      status: 400,
      reason: 'INVALID_FIELDS',
    })),
  ],
};

const allRows: [string, Row][] = Object.entries(rows).flatMap(([category, list]) => list.map((r): [string, Row] => [`${category}: ${r.name} -> ${r.status}`, r]));
const tokens: Record<string, string> = {};

describe('postback edge: hostile input (real Postgres, NATS, HTTP)', () => {
  let t: IngestTestApp;
  let client: IngestTestApp['client'];
  let pg: IngestTestApp['pg'];
  let httpPort: number;
  const clock = new ManualClock(new Date('2026-11-02T10:00:00Z'));

  beforeAll(async () => {
    t = await startIngestForTest(
      {
        INGEST_MAX_QUERY_BYTES: String(MAX_QUERY),
        INGEST_MAX_BODY_BYTES: String(MAX_BODY),
        INGEST_MAX_HEADER_BYTES: String(MAX_HEADER),
        INGEST_TRUSTED_PROXY_HEADER: 'x-forwarded-for',
        // Every row comes from 127.0.0.1: the noise limiter has its own spec.
        INGEST_NOISE_RATE_PER_S: '0',
      },
      clock,
    );
    ({ client, pg, httpPort } = t);
    for (const p of [
      partnerRequest('gen'),
      partnerRequest('walled', { allowedSources: ['192.0.2.0/24'] }),
      partnerRequest('tune', { kind: PartnerKind.PARTNER_KIND_TUNE }),
      partnerRequest('ef', { kind: PartnerKind.PARTNER_KIND_EVERFLOW }),
    ]) {
      tokens[p.partnerId] = (await client.upsertPartner(p)).token;
    }
  });

  afterAll(async () => {
    await t?.close();
  });

  /**
   * events: the conversion events to attribution (a conversion row is the source of its ConversionReceived; an
   * adjustment is an outbox row); refused: the PostbackRefused events.
   */
  async function counts(): Promise<{ conversions: number; events: number; archive: number; refused: number }> {
    const { rows: [r] } = await pg.query(
      `SELECT (SELECT count(*)::int FROM "ingest".conversions) AS conversions,
              (SELECT count(*)::int FROM "ingest".outbox WHERE subject IN ($2, $3))
                + (SELECT count(*)::int FROM "ingest".conversions WHERE xid IS NOT NULL AND received_event IS NOT NULL) AS events,
              (SELECT count(*)::int FROM "ingest".outbox WHERE subject = $1) AS refused,
              (SELECT count(*)::int FROM "ingest".postback_requests) AS archive`,
      [Events.PostbackRefused.subject, Events.ConversionReceived.subject, Events.ConversionAdjusted.subject],
    );
    return r;
  }

  /** What the edge answered one row: status, headers, body text. */
  async function send(row: Row, id: string): Promise<{ status: number; allow: string | null; body: string }> {
    const partner = row.partner ?? 'gen';
    const token = tokens[partner];
    const fill = (s: string) => s.replace(/\$ID/g, id).replace(/\$TOKEN/g, token);
    if (row.raw) return { status: (await rawHttp(httpPort, row.raw(token))).status, allow: null, body: '' };
    const path = fill(row.path ?? `/postbacks/${partner}`);
    const tokenParam = row.token === null ? '' : `token=${(row.token ?? ((t: string) => t))(token)}`;
    const query = [fill(row.query ?? q({}, partner)), tokenParam].filter(Boolean).join('&');
    const headers: Record<string, string> = Object.fromEntries(Object.entries(row.headers ?? {}).map(([k, v]) => [k, fill(v)]));
    if (row.from !== undefined) headers['x-forwarded-for'] = row.from;
    const body = typeof row.body === 'string' ? fill(row.body) : row.body;
    const res = await fetch(`http://127.0.0.1:${httpPort}${path}${query ? `?${query}` : ''}`, { method: row.method ?? 'GET', headers, body });
    return { status: res.status, allow: res.headers.get('allow'), body: await res.text() };
  }

  it('controls: the same scaffolding with nothing hostile stores a conversion for every partner kind', async () => {
    for (const partner of ['gen', 'tune', 'ef']) {
      const res = await send({ name: 'control', partner, status: 200 }, `control-${partner}`);
      expect({ partner, status: res.status }).toEqual({ partner, status: 200 });
      expect(JSON.parse(res.body)).toMatchObject({ status: 'stored' });
    }
    const walled = await send({ name: 'control', partner: 'walled', from: '192.0.2.9', status: 200 }, 'control-walled');
    expect(walled.status).toBe(200);
    expect(await counts()).toMatchObject({ conversions: 4, events: 4 });
  });

  it(`has at least 150 rows (${allRows.length})`, () => {
    expect(allRows.length).toBeGreaterThanOrEqual(150);
  });

  it.each(allRows)('%s', async (_name, row) => {
    const before = await counts();
    const id = `h-${allRows.findIndex(([, r]) => r === row)}`;
    const res = await send(row, id);
    expect({ status: res.status, body: res.body.slice(0, 300) }).toEqual({ status: row.status, body: expect.any(String) });
    const after = await counts();
    // Nothing stored as valid, no event to attribution.
    expect({ conversions: after.conversions, events: after.events }).toEqual({ conversions: before.conversions, events: before.events });
    // No stack trace, file path or framework error page in any answer.
    expect(res.body).not.toMatch(/\bat \S+ \(|node_modules|\/work\/|<html|URIError/i);
    if (row.status === 405) {
      if (!row.raw) expect(res.allow).toEqual(row.path?.endsWith('/reversal') ? 'POST' : 'GET, POST');
      expect(after.archive).toBe(before.archive);
    }
    if (row.reason) {
      // The app answered: the archive holds the request as refused, with its reason.
      expect(after.archive).toBe(before.archive + 1);
      const { rows: [last] } = await pg.query(`SELECT outcome, reason_code, conversion_ref FROM "ingest".postback_requests ORDER BY id DESC LIMIT 1`);
      expect(last).toMatchObject({ reason_code: row.reason, conversion_ref: null });
      expect(['invalid', 'unauthorized', 'forbidden', 'not_found']).toContain(last.outcome);
      // Every refusal is accounted for by exactly one PostbackRefused, and it carries no token.
      expect(after.refused).toBe(before.refused + 1);
      const { rows: [evt] } = await pg.query(`SELECT payload FROM "ingest".outbox WHERE subject = $1 ORDER BY seq DESC LIMIT 1`, [Events.PostbackRefused.subject]);
      const refused = PostbackRefused.decode(evt.payload);
      expect(refused).toMatchObject({ outcome: last.outcome, reasonCode: row.reason });
      for (const token of Object.values(tokens)) expect(JSON.stringify(refused)).not.toContain(token);
      if (!res.body.startsWith('{')) throw new Error(`expected a JSON error body, got ${res.body.slice(0, 100)}`);
      expect(JSON.parse(res.body)).toMatchObject({ error: expect.any(String), message: expect.any(String) });
    }
  });

  it('stored nothing but the controls, archived no token, and every table is still there', async () => {
    expect(await counts()).toMatchObject({ conversions: 4, events: 4 });
    for (const token of Object.values(tokens)) {
      const { rows: [r] } = await pg.query(
        `SELECT count(*)::int AS n FROM "ingest".postback_requests WHERE strpos(query, $1) > 0 OR strpos(coalesce(body, ''), $1) > 0`,
        [token],
      );
      expect(r.n).toBe(0);
    }
    const { rows: tables } = await pg.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'ingest' ORDER BY 1`);
    expect(tables.map((t) => t.table_name)).toEqual(expect.arrayContaining(['conversions', 'outbox', 'partners', 'postback_requests']));
  });

  it('stores SQL in a conversion id as text (parameters, never SQL): the key round-trips byte for byte', async () => {
    const key = `x'); DROP TABLE "ingest".conversions; --`;
    const res = await send({ name: 'sql literal', query: q({ conversion_id: enc(key) }), status: 200 }, 'unused');
    expect(res.status).toBe(200);
    const { conversion } = await client.getConversion({ partnerId: 'gen', conversionId: key });
    expect(conversion?.conversionId).toBe(key);
  });
});
