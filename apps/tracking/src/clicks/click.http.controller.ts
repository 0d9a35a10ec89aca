import type { INestApplication } from '@nestjs/common';
import type { Express, NextFunction, Request, Response } from 'express';
import { DomainError } from '@trackly/kernel';
import type { Logger } from '@trackly/logging';
import { ClicksService } from './clicks.service';

/**
 * On every answer of the edge: never cached (each hit must reach us and get its own click id), no Referer to the
 * advertiser (the tracked URL names our short code), and never indexed by search engines.
 */
export const EDGE_HEADERS = {
  'Cache-Control': 'no-store',
  'Referrer-Policy': 'no-referrer',
  'X-Robots-Tag': 'noindex, nofollow',
} as const;

/**
 * The click edge: GET (and HEAD, which Express routes to GET handlers) /c/{code} records the hit, classified, then
 * 302s to the offer's own URL. Previews and bots are redirected as well, so a preview card still renders; they are
 * recorded but never counted. Nothing from the request but the code is used to build the destination.
 *
 * A plain Express route rather than a Nest controller: it is the one hot path of the service, and Nest's per-request
 * pipeline (router context, rxjs interceptors) was a third of its CPU in `npm run bench:click --cpu-prof`. It is
 * mounted on the app's own Express instance after the platform middleware (request ids, metrics) and before Nest's
 * routes, so it is still the real app; errors are mapped here because Nest's filters do not see this route.
 */
export function mountClickEdge(app: INestApplication, logger: Logger): void {
  const clicks = app.get(ClicksService);
  const express = app.getHttpAdapter().getInstance() as Express;
  express.get('/c/:code', (req: Request, res: Response, next: NextFunction) => {
    clicks
      .recordClick(String(req.params.code), {
        method: req.method,
        userAgent: req.get('user-agent') ?? '',
        acceptLanguage: req.get('accept-language') ?? '',
        purpose: req.get('sec-purpose') ?? req.get('purpose') ?? req.get('x-purpose') ?? req.get('x-moz') ?? '',
        ip: req.ip ?? '',
      })
      .then(({ destination }) => {
        res.status(302).set({ ...EDGE_HEADERS, Location: destination }).end();
      })
      .catch((e: unknown) => {
        if (e instanceof DomainError) {
          // Unknown or malformed codes get a plain 404 page, never a redirect.
          const code = e.kind === 'NOT_FOUND' ? 404 : 400;
          res.status(code).set({ ...EDGE_HEADERS, 'Content-Type': 'text/plain; charset=utf-8' })
            .send(code === 404 ? 'This link does not exist or has expired.\n' : 'Bad link.\n');
          return;
        }
        logger.error({ err: e }, 'click edge: recording a click failed');
        if (res.headersSent) return next(e);
        res.status(500).set({ ...EDGE_HEADERS, 'Content-Type': 'text/plain; charset=utf-8' }).send('Try again in a moment.\n');
      });
  });
}
