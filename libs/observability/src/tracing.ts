/**
 * OpenTelemetry tracing hooks. Only the API is a dependency: without an SDK registered (the default) every span is a
 * no-op and nothing is exported. To export traces, preload an SDK (docs/deploy.md, "Tracing"): the spans below
 * then record gRPC and HTTP handling, event handling and outbox publishing, linked across services through the
 * traceparent carried in gRPC metadata and NATS headers.
 */
import { context as otelContext, propagation, Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';

const tracer = () => trace.getTracer('trackly');

export { SpanKind };

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Record<string, string | number | boolean>;
  /** Headers of the incoming request or message, to continue the caller's trace. */
  carrier?: Record<string, string>;
}

/** Runs fn inside a span (ended when fn settles; errors are recorded and rethrown). */
export async function withSpan<T>(name: string, opts: SpanOptions, fn: (span: Span) => Promise<T>): Promise<T> {
  const parent = opts.carrier ? propagation.extract(otelContext.active(), opts.carrier) : otelContext.active();
  return tracer().startActiveSpan(name, { kind: opts.kind ?? SpanKind.INTERNAL, attributes: opts.attributes }, parent, async (span) => {
    try {
      return await fn(span);
    } catch (e) {
      span.recordException(e as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (e as Error).message });
      throw e;
    } finally {
      span.end();
    }
  });
}
