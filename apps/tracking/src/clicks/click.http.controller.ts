import { ArgumentsHost, Catch, Controller, ExceptionFilter, Get, Head, Header, HttpCode, Param, Redirect, Req, UseFilters } from '@nestjs/common';
import type { Request } from 'express';
import { DomainError } from '@trackly/kernel';
import { ClicksService } from './clicks.service';

/** Unknown or malformed codes get a plain 404 page, never a redirect. */
@Catch(DomainError)
class LinkNotFoundFilter implements ExceptionFilter {
  catch(e: DomainError, host: ArgumentsHost) {
    const res = host.switchToHttp().getResponse();
    const code = e.kind === 'NOT_FOUND' ? 404 : 400;
    res.status(code).set({ 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' })
      .send(code === 404 ? 'This link does not exist or has expired.\n' : 'Bad link.\n');
  }
}

/** The click edge: GET /c/{code} records the click, then 302s to the offer's own URL. */
@Controller('c')
@UseFilters(LinkNotFoundFilter)
export class ClickHttpController {
  constructor(private readonly clicks: ClicksService) {}

  /** HEAD requests (link previews, scanners) are never clicks. Declared before GET: Express would
   * otherwise route HEAD to the GET handler. */
  @Head(':code')
  @HttpCode(204)
  @Header('Cache-Control', 'no-store')
  head(): void {}

  @Get(':code')
  @Redirect()
  @Header('Cache-Control', 'no-store')
  @Header('Referrer-Policy', 'no-referrer')
  async click(@Param('code') code: string, @Req() req: Request) {
    const { destination } = await this.clicks.recordClick(code, {
      userAgent: req.get('user-agent') ?? '',
      ip: req.ip ?? '',
    });
    return { url: destination, statusCode: 302 };
  }
}
