import type { INestApplication } from '@nestjs/common';
import type { Express, NextFunction, Request, Response } from 'express';
import { CLOCK, Clock, DomainError, NoiseLimiter } from '@trackly/kernel';
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from '@trackly/grpc';
import type { Logger } from '@trackly/logging';
import { countNoiseRejected } from '@trackly/observability';
import { SHORT_CODE_PATTERN } from '../domain/tokens';
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

/** The edge's limits and its noise limiter's settings (from TrackingConfig). */
export type ClickEdgeConfig = Pick<TrackingConfig, 'TRACKING_MAX_URL_BYTES' | 'TRACKING_NOISE_RATE_PER_S' | 'TRACKING_NOISE_BURST'>;

/**
 * The click edge: GET (and HEAD, which Express routes to GET handlers) /c/{code} records the hit, classified, then
 * 302s to the offer's own URL. Other methods get 405 (Allow: GET, HEAD), URLs over TRACKING_MAX_URL_BYTES 414, and
 * a client that keeps asking for unknown codes 429 (its known codes still work). Previews and bots are redirected as well, so a preview card still renders; they are
 * recorded but never counted. Nothing from the request but the code is used to build the destination.
 *
 * A plain Express route rather than a Nest controller: it is the one hot path of the service, and Nest's per-request
 * pipeline (router context, rxjs interceptors) was a third of its CPU in `npm run bench:click --cpu-prof`. It is
 * mounted on the app's own Express instance after the platform middleware (request ids, metrics) and before Nest's
 * routes, so it is still the real app; errors are mapped here because Nest's filters do not see this route.
 */
export function mountClickEdge(app: INestApplication, logger: Logger, config: ClickEdgeConfig): void {
  const clicks = app.get(ClicksService);
  const links = app.get(LinkCache);
  const clock = app.get<Clock>(CLOCK);
  const noise = new NoiseLimiter({
    ratePerSecond: config.TRACKING_NOISE_RATE_PER_S,
    burst: config.TRACKING_NOISE_BURST,
    now: () => clock.now().getTime(),
  });
  const express = app.getHttpAdapter().getInstance() as Express;

  express.get('/c/:code', (req: Request, res: Response, next: NextFunction) => {
    if (Buffer.byteLength(req.originalUrl, 'utf8') > config.TRACKING_MAX_URL_BYTES) {
      res.status(414).set(TEXT).send('Link too long.\n');
      return;
    }
    const ip = req.ip ?? '';
    // Each hit takes a token up front (a concurrent burst of junk cannot slip through on one) and a hit on a real
    // link gives it back, so only unknown codes spend the allowance.
    if (noise.take(ip)) return record(req, res, next, true);
    // A limited client (or a carrier NAT it shares) still gets its real links; only its junk is refused, before
    // anything is written. The lookup is the link cache's.
    const code = String(req.params.code);
    const known = SHORT_CODE_PATTERN.test(code) ? links.resolve(code).then((link) => link !== undefined) : Promise.resolve(false);
    known.then(
      (ok) => {
        if (ok) return record(req, res, next, false);
        countNoiseRejected('tracking');
        res.status(429).set({ ...TEXT, 'Retry-After': String(noise.retryAfterSeconds(ip)) }).send('Too many requests.\n');
      },
      // The lookup failed (database down): the ordinary path maps that to its retryable answer.
      () => record(req, res, next, false),
    );
  });

  // Whatever else is sent to a link: nothing is recorded, and nothing redirects.
  express.all('/c/:code', (_req: Request, res: Response) => {
    res.status(405).set({ ...TEXT, Allow: 'GET, HEAD' }).send('Method not allowed.\n');
  });

  /** `took`: this hit holds a noise token, returned unless the code turns out unknown or malformed. */
  function record(req: Request, res: Response, next: NextFunction, took: boolean): void {
    clicks
      .recordClick(String(req.params.code), {
        method: req.method,
        userAgent: req.get('user-agent') ?? '',
        acceptLanguage: req.get('accept-language') ?? '',
        purpose: req.get('sec-purpose') ?? req.get('purpose') ?? req.get('x-purpose') ?? req.get('x-moz') ?? '',
        ip: req.ip ?? '',
      })
      .then(({ destination }) => {
        if (took) noise.refund(req.ip ?? '');
        res.status(302).set({ ...EDGE_HEADERS, Location: destination }).end();
      })
      .catch((e: unknown) => {
        if (e instanceof DomainError) {
          // Unknown or malformed codes get a plain 404 page, never a redirect; the token taken stays spent.
          const code = e.kind === 'NOT_FOUND' ? 404 : 400;
          res.status(code).set({ ...EDGE_HEADERS, 'Content-Type': 'text/plain; charset=utf-8' })
            .send(code === 404 ? 'This link does not exist or has expired.\n' : 'Bad link.\n');
          return;
        }
        // Our failure, not the client's noise.
        if (took) noise.refund(req.ip ?? '');
        if (res.headersSent) return next(e);
        if (isDatabaseUnavailable(e)) {
          // Postgres is down or restarting: a retryable answer, and the pool reconnects without a restart.
          logger.warn({ err: (e as Error).message }, 'click edge: database unavailable');
          res.status(503).set({ ...EDGE_HEADERS, 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': String(DATABASE_RETRY_AFTER_SECONDS) })
            .send('Try again in a moment.\n');
          return;
        }
        logger.error({ err: e }, 'click edge: recording a click failed');
        res.status(500).set({ ...EDGE_HEADERS, 'Content-Type': 'text/plain; charset=utf-8' }).send('Try again in a moment.\n');
      });
  }
}
