import { All, Controller, Get, Param, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { PublicRoute } from '../auth/api-key.guard';
import { ConsoleAssets, ConsoleFile } from './console-assets';

// Everything the console loads comes from this origin: no CDN, no inline script or style.
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
/** The documented answer for a path that is no route: no framework text, no echo of the path. */
export const NO_SUCH_ROUTE = { error: 'NOT_FOUND', message: 'no such route (the API is described at /api/openapi.json)' };

/**
 * The console (apps/console) from the gateway's own origin: its page, its hashed assets (cached for a year: a new
 * build has new names) and its favicon, open without a key (they hold no data; the person enters a key, which is
 * sent on /api calls). A page address of the console (/conversions/…, /partners/…) answers the same page, so links
 * can be shared and reloaded. Registered last: any other path answers 404 in the API's error shape.
 */
@Controller()
@PublicRoute()
export class ConsoleHttpController {
  constructor(private readonly assets: ConsoleAssets) {}

  @Get()
  index(@Req() req: Request, @Res() res: Response): void {
    this.page(req, res);
  }

  @Get('assets/:file')
  asset(@Param('file') file: string, @Req() req: Request, @Res() res: Response): void {
    const asset = this.assets.get(`assets/${file}`);
    if (!asset) return void res.status(404).json(NO_SUCH_ROUTE);
    send(req, res, asset, 'public, max-age=31536000, immutable');
  }

  @Get('favicon.svg')
  favicon(@Req() req: Request, @Res() res: Response): void {
    const asset = this.assets.get('favicon.svg');
    if (!asset) return void res.status(404).json(NO_SUCH_ROUTE);
    send(req, res, asset, 'public, max-age=86400');
  }

  @All('*path')
  fallback(@Req() req: Request, @Res() res: Response): void {
    const path = req.path;
    const isPage =
      (req.method === 'GET' || req.method === 'HEAD') &&
      !/^\/(?:api|assets|healthz|readyz|metrics)(?:\/|$)/.test(path) &&
      (req.headers.accept ?? '').includes('text/html');
    if (isPage) return this.page(req, res);
    res.status(404).json(NO_SUCH_ROUTE);
  }

  private page(req: Request, res: Response): void {
    const index = this.assets.get('index.html');
    if (!index) {
      res.status(503).type('text/plain').send('The console is not built: run `npx nx build console` (`npm start` builds it).\n');
      return;
    }
    res.setHeader('Content-Security-Policy', CSP);
    send(req, res, index, 'no-cache');
  }
}

function send(req: Request, res: Response, asset: ConsoleFile, cacheControl: string): void {
  res.setHeader('Content-Type', asset.contentType);
  res.setHeader('Cache-Control', cacheControl);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Vary', 'Accept-Encoding');
  const gzip = asset.gzip && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  if (gzip) res.setHeader('Content-Encoding', 'gzip');
  res.status(200).end(gzip ? asset.gzip : asset.body);
}
