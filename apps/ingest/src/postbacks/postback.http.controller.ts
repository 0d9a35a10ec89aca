import {
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
  UnauthorizedException,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
import type { Request } from 'express';
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
 * partner (or, on reversal, conversion), 413/414/415 for bodies and queries we do not read, 5xx only when the
 * conversion could not be stored.
 */
@Controller('postbacks')
export class PostbackHttpController {
  private readonly trustedProxies: AddressRange[];

  constructor(
    private readonly postbacks: PostbacksService,
    @Inject(INGEST_CONFIG) private readonly config: IngestConfig,
  ) {
    const parsed = parseAllowList(config.INGEST_TRUSTED_PROXIES);
    // Checked when the configuration was loaded.
    this.trustedProxies = parsed.ok ? parsed.value : [];
  }

  /** Declared before GET, which Express would otherwise also route HEAD to: a HEAD must never store a conversion. */
  @Head(':partnerId')
  @HttpCode(405)
  @Header('Allow', 'GET, POST')
  head(): void {}

  @Get(':partnerId')
  @Header('Cache-Control', 'no-store')
  get(@Param('partnerId') partnerId: string, @Req() req: Request): Promise<PostbackAnswer> {
    return this.receive(partnerId, req, 'postback');
  }

  @Post(':partnerId')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  post(@Param('partnerId') partnerId: string, @Req() req: Request): Promise<PostbackAnswer> {
    return this.receive(partnerId, req, 'postback');
  }

  @Post(':partnerId/reversal')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  reversal(@Param('partnerId') partnerId: string, @Req() req: Request): Promise<PostbackAnswer> {
    return this.receive(partnerId, req, 'reversal');
  }

  private async receive(partnerId: string, req: Request, route: PostbackRoute): Promise<PostbackAnswer> {
    return answer(await this.postbacks.receive(this.incoming(partnerId, req), route));
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
