/**
 * The request id that follows one piece of work across the platform: taken from (or added to) the incoming HTTP
 * request or gRPC call, passed on in the metadata of gRPC calls made while handling it, stored in the headers of
 * the outbox rows it writes (so it travels in the NATS message), and restored by the consumer that applies the event.
 * Log lines written inside that work carry it (see @trackly/logging). When an OpenTelemetry SDK is registered, the
 * W3C trace context travels the same way and the log lines also carry the trace id.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { context as otelContext, propagation, trace } from '@opentelemetry/api';

/** gRPC metadata key and HTTP header (lower case, as both transports normalise it). */
export const REQUEST_ID_HEADER = 'x-request-id';
/** NATS message header (outbox rows keep it in their headers column). */
export const NATS_REQUEST_ID_HEADER = 'Trackly-Request-Id';

export interface RequestContext {
  requestId: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** Ids we accept from outside: short and printable, so a client cannot inject log noise or huge values. */
const VALID_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function newRequestId(): string {
  return randomUUID();
}

/** The given id when it is acceptable, else a new one. */
export function acceptRequestId(candidate: unknown): string {
  return typeof candidate === 'string' && VALID_ID.test(candidate) ? candidate : newRequestId();
}

/** Runs fn with the request context; everything it awaits or schedules sees the same context. */
export function runWithRequestContext<T>(ctx: RequestContext, fn: () => T): T {
  return storage.run(ctx, fn);
}

export function currentRequestContext(): RequestContext | undefined {
  return storage.getStore();
}

export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

/** Fields added to every log line: the request id and, when a span is recording, its trace and span ids. */
export function logContextFields(): Record<string, string> {
  const out: Record<string, string> = {};
  const id = storage.getStore()?.requestId;
  if (id) out.requestId = id;
  const span = trace.getActiveSpan()?.spanContext();
  if (span && trace.isSpanContextValid(span)) {
    out.traceId = span.traceId;
    out.spanId = span.spanId;
  }
  return out;
}

/**
 * Headers to store with an outbox row or put on an outgoing call: the current request id and, if an OpenTelemetry
 * propagator is registered, the trace context (traceparent). Empty outside any request.
 */
export function outgoingContextHeaders(natsStyle: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  const id = currentRequestId();
  if (id) out[natsStyle ? NATS_REQUEST_ID_HEADER : REQUEST_ID_HEADER] = id;
  propagation.inject(otelContext.active(), out);
  return out;
}

/** Reads the request id from a header getter (NATS headers, gRPC metadata, HTTP headers). */
export function incomingRequestId(get: (name: string) => string | undefined, fallback?: string): string {
  const raw = get(NATS_REQUEST_ID_HEADER) || get(REQUEST_ID_HEADER);
  if (raw && VALID_ID.test(raw)) return raw;
  return fallback && VALID_ID.test(fallback) ? fallback : newRequestId();
}
