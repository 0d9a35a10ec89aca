import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { context as otelContext, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { Observable, Subscription } from 'rxjs';
import { acceptRequestId, holdRequestContext, REQUEST_ID_HEADER, runWithRequestContext } from './context';
import { grpcServerHandled, grpcServerHandling } from './metrics';

interface MetadataLike {
  get(key: string): unknown[];
  getMap?(): Record<string, unknown>;
}

/** gRPC status code name of an error leaving a handler, as the global exception filter will map it. */
export function grpcCodeName(err: unknown): string {
  const e = err as { kind?: unknown; code?: unknown; getError?: () => unknown };
  // Domain errors: their kinds are named like the gRPC codes they map to.
  if (typeof e?.kind === 'string' && /^[A-Z_]+$/.test(e.kind)) return e.kind;
  const inner = typeof e?.getError === 'function' ? (e.getError() as { code?: unknown }) : e;
  if (typeof inner?.code === 'number') return GRPC_CODE_NAMES[inner.code] ?? 'UNKNOWN';
  return 'INTERNAL';
}

const GRPC_CODE_NAMES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS',
  'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED',
  'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
];

/**
 * For gRPC handlers: request id from the call's metadata (or a new one) as the context of the handler, a server span
 * continuing the caller's trace, and rate/latency/status per method. HTTP requests are left to the HTTP middleware.
 */
@Injectable()
export class GrpcObservabilityInterceptor implements NestInterceptor {
  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (ctx.getType() !== 'rpc') return next.handle();
    const [, metadata, call] = ctx.getArgs() as [unknown, MetadataLike | undefined, { getPath?: () => string } | undefined];
    const path = call?.getPath?.() ?? `/${ctx.getClass().name}/${ctx.getHandler().name}`;
    const slash = path.lastIndexOf('/');
    const labels = { grpc_service: path.slice(1, slash), grpc_method: path.slice(slash + 1) };
    const requestId = acceptRequestId(metadata?.get(REQUEST_ID_HEADER)?.[0]);
    const carrier: Record<string, string> = {};
    for (const [k, v] of Object.entries(metadata?.getMap?.() ?? {})) if (typeof v === 'string') carrier[k] = v;
    const parent = propagation.extract(otelContext.active(), carrier);
    const span = trace.getTracer('trackly').startSpan(path.slice(1), { kind: SpanKind.SERVER, attributes: { 'rpc.system': 'grpc', 'rpc.service': labels.grpc_service, 'rpc.method': labels.grpc_method } }, parent);
    const started = process.hrtime.bigint();
    const done = (code: string) => {
      grpcServerHandled.inc({ ...labels, grpc_code: code });
      grpcServerHandling.observe({ ...labels, grpc_code: code }, Number(process.hrtime.bigint() - started) / 1e9);
      span.setAttribute('rpc.grpc.status_code', code);
      if (code !== 'OK') span.setStatus({ code: SpanStatusCode.ERROR, message: code });
      span.end();
    };
    return new Observable((subscriber) => {
      // Held until the call ends (completes, fails or is cancelled), not only while the handler is subscribed.
      const release = holdRequestContext();
      let subscription: Subscription;
      try {
        subscription = runWithRequestContext({ requestId }, () =>
          otelContext.with(trace.setSpan(parent, span), () =>
            next.handle().subscribe({
              next: (v) => subscriber.next(v),
              error: (e) => {
                done(grpcCodeName(e));
                subscriber.error(e);
              },
              complete: () => {
                done('OK');
                subscriber.complete();
              },
            }),
          ),
        );
      } catch (e) {
        release();
        throw e;
      }
      return () => {
        subscription.unsubscribe();
        release();
      };
    });
  }
}
