import {
  All,
  Controller,
  ForbiddenException,
  Get,
  Head,
  Header,
  HttpCode,
  HttpException,
  HttpStatus,
  Inject,
  NotFoundException,
  Param,
  PayloadTooLargeException,
  Post,
  Req,
  Res,
  UnauthorizedException,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { CLOCK, Clock } from '@trackly/kernel';
import { NoiseLimiter } from '@trackly/platform';
import { countNoiseRejected } from '@trackly/observability';
import { AddressRange, clientAddress, parseAllowList } from '../domain/source-addresses';
import type { IngestConfig } from '../ingest.config';
import { INGEST_CONFIG } from '../ingest.tokens';
import { bodyReadError } from './postback-body.middleware';
import { IncomingPostback, PostbackReply, PostbackRoute, PostbacksService } from './postbacks.service';

/** What a partner reads back: what became of the conversion, and our id for it. */
export interface PostbackAnswer {
  status: 'stored' | 'duplicate' | 'adjusted' | 'reversed';
  id: string;
  conversion_id: string;
}

/**
 * The partner postback edge: GET or POST /postbacks/{partner}, POST /postbacks/{partner}/reversal. 200 for stored,
 * duplicate, adjusted and reversed conversions (partners must not retry those), 400 with a problem per parameter for
 * malformed input, 401 for a missing or wrong token, 403 for a source outside the allow-list, 404 for an unknown
 * partner (or, on reversal, conversion), 405 for other methods, 413/414/415 for bodies and queries we do not read,
 * 429 for a source address that sent too many refused requests (unless this one carries a valid token), 5xx only
 * when the conversion could not be stored.
 */
@Controller('postbacks')
export class PostbackHttpController {
  private readonly trustedProxies: AddressRange[];
  private readonly noise: NoiseLimiter;

  constructor(
    private readonly postbacks: PostbacksService,
    @Inject(INGEST_CONFIG) private readonly config: IngestConfig,
    @Inject(CLOCK) clock: Clock,
  ) {
    const parsed = parseAllowList(config.INGEST_TRUSTED_PROXIES);
    // Checked when the configuration was loaded.
    this.trustedProxies = parsed.ok ? parsed.value : [];
    this.noise = new NoiseLimiter({
      ratePerSecond: config.INGEST_NOISE_RATE_PER_S,
      burst: config.INGEST_NOISE_BURST,
      now: () => clock.now().getTime(),
    });
  }

  /** Declared before GET, which Express would otherwise also route HEAD to: a HEAD must never store a conversion. */
  @Head(':partnerId')
  @HttpCode(405)
  @Header('Allow', 'GET, POST')
  head(): void {}

  @Get(':partnerId')
  @Header('Cache-Control', 'no-store')
  get(@Param('partnerId') partnerId: string, @Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<PostbackAnswer> {
    return this.receive(partnerId, req, res, 'postback');
  }

  @Post(':partnerId')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  post(@Param('partnerId') partnerId: string, @Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<PostbackAnswer> {
    return this.receive(partnerId, req, res, 'postback');
  }

  @Post(':partnerId/reversal')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  reversal(@Param('partnerId') partnerId: string, @Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<PostbackAnswer> {
    return this.receive(partnerId, req, res, 'reversal');
  }

  /** Declared after the routes above, so it only sees the methods they do not take (PUT, DELETE, OPTIONS, ...). */
  @All(':partnerId/reversal')
  @HttpCode(405)
  @Header('Allow', 'POST')
  @Header('Cache-Control', 'no-store')
  reversalOtherMethod(): { error: string; message: string } {
    return { error: 'METHOD_NOT_ALLOWED', message: 'a reversal is a POST' };
  }

  @All(':partnerId')
  @HttpCode(405)
  @Header('Allow', 'GET, POST')
  @Header('Cache-Control', 'no-store')
  otherMethod(): { error: string; message: string } {
    return { error: 'METHOD_NOT_ALLOWED', message: 'postbacks are GET or POST' };
  }

  private async receive(partnerId: string, req: Request, res: Response, route: PostbackRoute): Promise<PostbackAnswer> {
    const incoming = this.incoming(partnerId, req);
    const source = incoming.sourceIp;
    // Every request takes a token before it is handled (so a concurrent storm cannot slip through on one), and gets
    // it back once it authenticated: only refused requests spend the allowance. A source that spent it is answered
    // here, before anything is archived or parsed, unless this request carries a valid token: a partner sharing an
    // address (a NAT, its own cloud) with a noisy client is never slowed by it.
    const took = this.noise.take(source);
    if (!took && !(await this.postbacks.carriesValidToken(incoming))) {
      countNoiseRejected('ingest');
      res.setHeader('Retry-After', String(this.noise.retryAfterSeconds(source)));
      throw new HttpException({ error: 'TOO_MANY_REQUESTS', message: 'too many refused requests from this address; retry later' }, HttpStatus.TOO_MANY_REQUESTS);
    }
    let authenticated = false;
    try {
      return answer(await this.postbacks.receive(incoming, route, () => (authenticated = true)));
    } finally {
      if (took && authenticated) this.noise.refund(source);
    }
  }

  private incoming(partnerId: string, req: Request): IncomingPostback {
    const q = req.originalUrl.indexOf('?');
    const header = this.config.INGEST_TRUSTED_PROXY_HEADER;
    return {
      partnerId,
      sourceIp: clientAddress(req.socket.remoteAddress ?? '', header ? (req.get(header) ?? '') : undefined, this.trustedProxies),
      method: req.method,
      path: req.path,
      query: q >= 0 ? req.originalUrl.slice(q + 1) : '',
      contentType: req.get('content-type') ?? null,
      body: Buffer.isBuffer(req.body) ? req.body : null,
      bodyError: bodyReadError(req),
    };
  }
}

function answer(reply: PostbackReply): PostbackAnswer {
  switch (reply.kind) {
    case 'stored':
    case 'duplicate':
    case 'adjusted':
    case 'reversed':
      return { status: reply.kind, id: reply.conversion.id, conversion_id: reply.conversion.conversionId };
    case 'too_large':
      throw new PayloadTooLargeException({ error: 'PAYLOAD_TOO_LARGE', message: reply.message });
    case 'uri_too_long':
      throw new HttpException({ error: 'URI_TOO_LONG', message: reply.message }, HttpStatus.URI_TOO_LONG);
    case 'unsupported_media_type':
      throw new UnsupportedMediaTypeException({ error: 'UNSUPPORTED_MEDIA_TYPE', message: reply.message });
    case 'unauthorized':
      throw new UnauthorizedException({ error: 'UNAUTHENTICATED', message: reply.message });
    case 'forbidden':
      throw new ForbiddenException({ error: 'PERMISSION_DENIED', message: reply.message });
    case 'not_found':
      throw new NotFoundException({ error: 'NOT_FOUND', message: reply.message });
  }
}
