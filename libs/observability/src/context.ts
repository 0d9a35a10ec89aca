/**
 * The request id that follows one piece of work across the platform: taken from (or added to) the incoming HTTP
 * request or gRPC call, passed on in the metadata of gRPC calls made while handling it, stored in the headers of
 * the outbox rows it writes (so it travels in the NATS message), and restored by the consumer that applies the event.
 * Log lines written inside that work carry it (see @trackly/logging). When an OpenTelemetry SDK is registered, the
 * W3C trace context travels the same way and the log lines also carry the trace id.
 *
 * The context lives in an AsyncLocalStorage, which on Node 20 runs an async_hooks init hook for every promise the
 * process makes while the storage is enabled (~9% of the postback edge's throughput when it entered a context per
 * request). So the storage is enabled only while some context is held, and the two edges pass the request id
 * explicitly on their common paths (contextHeadersFor) and enter a context only where they log or call out.
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

let held = 0;

/**
 * Keeps the storage enabled until the returned function is called (once; later calls do nothing): for work that
 * outlives the function runWithRequestContext ran, as an HTTP request outlives its middleware's next().
 */
export function holdRequestContext(): () => void {
  held++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    // The last context released: the storage is disabled, and with it the per-promise hook. Work scheduled inside a
    // context that runs only after that (a late log line) has no request id.
    if (--held === 0) storage.disable();
  };
}

/** Contexts held now (runWithRequestContext calls whose work has not settled, and holds): for tests and probes. */
export function heldRequestContexts(): number {
  return held;
}

/**
 * Runs fn with the request context; everything it awaits or schedules sees the same context until fn returns or,
 * when it returns a promise, until that settles (use holdRequestContext for longer).
 */
export function runWithRequestContext<T>(ctx: RequestContext, fn: () => T): T {
  const release = holdRequestContext();
  let result: T;
  try {
    result = storage.run(ctx, fn);
  } catch (e) {
    release();
    throw e;
  }
  if (typeof (result as { then?: unknown } | null)?.then === 'function') (result as PromiseLike<unknown>).then(release, release);
  else release();
  return result;
}

/** fn in the context of the given request id, or in the current context when there is none. */
export function withRequestId<T>(requestId: string | undefined, fn: () => T): T {
  return requestId === undefined ? fn() : runWithRequestContext({ requestId }, fn);
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
  return contextHeadersFor(currentRequestId(), natsStyle);
}

/** outgoingContextHeaders with the request id given, for work that passes it explicitly rather than in a context. */
export function contextHeadersFor(requestId: string | undefined, natsStyle: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  if (requestId) out[natsStyle ? NATS_REQUEST_ID_HEADER : REQUEST_ID_HEADER] = requestId;
  propagation.inject(otelContext.active(), out);
  return out;
}

/** Reads the request id from a header getter (NATS headers, gRPC metadata, HTTP headers). */
export function incomingRequestId(get: (name: string) => string | undefined, fallback?: string): string {
  const raw = get(NATS_REQUEST_ID_HEADER) || get(REQUEST_ID_HEADER);
  if (raw && VALID_ID.test(raw)) return raw;
  return fallback && VALID_ID.test(fallback) ? fallback : newRequestId();
}
