import * as grpc from '@grpc/grpc-js';
import { outgoingContextHeaders } from '@trackly/observability';
import { authMetadata, channelCredentials, DEVELOPMENT_GRPC_SECURITY, GrpcSecurityConfig, messageLimitOptions } from './security';

/** Promise-returning client derived from a ts-proto grpc-js service definition (types come from the contract). */
export type PromiseClient<S> = {
  [K in keyof S]: S[K] extends {
    requestSerialize: (value: infer Req) => Buffer;
    responseDeserialize: (value: Buffer) => infer Res;
  }
    ? (request: Req, options?: CallOptions) => Promise<Res>
    : never;
} & { close(): void };

export interface CallOptions {
  /** Overrides the client's default deadline. */
  deadlineMs?: number;
  metadata?: grpc.Metadata;
}

export interface ClientOptions {
  /** Deadline applied to every call unless overridden (a call without a deadline can hang for ever). */
  deadlineMs?: number;
  /** Auth mode and message limits, as the calling app is configured; unset = development, no auth, 4 MiB. */
  security?: GrpcSecurityConfig;
}

export class GrpcCallError extends Error {
  constructor(
    readonly code: grpc.status,
    readonly details: string,
    readonly method: string,
  ) {
    super(`${method}: ${grpc.status[code]}: ${details}`);
  }
}

export function createGrpcClient<S extends Record<string, unknown>>(
  definition: S,
  address: string,
  opts: ClientOptions = {},
): PromiseClient<S> {
  const Ctor = grpc.makeGenericClientConstructor(definition as unknown as grpc.ServiceDefinition, 'client');
  const security = opts.security ?? DEVELOPMENT_GRPC_SECURITY;
  const raw = new Ctor(address, channelCredentials(security), {
    'grpc.keepalive_time_ms': 30_000,
    'grpc.enable_retries': 1,
    ...messageLimitOptions(security),
  });
  const auth = Object.entries(authMetadata(security));
  const client: Record<string, unknown> = { close: () => raw.close() };
  for (const [name, method] of Object.entries(definition as unknown as grpc.ServiceDefinition)) {
    client[name] = (request: unknown, options: CallOptions = {}) =>
      new Promise((resolve, reject) => {
        const deadline = new Date(Date.now() + (options.deadlineMs ?? opts.deadlineMs ?? 5000));
        // The request id (and trace context) of the work this call is part of travels with it.
        const metadata = options.metadata?.clone() ?? new grpc.Metadata();
        for (const [k, v] of Object.entries(outgoingContextHeaders(false))) if (!metadata.get(k).length) metadata.set(k, v);
        // The token is set, not added: a caller's metadata cannot carry a second authorization value.
        for (const [k, v] of auth) metadata.set(k, v);
        raw.makeUnaryRequest(
          method.path,
          method.requestSerialize,
          method.responseDeserialize,
          request,
          metadata,
          { deadline },
          (err: grpc.ServiceError | null, res?: unknown) =>
            err ? reject(new GrpcCallError(err.code, err.details, method.path)) : resolve(res),
        );
      });
  }
  return client as PromiseClient<S>;
}

export interface RetryWhileUnavailableOptions {
  /** Calls in all, the first included (default 5). */
  attempts?: number;
  /** Wait between calls (default 2 s). */
  delayMs?: number;
  /** Told of each UNAVAILABLE failure that is followed by another call. */
  onRetry?: (error: GrpcCallError, attempt: number) => void;
}

/**
 * Calls again while a call fails UNAVAILABLE (a GrpcCallError): the service, its database or its broker not answering
 * yet (a restart, or a wiped stream store coming back), which the services answer with "retry shortly". Only for calls
 * that are safe to repeat (a re-drive publishes under the events' own ids). Any other failure, and the last attempt's,
 * is thrown as it came.
 */
export async function retryWhileUnavailable<T>(call: () => Promise<T>, opts: RetryWhileUnavailableOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      if (attempt >= attempts || !(e instanceof GrpcCallError) || e.code !== grpc.status.UNAVAILABLE) throw e;
      opts.onRetry?.(e, attempt);
      await new Promise((resolve) => setTimeout(resolve, opts.delayMs ?? 2000));
    }
  }
}
