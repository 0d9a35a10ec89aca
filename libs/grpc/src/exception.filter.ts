import { ArgumentsHost, Catch, RpcExceptionFilter } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { status } from '@grpc/grpc-js';
import { Observable, throwError } from 'rxjs';
import { DomainError, DomainErrorKind } from '@trackly/kernel';
import type { Logger } from '@trackly/logging';
import { currentRequestId } from '@trackly/observability';
import { isDatabaseUnavailable } from '@trackly/database';

const CODES: Record<DomainErrorKind, status> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  UNAVAILABLE: status.UNAVAILABLE,
};

/** The one place domain errors become gRPC status codes; anything unexpected is INTERNAL (and logged), not UNKNOWN. */
@Catch()
export class GrpcExceptionFilter implements RpcExceptionFilter<unknown> {
  constructor(private readonly logger?: Logger) {}

  catch(exception: unknown, _host: ArgumentsHost): Observable<never> {
    if (exception instanceof DomainError) {
      return throwError(() => ({ code: CODES[exception.kind], message: exception.message, details: exception.message }));
    }
    if (exception instanceof RpcException) {
      const e = exception.getError();
      return throwError(() => (typeof e === 'object' ? e : { code: status.UNKNOWN, message: String(e) }));
    }
    const requestId = currentRequestId();
    if (isDatabaseUnavailable(exception)) {
      // Retryable, like the edges' 503: the pool reconnects once Postgres is back.
      this.logger?.warn({ err: (exception as Error).message, requestId }, 'database unavailable in gRPC handler');
      const message = 'database unavailable, retry shortly';
      return throwError(() => ({ code: status.UNAVAILABLE, message, details: message }));
    }
    // The cause stays in the server's log; the caller learns only that it failed and which request id to look for,
    // never a driver message, SQL or a stack.
    this.logger?.error({ err: exception, requestId }, 'unhandled error in gRPC handler');
    const message = requestId ? `internal error (request id ${requestId})` : 'internal error';
    return throwError(() => ({ code: status.INTERNAL, message, details: message }));
  }
}
