import { Controller, Get, Head, Header, HttpCode, Param, PayloadTooLargeException, Post, Req, UnsupportedMediaTypeException } from '@nestjs/common';
import type { Request } from 'express';
import { bodyReadError } from './postback-body.middleware';
import { IncomingPostback, PostbackReply, PostbacksService } from './postbacks.service';

/** What a partner reads back: whether the conversion was new, and our id for it. */
export interface PostbackAnswer {
  status: 'stored' | 'duplicate';
  id: string;
  conversion_id: string;
}

/**
 * The partner postback edge: GET or POST /postbacks/{partner}. 200 for stored and duplicate conversions (partners
 * must not retry those), 400 with a problem per parameter for malformed input, 413/415 for bodies we do not read,
 * 5xx only when the conversion could not be stored.
 */
@Controller('postbacks')
export class PostbackHttpController {
  constructor(private readonly postbacks: PostbacksService) {}

  /** Declared before GET, which Express would otherwise also route HEAD to: a HEAD must never store a conversion. */
  @Head(':partnerId')
  @HttpCode(405)
  @Header('Allow', 'GET, POST')
  head(): void {}

  @Get(':partnerId')
  @Header('Cache-Control', 'no-store')
  get(@Param('partnerId') partnerId: string, @Req() req: Request): Promise<PostbackAnswer> {
    return this.receive(partnerId, req);
  }

  @Post(':partnerId')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  post(@Param('partnerId') partnerId: string, @Req() req: Request): Promise<PostbackAnswer> {
    return this.receive(partnerId, req);
  }

  private async receive(partnerId: string, req: Request): Promise<PostbackAnswer> {
    return answer(await this.postbacks.receive(incoming(partnerId, req)));
  }
}

function incoming(partnerId: string, req: Request): IncomingPostback {
  const q = req.originalUrl.indexOf('?');
  return {
    partnerId,
    sourceIp: req.ip ?? req.socket.remoteAddress ?? '',
    method: req.method,
    path: req.path,
    query: q >= 0 ? req.originalUrl.slice(q + 1) : '',
    contentType: req.get('content-type') ?? null,
    body: Buffer.isBuffer(req.body) ? req.body : null,
    bodyError: bodyReadError(req),
  };
}

function answer(reply: PostbackReply): PostbackAnswer {
  switch (reply.kind) {
    case 'stored':
    case 'duplicate':
      return { status: reply.kind, id: reply.conversion.id, conversion_id: reply.conversion.conversionId };
    case 'too_large':
      throw new PayloadTooLargeException({ error: 'PAYLOAD_TOO_LARGE', message: reply.message });
    case 'unsupported_media_type':
      throw new UnsupportedMediaTypeException({ error: 'UNSUPPORTED_MEDIA_TYPE', message: reply.message });
  }
}
