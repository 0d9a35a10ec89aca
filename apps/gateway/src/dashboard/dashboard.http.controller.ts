import { Controller, Get, Header, NotFoundException, Param, Res } from '@nestjs/common';
import type { Response } from 'express';
import { PublicRoute } from '../auth/api-key.guard';
import { DashboardAssets } from './dashboard-assets';

// Everything the page loads comes from this origin: no CDN, no inline script or style.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** The dashboard page and its two files. Open: it holds no data; the person enters an API key, sent on /api calls. */
@Controller()
@PublicRoute()
export class DashboardHttpController {
  constructor(private readonly assets: DashboardAssets) {}

  @Get()
  @Header('Content-Security-Policy', CSP)
  @Header('Cache-Control', 'no-cache')
  index(@Res({ passthrough: true }) res: Response): string {
    return this.send(res, 'index.html');
  }

  @Get('dashboard/:file')
  @Header('Content-Security-Policy', CSP)
  @Header('Cache-Control', 'no-cache')
  file(@Param('file') file: string, @Res({ passthrough: true }) res: Response): string {
    return this.send(res, file);
  }

  private send(res: Response, name: string): string {
    const asset = this.assets.get(name);
    if (!asset) throw new NotFoundException({ error: 'NOT_FOUND', message: `no dashboard file "${name.slice(0, 40)}"` });
    res.type(asset.contentType);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    return asset.body;
  }
}
