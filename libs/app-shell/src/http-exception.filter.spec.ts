import { ArgumentsHost } from '@nestjs/common';
import { Client } from 'pg';
import { QueryFailedError } from 'typeorm';
import { DomainError } from '@trackly/kernel';
import { freePort } from '@trackly/testing';
import { HttpExceptionFilter } from './http-exception.filter';
import { isDatabaseUnavailable } from '@trackly/database';

/** A driver error as pg reports a server-side failure: an Error with the SQLSTATE in `code`. */
const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });

describe('isDatabaseUnavailable', () => {
  it('recognises a refused connection as pg reports it', async () => {
    // Nothing listens on a port just freed: a real ECONNREFUSED from the driver.
    const client = new Client({ host: '127.0.0.1', port: await freePort(), user: 'postgres', connectionTimeoutMillis: 2000 });
    const error = await client.connect().then(() => undefined, (e: unknown) => e);
    expect(error).toBeDefined();
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it.each([
    ['admin shutdown', pgError('57P01', 'terminating connection due to administrator command')],
    ['crash shutdown', pgError('57P02', 'terminating connection due to crash of another server process')],
    ['cannot connect now', pgError('57P03', 'the database system is starting up')],
    ['connection exception class 08', pgError('08006', 'connection failure')],
    ['reset socket', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })],
    ['pool connect timeout', new Error('timeout exceeded when trying to connect')],
    ['connection cut mid-query', new Error('Connection terminated unexpectedly')],
    ['wrapped by TypeORM', new QueryFailedError('SELECT 1', [], pgError('57P01', 'terminating connection due to administrator command'))],
    ['as a cause', new Error('could not record', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }) })],
  ])('%s -> unavailable', (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it.each([
    ['unique violation', new QueryFailedError('INSERT', [], pgError('23505', 'duplicate key value violates unique constraint'))],
    ['syntax error', pgError('42601', 'syntax error at or near "UNION"')],
    ['domain error', new DomainError('INVALID_ARGUMENT', 'bad payout')],
    ['plain error', new Error('boom')],
    ['not an error', 'Connection terminated'],
  ])('%s -> not unavailable', (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
  });
});

describe('HttpExceptionFilter', () => {
  function respond(exception: unknown) {
    const sent: { status?: number; body?: unknown; headers: Record<string, string> } = { headers: {} };
    const res = {
      setHeader: (k: string, v: string) => (sent.headers[k] = v),
      status(code: number) {
        sent.status = code;
        return this;
      },
      json: (body: unknown) => (sent.body = body),
    };
    const host = { getType: () => 'http', switchToHttp: () => ({ getResponse: () => res }) } as unknown as ArgumentsHost;
    new HttpExceptionFilter().catch(exception, host);
    return sent;
  }

  it('answers 503 with Retry-After when the database is unreachable', () => {
    const sent = respond(new QueryFailedError('SELECT 1', [], pgError('57P01', 'terminating connection due to administrator command')));
    expect(sent).toMatchObject({ status: 503, body: { error: 'UNAVAILABLE' }, headers: { 'Retry-After': '5' } });
  });

  it('keeps 500 for other failures, without Retry-After', () => {
    const sent = respond(new Error('boom'));
    expect(sent.status).toBe(500);
    expect(sent.headers).toEqual({});
  });
});

describe('GrpcExceptionFilter and an unreachable database', () => {
  it('answers UNAVAILABLE (retryable) instead of INTERNAL', async () => {
    const { GrpcExceptionFilter } = await import('@trackly/grpc');
    const { status } = await import('@grpc/grpc-js');
    const { firstValueFrom } = await import('rxjs');
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const err = await firstValueFrom(new GrpcExceptionFilter().catch(refused, {} as never)).catch((e: { code: number }) => e);
    expect(err).toMatchObject({ code: status.UNAVAILABLE });
    const other = await firstValueFrom(new GrpcExceptionFilter().catch(new Error('boom'), {} as never)).catch((e: { code: number }) => e);
    expect(other).toMatchObject({ code: status.INTERNAL });
  });
});

describe('the exception filter and NATS not answering', () => {
  /** A real broker error: a JetStream publish on a connection that is closed, as while nats-server restarts. */
  async function brokerError(): Promise<unknown> {
    const { Messaging } = await import('@trackly/messaging');
    const { testInfra, testNatsPrefix } = await import('@trackly/testing');
    const m = await Messaging.connect({ url: testInfra().natsUrl, prefix: testNatsPrefix(), name: 'filter-spec' });
    await m.nc.close();
    return m.js.publish('filter-spec.nothing', new Uint8Array()).then(() => undefined, (e: unknown) => e);
  }

  it('answers UNAVAILABLE over gRPC (the operator retries a re-drive), not INTERNAL', async () => {
    const { status } = await import('@grpc/grpc-js');
    const { firstValueFrom, isObservable } = await import('rxjs');
    const error = await brokerError();
    expect(error).toBeDefined();
    const host = { getType: () => 'rpc' } as unknown as ArgumentsHost;
    const answer = new HttpExceptionFilter().catch(error, host);
    expect(isObservable(answer)).toBe(true);
    const err = await firstValueFrom(answer as never).catch((e: { code: number; message: string }) => e);
    expect(err).toMatchObject({ code: status.UNAVAILABLE, message: expect.stringMatching(/NATS JetStream is not answering .*retry shortly/) });
  });

  it('answers 503 with Retry-After over HTTP', async () => {
    const { httpErrorAnswer } = await import('./http-exception.filter');
    expect(httpErrorAnswer(await brokerError())).toMatchObject({ status: 503, body: { error: 'UNAVAILABLE' }, retryAfter: '5' });
  });
});
