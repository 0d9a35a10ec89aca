import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import { raw as rawBodyParser } from 'express';
import { httpErrorAnswer } from '@trackly/app-shell';
import { CLOCK, Clock } from '@trackly/kernel';
import type { Logger } from '@trackly/logging';
import { NoiseLimiter } from '@trackly/platform';
import { acceptRequestId, countNoiseRejected, currentRequestId, httpRequestDuration, httpRequests, REQUEST_ID_HEADER, withRequestId } from '@trackly/observability';
import { AddressRange, clientAddress, parseAllowList } from '../domain/source-addresses';
import type { IngestConfig } from '../ingest.config';
import { INGEST_CONFIG, INGEST_LOGGER } from '../ingest.tokens';
import { IncomingPostback, PostbackReply, PostbackRoute, PostbacksService } from './postbacks.service';

/** What a partner reads back: what became of the conversion, and our id for it. */
export interface PostbackAnswer {
  status: 'stored' | 'duplicate' | 'adjusted' | 'reversed';
  id: string;
  conversion_id: string;
}

/** A complete answer of the edge: status, headers (in the order they are written) and the JSON body, if any. */
export interface EdgeAnswer {
  status: number;
  headers: Record<string, string>;
  body?: string;
}

/** The request as the edge reads it, whichever path (the node:http handler or the Nest controller) received it. */
export interface EdgeRequest {
  partnerId: string;
  route: PostbackRoute;
  method: string;
  /** Path without the query, as sent (not decoded). */
  path: string;
  /** Raw query string without "?". */
  query: string;
  socketAddress: string;
  header(name: string): string | undefined;
  body: Buffer | null;
  bodyError: { status: number; message: string } | null;
  /** The request id, when the caller passes it explicitly (the mounted path); else the current context's. */
  requestId?: string;
}

const NO_STORE = { 'Cache-Control': 'no-store' } as const;
const METHOD_NOT_ALLOWED: Record<PostbackRoute, { allow: string; message: string }> = {
  postback: { allow: 'GET, POST', message: 'postbacks are GET or POST' },
  reversal: { allow: 'POST', message: 'a reversal is a POST' },
};
const ROUTE_LABEL: Record<PostbackRoute, string> = { postback: '/postbacks/:partnerId', reversal: '/postbacks/:partnerId/reversal' };

/**
 * The partner postback edge: GET or POST /postbacks/{partner}, POST /postbacks/{partner}/reversal. 200 for stored,
 * duplicate, adjusted and reversed conversions (partners must not retry those), 400 with a problem per parameter for
 * malformed input, 401 for a missing or wrong token, 403 for a source outside the allow-list, 404 for an unknown
 * partner (or, on reversal, conversion), 405 for other methods, 413/414/415 for bodies and queries we do not read,
 * 429 for a source address that sent too many refused requests (unless this one carries a valid token), 503 with
 * Retry-After while the database is unreachable, 5xx only when the conversion could not be stored.
 *
 * `answer()` is the one implementation; `mount()` installs it as a plain node:http handler in front of Express on the
 * same server (the lean path: Express's router and middleware and Nest's pipeline showed in the ingest benchmark's
 * profile), and the Nest controller delegates to it for a server where it is not mounted. What the platform
 * middleware does for other routes is done here cheaply: the request id (accepted or minted, echoed, and passed on
 * so that event headers and log lines carry it) and the per-route request metrics. The request id is passed
 * explicitly rather than as an async context: a context per postback kept Node's per-promise hook on for every
 * promise of the process (about 9% of the edge's throughput); one is entered only where an error is logged.
 */
@Injectable()
export class PostbackEdge {
  private readonly trustedProxies: AddressRange[];
  private readonly noise: NoiseLimiter;
  private readonly readBody: (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;
  private readonly metrics = new Map<string, { inc(): void; observe(seconds: number): void }>();
  private readonly socketSources = new Map<string, string>();

  constructor(
    private readonly postbacks: PostbacksService,
    @Inject(INGEST_CONFIG) private readonly config: IngestConfig,
    @Inject(CLOCK) clock: Clock,
    @Inject(INGEST_LOGGER) private readonly logger: Logger,
  ) {
    const parsed = parseAllowList(config.INGEST_TRUSTED_PROXIES);
    // Checked when the configuration was loaded.
    this.trustedProxies = parsed.ok ? parsed.value : [];
    this.noise = new NoiseLimiter({
      ratePerSecond: config.INGEST_NOISE_RATE_PER_S,
      burst: config.INGEST_NOISE_BURST,
      now: () => clock.now().getTime(),
    });
    // The reader configurePostbackBodies gives Express (Nest's useBodyParser('raw') is express.raw): the same limits,
    // inflation and error messages.
    this.readBody = rawBodyParser({ type: () => true, limit: config.INGEST_MAX_BODY_BYTES });
  }

  /** Takes the postback routes off the server before Express sees them; every other request goes on to it. */
  mount(server: Server, service: string): void {
    const others = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
    server.removeAllListeners('request');
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const m = matchRoute(req.url ?? '/');
      if (m) this.handle(req, res, m, service);
      else for (const listener of others) listener.call(server, req, res);
    });
  }

  /** The whole answer to one postback request (405 for methods the route does not take). */
  answer(req: EdgeRequest): Promise<EdgeAnswer> {
    const allowed = req.route === 'reversal' ? req.method === 'POST' : req.method === 'GET' || req.method === 'POST';
    if (!allowed) return Promise.resolve(methodNotAllowed(req.route, req.method));
    return this.respond(req);
  }

  /**
   * answer() for an allowed method. Written with callbacks rather than awaits: each async layer made promises per
   * postback (about eighteen before the batch's own, each through the process's async hooks); this makes one.
   */
  private respond(req: EdgeRequest): Promise<EdgeAnswer> {
    let incoming: IncomingPostback;
    let took: boolean;
    const requestId = req.requestId ?? currentRequestId();
    try {
      const header = this.config.INGEST_TRUSTED_PROXY_HEADER;
      incoming = {
        partnerId: req.partnerId,
        sourceIp: header ? clientAddress(req.socketAddress, req.header(header) ?? '', this.trustedProxies) : this.socketSource(req.socketAddress),
        method: req.method,
        path: req.path,
        query: req.query,
        contentType: req.header('content-type') ?? null,
        body: req.body,
        bodyError: req.bodyError,
        requestId,
      };
      // Every request takes a token before it is handled (so a concurrent storm cannot slip through on one), and gets
      // it back once it authenticated: only refused requests spend the allowance. A source that spent it is answered
      // here, before anything is archived or parsed, unless this request carries a valid token: a partner sharing an
      // address (a NAT, its own cloud) with a noisy client is never slowed by it.
      took = this.noise.take(incoming.sourceIp);
    } catch (e) {
      return Promise.resolve(this.errorAnswer(e, requestId));
    }
    if (took) return this.receive(incoming, req.route, true);
    const source = incoming.sourceIp;
    return this.postbacks.carriesValidToken(incoming).then(
      (valid) => {
        if (valid) return this.receive(incoming, req.route, false);
        countNoiseRejected('ingest');
        return refusalAnswer(429, 'TOO_MANY_REQUESTS', 'too many refused requests from this address; retry later', String(this.noise.retryAfterSeconds(source)));
      },
      (e: unknown) => this.errorAnswer(e, requestId),
    );
  }

  private receive(incoming: IncomingPostback, route: PostbackRoute, took: boolean): Promise<EdgeAnswer> {
    let authenticated = false;
    return this.postbacks.receive(incoming, route, () => (authenticated = true)).then(
      (reply) => {
        if (took && authenticated) this.noise.refund(incoming.sourceIp);
        return replyAnswer(reply);
      },
      (e: unknown) => {
        if (took && authenticated) this.noise.refund(incoming.sourceIp);
        return this.errorAnswer(e, incoming.requestId);
      },
    );
  }

  /**
   * clientAddress of a peer without a proxy header, remembered: keep-alive connections from a few addresses send
   * every postback, and parsing and formatting the same address each time showed in the edge's profile.
   */
  private socketSource(socketAddress: string): string {
    let source = this.socketSources.get(socketAddress);
    if (source === undefined) {
      // Bounded: a scan of many addresses starts the memo over instead of growing it.
      if (this.socketSources.size >= 4096) this.socketSources.clear();
      source = clientAddress(socketAddress, undefined, this.trustedProxies);
      this.socketSources.set(socketAddress, source);
    }
    return source;
  }

  /**
   * An error of ours or the database's (503 with Retry-After while it is unreachable), as the exception filter maps
   * it; logged in the request's context, so the line carries its id.
   */
  private errorAnswer(e: unknown, requestId: string | undefined): EdgeAnswer {
    const { status, body, retryAfter } = withRequestId(requestId, () => httpErrorAnswer(e, this.logger));
    return json(status, retryAfter === undefined ? NO_STORE : { ...NO_STORE, 'Retry-After': retryAfter }, body);
  }

  private handle(req: IncomingMessage, res: ServerResponse, m: RouteMatch, service: string): void {
    const started = process.hrtime.bigint();
    const requestId = acceptRequestId(req.headers[REQUEST_ID_HEADER]);
    const method = req.method ?? 'GET';
    const send = (a: EdgeAnswer) => {
      writeAnswer(res, requestId, a);
      this.observe(service, method, m.route, a.status, started);
    };
    const fail = (e: unknown) => send(this.errorAnswer(e, requestId));
    // A wrong method is answered without reading the body, as the Nest routes did.
    const allowed = m.route === 'reversal' ? method === 'POST' : method === 'GET' || method === 'POST';
    if (!allowed) return send(methodNotAllowed(m.route, method));
    const readAndAnswer = (err?: unknown): void => {
      const status = (err as { status?: unknown } | undefined)?.status;
      // Unreadable bodies (too large, bad encoding) are the postback's to archive and answer; anything else is ours.
      if (err && (typeof status !== 'number' || status < 400 || status > 499)) return fail(err);
      const body = (req as IncomingMessage & { body?: unknown }).body;
      this.respond({
        partnerId: m.partnerId,
        route: m.route,
        method,
        path: m.path,
        query: m.query,
        socketAddress: req.socket.remoteAddress ?? '',
        header: (name) => headerValue(req.headers[name.toLowerCase()]),
        body: Buffer.isBuffer(body) ? body : null,
        bodyError: err ? { status: status as number, message: (err as Error).message } : null,
        requestId,
      }).then(send, fail);
    };
    // No body (no Content-Length, no Transfer-Encoding: a partner's GET): what the reader would conclude, without it.
    const h = req.headers;
    if (h['transfer-encoding'] === undefined && (h['content-length'] === undefined || isNaN(Number(h['content-length'])))) {
      (req as IncomingMessage & { body?: unknown }).body = undefined;
      return readAndAnswer();
    }
    this.readBody(req, res, readAndAnswer);
  }

  /** http_server_requests_total and _duration_seconds, labelled as the platform middleware labels routed requests. */
  private observe(service: string, method: string, route: PostbackRoute, status: number, started: bigint): void {
    const key = `${method} ${route} ${status}`;
    let m = this.metrics.get(key);
    if (!m) {
      const labels = { service, method, route: ROUTE_LABEL[route], status: String(status) };
      const counter = httpRequests.labels(labels);
      const histogram = httpRequestDuration.labels(labels);
      m = { inc: () => counter.inc(), observe: (s) => histogram.observe(s) };
      // Node answers unknown methods itself: a small, bounded set of keys.
      this.metrics.set(key, m);
    }
    m.inc();
    m.observe(Number(process.hrtime.bigint() - started) / 1e9);
  }
}

const OK_HEADERS = { 'Cache-Control': 'no-store', 'Content-Type': 'application/json; charset=utf-8' } as const;

/** The answer to a postback the service handled: 200 with what became of the conversion, or its refusal's status. */
function replyAnswer(reply: PostbackReply): EdgeAnswer {
  switch (reply.kind) {
    case 'stored':
    case 'duplicate':
    case 'adjusted':
    case 'reversed':
      return okAnswer({ status: reply.kind, id: reply.conversion.id, conversion_id: reply.conversion.conversionId });
    case 'too_large':
      return refusalAnswer(413, 'PAYLOAD_TOO_LARGE', reply.message);
    case 'uri_too_long':
      return refusalAnswer(414, 'URI_TOO_LONG', reply.message);
    case 'unsupported_media_type':
      return refusalAnswer(415, 'UNSUPPORTED_MEDIA_TYPE', reply.message);
    case 'unauthorized':
      return refusalAnswer(401, 'UNAUTHENTICATED', reply.message);
    case 'forbidden':
      return refusalAnswer(403, 'PERMISSION_DENIED', reply.message);
    case 'not_found':
      return refusalAnswer(404, 'NOT_FOUND', reply.message);
  }
}

/**
 * The 200 answer, the same bytes JSON.stringify gives the PostbackAnswer (keys in this order), written out: the
 * status is one of four words and the id a UUID, so only the partner's conversion id needs escaping.
 */
function okAnswer(a: PostbackAnswer): EdgeAnswer {
  const body = `{"status":"${a.status}","id":${JSON.stringify(a.id)},"conversion_id":${JSON.stringify(a.conversion_id)}}`;
  return { status: 200, headers: { ...OK_HEADERS, 'Content-Length': String(Buffer.byteLength(body)) }, body };
}

/** A refusal the edge answers itself, mapped like Nest's HttpException was. */
function refusalAnswer(status: number, code: string, message: string, retryAfter?: string): EdgeAnswer {
  return json(status, retryAfter === undefined ? NO_STORE : { ...NO_STORE, 'Retry-After': retryAfter }, { error: code, message });
}

/** Status and headers (the request id first) in one writeHead, then the body: one write for the whole answer. */
function writeAnswer(res: ServerResponse, requestId: string, a: EdgeAnswer): void {
  const raw: string[] = [REQUEST_ID_HEADER, requestId];
  for (const k in a.headers) raw.push(k, a.headers[k]);
  res.writeHead(a.status, raw).end(a.body);
}

function json(status: number, headers: Record<string, string>, body: unknown): EdgeAnswer {
  const text = JSON.stringify(body);
  return {
    status,
    headers: { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)) },
    body: text,
  };
}

function methodNotAllowed(route: PostbackRoute, method: string): EdgeAnswer {
  const { allow, message } = METHOD_NOT_ALLOWED[route];
  // HEAD on the postback route had a route of its own (so a HEAD never stored a conversion): 405, no body.
  if (route === 'postback' && method === 'HEAD') return { status: 405, headers: { Allow: allow } };
  return json(405, { ...NO_STORE, Allow: allow }, { error: 'METHOD_NOT_ALLOWED', message });
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

export interface RouteMatch {
  route: PostbackRoute;
  partnerId: string;
  /** The path as sent, without the query. */
  path: string;
  query: string;
}

// Express's `/postbacks/:partnerId` and `/postbacks/:partnerId/reversal` (case-insensitive, one trailing slash).
const ROUTE_PATTERN = /^\/postbacks\/([^/]+)(\/reversal)?\/?$/i;
const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/;

/**
 * The postback route a request target names, or undefined (then Express answers it, as before: other paths, and a
 * partner id that does not decode, which Express answers 400 itself). Absolute-form targets are read by their path.
 */
export function matchRoute(url: string): RouteMatch | undefined {
  let start = 0;
  if (url.charCodeAt(0) !== 47 /* / */) {
    const scheme = ABSOLUTE_FORM.exec(url);
    if (!scheme) return undefined;
    start = scheme[0].length;
  }
  // Cheap first test: most requests to another route are turned away here.
  if ((url.charCodeAt(start + 1) | 0x20) !== 112 /* p */) return undefined;
  const q = url.indexOf('?', start);
  const path = url.slice(start, q < 0 ? url.length : q);
  const m = ROUTE_PATTERN.exec(path);
  if (!m) return undefined;
  let partnerId = m[1];
  if (partnerId.includes('%')) {
    try {
      partnerId = decodeURIComponent(partnerId);
    } catch {
      return undefined;
    }
  }
  return { route: m[2] ? 'reversal' : 'postback', partnerId, path, query: q < 0 ? '' : url.slice(q + 1) };
}
