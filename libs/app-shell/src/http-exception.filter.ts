import { ArgumentsHost, Catch, ExceptionFilter, HttpException } from '@nestjs/common';
import { DomainError, DomainErrorKind } from '@trackly/kernel';
import type { Logger } from '@trackly/logging';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { GrpcCallError, GrpcExceptionFilter } from '@trackly/grpc';
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from '@trackly/database';
import { isBrokerUnavailable } from '@trackly/messaging';

const HTTP: Record<DomainErrorKind, number> = {
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  FAILED_PRECONDITION: 409,
  UNAVAILABLE: 503,
};

const FROM_GRPC: Partial<Record<GrpcStatus, number>> = {
  [GrpcStatus.INVALID_ARGUMENT]: 400,
  [GrpcStatus.NOT_FOUND]: 404,
  [GrpcStatus.ALREADY_EXISTS]: 409,
  [GrpcStatus.FAILED_PRECONDITION]: 409,
  [GrpcStatus.UNAVAILABLE]: 503,
  [GrpcStatus.DEADLINE_EXCEEDED]: 504,
};

/**
 * The one place HTTP edges (and, for rpc contexts, gRPC servers) turn errors into responses: domain errors by kind (with field-level details), errors
 * from a downstream gRPC call by status, Nest's own HTTP exceptions as they are, the database or NATS being unreachable
 * 503 with Retry-After (gRPC: UNAVAILABLE; partners, probes and operators retry; both clients reconnect by
 * themselves), anything else 500 (logged).
 * Bodies are JSON: { error, message, fields? }.
 */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  constructor(private readonly logger?: Logger) {}

  private readonly grpc = new GrpcExceptionFilter(this.logger);

  catch(exception: unknown, host: ArgumentsHost): unknown {
    // With inheritAppConfig the gRPC server shares this filter: its errors take the gRPC mapping. libs/grpc cannot
    // know NATS (libs/messaging builds on it), so a broker that does not answer is made UNAVAILABLE here.
    if (host.getType() === 'rpc') return this.grpc.catch(isBrokerUnavailable(exception) ? brokerUnavailable(exception) : exception, host);
    const res = host.switchToHttp().getResponse();
    const { status, body, retryAfter } = httpErrorAnswer(exception, this.logger);
    if (retryAfter !== undefined) {
      if (typeof res.setHeader === 'function') res.setHeader('Retry-After', retryAfter);
      else res.header?.('Retry-After', retryAfter);
    }
    if (typeof res.status === 'function') res.status(status).json(body);
    else res.code(status).send(body);
  }
}

/** An error as an HTTP edge answers it: status, JSON body and, for a retryable outage, Retry-After. */
export interface HttpErrorAnswer {
  status: number;
  body: Record<string, unknown>;
  retryAfter?: string;
}

/**
 * The mapping HttpExceptionFilter applies, for edges that answer without Nest (a node:http handler in front of it):
 * one set of rules whichever path a request took. Logs as the filter does (503 warn, unexpected errors error).
 */
export function httpErrorAnswer(exception: unknown, logger?: Logger): HttpErrorAnswer {
  if (exception instanceof DomainError) {
    const body: Record<string, unknown> = { error: exception.kind, message: exception.message };
    if (Object.keys(exception.fields).length) body.fields = exception.fields;
    return { status: HTTP[exception.kind], body };
  }
  if (exception instanceof GrpcCallError) {
    return { status: FROM_GRPC[exception.code] ?? 502, body: { error: GrpcStatus[exception.code], message: exception.details } };
  }
  if (exception instanceof HttpException) {
    const r = exception.getResponse();
    return { status: exception.getStatus(), body: typeof r === 'string' ? { error: exception.name, message: r } : { error: exception.name, ...(r as object) } };
  }
  const database = isDatabaseUnavailable(exception);
  if (database || isBrokerUnavailable(exception)) {
    logger?.warn({ err: (exception as Error).message }, `${database ? 'database' : 'NATS'} unavailable: answering 503`);
    return { status: 503, body: { error: 'UNAVAILABLE', message: 'temporarily unavailable, retry later' }, retryAfter: String(DATABASE_RETRY_AFTER_SECONDS) };
  }
  logger?.error({ err: exception }, 'unhandled error in HTTP handler');
  return { status: 500, body: { error: 'INTERNAL', message: 'internal error' } };
}

/** A broker error as the domain's retryable UNAVAILABLE (what the gRPC mapping answers UNAVAILABLE, "retry"). */
function brokerUnavailable(exception: unknown): DomainError {
  return new DomainError('UNAVAILABLE', `NATS JetStream is not answering (${(exception as Error).message}); retry shortly`);
}
