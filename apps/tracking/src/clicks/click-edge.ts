import type { IncomingMessage, OutgoingHttpHeaders, Server, ServerResponse } from 'node:http';
import { DomainError } from '@trackly/kernel';
import { NoiseLimiter } from '@trackly/platform';
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from '@trackly/database';
import type { Logger } from '@trackly/logging';
import { acceptRequestId, countClick, countNoiseRejected, httpRequestDuration, httpRequests, REQUEST_ID_HEADER } from '@trackly/observability';
import { clientAddress, trustedProxies } from '../domain/client-address';
import { SHORT_CODE_PATTERN } from '../domain/short-codes';
import type { TrackingConfig } from '../tracking.config';
import { ClicksService } from './clicks.service';
import { LinkCache } from './link-cache';

/**
 * On every answer of the edge: never cached (each hit must reach us and get its own click id), no Referer to the
 * advertiser (the tracked URL names our short code), and never indexed by search engines.
 */
export const EDGE_HEADERS = {
  'Cache-Control': 'no-store',
  'Referrer-Policy': 'no-referrer',
  'X-Robots-Tag': 'noindex, nofollow',
} as const;

const TEXT = { ...EDGE_HEADERS, 'Content-Type': 'text/plain; charset=utf-8' } as const;
const REDIRECT_HEADERS: readonly string[] = Object.entries(EDGE_HEADERS).flat();
const ROUTE = '/c/:code';

/** The edge's limits, its noise limiter's settings and the trusted proxies (from TrackingConfig). */
export type ClickEdgeConfig = Pick<
  TrackingConfig,
  'TRACKING_MAX_URL_BYTES' | 'TRACKING_NOISE_RATE_PER_S' | 'TRACKING_NOISE_BURST' | 'TRACKING_TRUSTED_PROXIES'
>;

export interface ClickEdgeDeps {
  clicks: ClicksService;
  links: LinkCache;
  now: () => number;
  logger: Logger;
  config: ClickEdgeConfig;
  service: string;
}

/**
 * The click edge: GET and HEAD /c/{code} record the hit, classified, then 302 to the offer's own URL. Other methods
 * get 405 (Allow: GET, HEAD), URLs over TRACKING_MAX_URL_BYTES 414, an undecodable code 400, and a client that keeps
 * asking for unknown codes 429 (its known codes still work). Previews and bots are redirected as well, so a preview
 * card still renders; they are recorded but never counted. Nothing from the request but the code is used to build
 * the destination.
 *
 * A plain node:http handler in front of the app's Express instance, on the same server: the click is the one hot
 * path of the service, and Express's router and middleware, Nest's pipeline, AsyncLocalStorage contexts and
 * per-request `finish` listeners showed in `npm run bench:click -- --cpu-prof`. What the platform middleware does for
 * other routes is done here, cheaply: the request id (accepted or minted, echoed in X-Request-Id, stored with the
 * click so its event carries it) and the per-route request metrics (label children cached).
 */
export class ClickEdge {
  private readonly noise: NoiseLimiter;
  private readonly trusted;
  private readonly counters = new Map<string, { inc(): void; observe(seconds: number): void }>();
  /** The metrics of `GET 302`, nearly every answer: found without building a key. */
  private redirected?: { inc(): void; observe(seconds: number): void };

  constructor(private readonly deps: ClickEdgeDeps) {
    this.noise = new NoiseLimiter({ ratePerSecond: deps.config.TRACKING_NOISE_RATE_PER_S, burst: deps.config.TRACKING_NOISE_BURST, now: deps.now });
    this.trusted = trustedProxies(deps.config.TRACKING_TRUSTED_PROXIES);
  }

  /** Takes the edge's requests (`/c` and `/c/...`) off the server before Express sees them; the rest goes on. */
  mount(server: Server): void {
    const others = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
    server.removeAllListeners('request');
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const path = pathOf(req.url ?? '/');
      if (path !== undefined) this.handle(req, res, path);
      else for (const listener of others) listener.call(server, req, res);
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse, path: string): void {
    const started = performance.now();
    const requestId = acceptRequestId(req.headers[REQUEST_ID_HEADER]);
    const method = req.method ?? 'GET';
    const send = (status: number, headers: OutgoingHttpHeaders | string[], body?: string) => {
      if (Array.isArray(headers)) headers.push(REQUEST_ID_HEADER, requestId);
      else headers[REQUEST_ID_HEADER] = requestId;
      res.writeHead(status, headers).end(body);
      this.observe(method, status, started);
    };
    // Express's `/c/:code` (non-strict): one path segment, one trailing slash allowed; anything else is no route.
    let raw = path.length > 3 ? path.slice(3) : '';
    if (raw.endsWith('/')) raw = raw.slice(0, -1);
    if (!raw || raw.includes('/')) return send(404, { ...TEXT }, 'This link does not exist or has expired.\n');
    if (method !== 'GET' && method !== 'HEAD') {
      // Whatever else is sent to a link: nothing is recorded, nothing redirects, and the body is never read.
      return send(405, { ...TEXT, Allow: 'GET, HEAD' }, 'Method not allowed.\n');
    }
    if (Buffer.byteLength(req.url ?? '', 'utf8') > this.deps.config.TRACKING_MAX_URL_BYTES) return send(414, { ...TEXT }, 'Link too long.\n');
    let code = raw;
    if (raw.includes('%')) {
      try {
        code = decodeURIComponent(raw);
      } catch {
        return send(400, { ...TEXT }, 'Bad link.\n');
      }
    }
    const ip = clientAddress(req.socket.remoteAddress ?? '', header(req.headers['x-forwarded-for']), this.trusted);
    const noise = this.noise;
    // Each hit takes a token up front (a concurrent burst of junk cannot slip through on one) and a hit on a real
    // link gives it back, so only unknown codes spend the allowance.
    if (noise.take(ip)) return this.record(req, code, ip, requestId, true, send);
    // A limited client (or a carrier NAT it shares) still gets its real links; only its junk is refused, before
    // anything is written. The lookup is the link cache's.
    const known = SHORT_CODE_PATTERN.test(code) ? this.deps.links.resolve(code).then((link) => link !== undefined) : Promise.resolve(false);
    known.then(
      (ok) => {
        if (ok) return this.record(req, code, ip, requestId, false, send);
        countNoiseRejected('tracking');
        send(429, { ...TEXT, 'Retry-After': String(noise.retryAfterSeconds(ip)) }, 'Too many requests.\n');
      },
      // The lookup failed (database down): the ordinary path maps that to its retryable answer.
      () => this.record(req, code, ip, requestId, false, send),
    );
  }

  /** `took`: this hit holds a noise token, returned unless the code turns out unknown or malformed. */
  private record(
    req: IncomingMessage,
    code: string,
    ip: string,
    requestId: string,
    took: boolean,
    send: (status: number, headers: OutgoingHttpHeaders | string[], body?: string) => void,
  ): void {
    const h = req.headers;
    this.deps.clicks
      .recordClick(code, {
        method: req.method ?? 'GET',
        userAgent: header(h['user-agent']) ?? '',
        acceptLanguage: header(h['accept-language']) ?? '',
        purpose: header(h['sec-purpose']) ?? header(h['purpose']) ?? header(h['x-purpose']) ?? header(h['x-moz']) ?? '',
        ip,
        requestId,
      })
      .then(
        (click) => {
          if (took) this.noise.refund(ip);
          countClick(CLASS_LABELS[click.clickClass]);
          // Headers as a flat list: the redirect is every tap's answer, and Node writes a list without walking an object.
          send(302, [...REDIRECT_HEADERS, 'Location', click.destination]);
        },
        (e: unknown) => {
          if (e instanceof DomainError) {
            // Unknown or malformed codes get a plain 404 page, never a redirect; the token taken stays spent.
            const status = e.kind === 'NOT_FOUND' ? 404 : 400;
            return send(status, { ...TEXT }, status === 404 ? 'This link does not exist or has expired.\n' : 'Bad link.\n');
          }
          // Our failure, not the client's noise.
          if (took) this.noise.refund(ip);
          if (isDatabaseUnavailable(e)) {
            // Postgres is down or restarting: a retryable answer, and the pool reconnects without a restart.
            this.deps.logger.warn({ err: (e as Error).message, requestId }, 'click edge: database unavailable');
            return send(503, { ...TEXT, 'Retry-After': String(DATABASE_RETRY_AFTER_SECONDS) }, 'Try again in a moment.\n');
          }
          this.deps.logger.error({ err: e, requestId }, 'click edge: recording a click failed');
          send(500, { ...TEXT }, 'Try again in a moment.\n');
        },
      );
  }

  /** http_server_requests_total and _duration_seconds, as the platform middleware records them for other routes. */
  private observe(method: string, status: number, started: number): void {
    const m = status === 302 && method === 'GET' ? (this.redirected ??= this.metrics(method, status)) : this.metrics(method, status);
    m.inc();
    m.observe((performance.now() - started) / 1e3);
  }

  /** The label children of one method and status, made once. */
  private metrics(method: string, status: number): { inc(): void; observe(seconds: number): void } {
    const key = `${method} ${status}`;
    let m = this.counters.get(key);
    if (!m) {
      const labels = { service: this.deps.service, method, route: ROUTE, status: String(status) };
      const counter = httpRequests.labels(labels);
      const histogram = httpRequestDuration.labels(labels);
      m = { inc: () => counter.inc(), observe: (s) => histogram.observe(s) };
      // Methods are Node's known ones only (it answers 400 to others itself): a small, bounded set of keys.
      this.counters.set(key, m);
    }
    return m;
  }

}

const CLASS_LABELS = { HUMAN: 'human', PREVIEW: 'preview', BOT: 'bot' } as const;

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The path of a request the edge owns (`/c` or `/c/...`, the `c` in either case as Express matches it), without the
 * query; undefined for every other request. Absolute-form targets (`GET http://host/c/x`) are read by their path,
 * as Express reads them.
 */
export function pathOf(url: string): string | undefined {
  let start = 0;
  if (url.charCodeAt(0) !== 47 /* / */) {
    const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/.exec(url);
    if (!scheme) return undefined;
    start = scheme[0].length;
  }
  if (url.charCodeAt(start) !== 47 || (url.charCodeAt(start + 1) | 0x20) !== 99 /* c */) return undefined;
  const next = url.charCodeAt(start + 2);
  if (!Number.isNaN(next) && next !== 47 /* / */ && next !== 63 /* ? */) return undefined;
  const q = url.indexOf('?', start);
  return url.slice(start, q < 0 ? url.length : q);
}
