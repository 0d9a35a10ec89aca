import { HttpException, INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';

const BODY_ERROR = Symbol('trackly.postbackBodyError');

export interface BodyReadError {
  status: number;
  message: string;
}

type WithBodyError = Request & { [BODY_ERROR]?: BodyReadError };

/** Paths whose body errors the postback edge answers (and archives) itself. */
const POSTBACK_PATH = /^\/postbacks\//;

/**
 * Body reading for the HTTP edge, installed before Nest's own parsers (which then find the body read and step
 * aside). Every body is read as bytes, whatever its type, up to `limitBytes`: the archive keeps exactly what arrived
 * and the postback service decodes form or JSON itself. A body that cannot be read (too large, bad encoding) is
 * handed to the postback route instead of failing the request, so it is archived and answered like any other
 * refusal; on other routes it becomes an ordinary HTTP error.
 */
export function configurePostbackBodies(app: INestApplication, limitBytes: number): void {
  const http = app as NestExpressApplication;
  http.useBodyParser('raw', { type: () => true, limit: limitBytes });
  http.use((err: unknown, req: Request, _res: Response, next: NextFunction) => {
    const status = (err as { status?: unknown })?.status;
    if (typeof status !== 'number' || status < 400 || status > 499) return next(err);
    const message = (err as Error).message;
    if (POSTBACK_PATH.test(req.path)) {
      (req as WithBodyError)[BODY_ERROR] = { status, message };
      return next();
    }
    next(new HttpException({ error: 'BAD_REQUEST_BODY', message }, status));
  });
}

export function bodyReadError(req: Request): BodyReadError | null {
  return (req as WithBodyError)[BODY_ERROR] ?? null;
}
