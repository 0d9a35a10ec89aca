import type { CallHandler, ExecutionContext } from '@nestjs/common';
import { lastValueFrom, of, throwError, defer } from 'rxjs';
import { DomainError } from '@trackly/kernel';
import { currentRequestId, heldRequestContexts, REQUEST_ID_HEADER } from './context';
import { GrpcObservabilityInterceptor, grpcCodeName } from './grpc.interceptor';
import { renderMetrics } from './metrics';

function rpcContext(path: string, requestId?: string): ExecutionContext {
  const metadata = { get: (k: string) => (k === REQUEST_ID_HEADER && requestId ? [requestId] : []), getMap: () => ({}) };
  return {
    getType: () => 'rpc',
    getArgs: () => [{}, metadata, { getPath: () => path }],
    getClass: () => Object,
    getHandler: () => () => undefined,
  } as unknown as ExecutionContext;
}

describe('GrpcObservabilityInterceptor', () => {
  const interceptor = new GrpcObservabilityInterceptor();

  it('runs the handler in the caller\'s request context and counts the call by method and code', async () => {
    let seen: string | undefined;
    // Read after an await: the context is held for the whole call, not only while the handler is subscribed.
    const handler: CallHandler = { handle: () => defer(async () => (await new Promise((r) => setTimeout(r, 2)), (seen = currentRequestId()), { ok: true })) };
    await lastValueFrom(interceptor.intercept(rpcContext('/trackly.test.v1.TestService/Get', 'req-77'), handler));
    expect(seen).toBe('req-77');
    expect(heldRequestContexts()).toBe(0);
    const fail: CallHandler = { handle: () => throwError(() => new DomainError('NOT_FOUND', 'no such offer')) };
    await expect(lastValueFrom(interceptor.intercept(rpcContext('/trackly.test.v1.TestService/Get'), fail))).rejects.toThrow('no such offer');
    expect(heldRequestContexts()).toBe(0);
    const text = await renderMetrics();
    expect(text).toMatch(/^grpc_server_handled_total\{grpc_service="trackly.test.v1.TestService",grpc_method="Get",grpc_code="OK"\} 1$/m);
    expect(text).toMatch(/^grpc_server_handled_total\{grpc_service="trackly.test.v1.TestService",grpc_method="Get",grpc_code="NOT_FOUND"\} 1$/m);
  });

  it('releases the call\'s context when the handler throws before it returns an observable', async () => {
    const broken: CallHandler = {
      handle: () => {
        throw new Error('no handler');
      },
    };
    await expect(lastValueFrom(interceptor.intercept(rpcContext('/trackly.test.v1.TestService/Get'), broken))).rejects.toThrow('no handler');
    expect(heldRequestContexts()).toBe(0);
  });

  it('leaves HTTP requests to the HTTP middleware', async () => {
    const ctx = { getType: () => 'http' } as unknown as ExecutionContext;
    expect(await lastValueFrom(interceptor.intercept(ctx, { handle: () => of(5) }))).toBe(5);
  });

  it('names the code the exception filter will send', () => {
    expect(grpcCodeName(new DomainError('FAILED_PRECONDITION', 'x'))).toBe('FAILED_PRECONDITION');
    expect(grpcCodeName({ code: 14, message: 'down' })).toBe('UNAVAILABLE');
    expect(grpcCodeName(new Error('boom'))).toBe('INTERNAL');
  });
});
