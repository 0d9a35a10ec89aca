import { All, Controller, Param, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { bodyReadError } from './postback-body.middleware';
import { EdgeAnswer, PostbackEdge } from './postback-edge';
import type { PostbackRoute } from './postbacks.service';

export type { PostbackAnswer } from './postback-edge';

/**
 * The postback routes in Nest, for a server where PostbackEdge is not mounted in front of Express (startIngest
 * mounts it, so there these routes see no traffic): every method is handed to the edge, which answers exactly as it
 * does on its own path (405 for the methods a route does not take included). One implementation, two ways in.
 */
@Controller('postbacks')
export class PostbackHttpController {
  constructor(private readonly edge: PostbackEdge) {}

  @All(':partnerId/reversal')
  async reversal(@Param('partnerId') partnerId: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    send(res, await this.edge.answer(this.request(partnerId, req, 'reversal')));
  }

  @All(':partnerId')
  async postback(@Param('partnerId') partnerId: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    send(res, await this.edge.answer(this.request(partnerId, req, 'postback')));
  }

  private request(partnerId: string, req: Request, route: PostbackRoute) {
    const q = req.originalUrl.indexOf('?');
    return {
      partnerId,
      route,
      method: req.method,
      path: req.path,
      query: q >= 0 ? req.originalUrl.slice(q + 1) : '',
      socketAddress: req.socket.remoteAddress ?? '',
      header: (name: string) => req.get(name),
      body: Buffer.isBuffer(req.body) ? req.body : null,
      bodyError: bodyReadError(req),
    };
  }
}

function send(res: Response, a: EdgeAnswer): void {
  res.writeHead(a.status, a.headers).end(a.body);
}
