import * as grpc from '@grpc/grpc-js';
import { RedriveRequest, RedriveResponse, RedriveServiceService } from '@trackly/contracts/ops/v1/redrive_service';
import { DEVELOPMENT_GRPC_SECURITY, GrpcCallError, OpsClient, retryWhileUnavailable, serverCredentials } from '@trackly/grpc';

/**
 * OpsClient against a real gRPC server whose re-drive fails with the statuses queued in `failures` (one per call),
 * then streams its progress: what an operator's `npm run redrive` sees while a service's broker comes back.
 */
describe('OpsClient and retryWhileUnavailable', () => {
  let server: grpc.Server;
  let client: OpsClient;
  let calls = 0;
  const failures: grpc.status[] = [];

  beforeAll(async () => {
    server = new grpc.Server();
    server.addService(RedriveServiceService, {
      redrive: (call: grpc.ServerWritableStream<RedriveRequest, RedriveResponse>) => {
        calls++;
        const code = failures.shift();
        // A server stream fails by its 'error' event (grpc-js sends it as the call's status).
        if (code !== undefined) return void call.emit('error', { code, details: `JetStream is not answering (call ${calls}); retry shortly` });
        call.write({ counts: [{ eventType: 'trackly.ingest.v1.ConversionReceived', matched: '2', published: '1' }], done: false });
        call.write({ counts: [{ eventType: 'trackly.ingest.v1.ConversionReceived', matched: '2', published: '2' }], done: true });
        call.end();
      },
      getDailyCounts: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb({ code: grpc.status.UNAVAILABLE, details: 'database not answering' }),
      resetReadModel: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb({ code: grpc.status.UNIMPLEMENTED, details: 'not here' }),
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', serverCredentials(DEVELOPMENT_GRPC_SECURITY), (e, p) => (e ? reject(e) : resolve(p))),
    );
    client = new OpsClient(`127.0.0.1:${port}`);
  });

  afterAll(async () => {
    client.close();
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  });

  beforeEach(() => {
    calls = 0;
    failures.length = 0;
  });

  const req = { fromTime: new Date('2026-12-01T00:00:00Z'), toTime: new Date('2026-12-02T00:00:00Z'), eventTypes: [], dryRun: false };

  it('rejects with the call status, in the message operators read', async () => {
    failures.push(grpc.status.UNAVAILABLE);
    const e = await client.redrive(req).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(GrpcCallError);
    expect((e as GrpcCallError).code).toBe(grpc.status.UNAVAILABLE);
    expect((e as GrpcCallError).message).toBe(`${client.address} Redrive: UNAVAILABLE: JetStream is not answering (call 1); retry shortly`);
    await expect(client.dailyCounts('2026-12-01', '2026-12-01')).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE, message: `${client.address} GetDailyCounts: UNAVAILABLE: database not answering` });
  });

  it('runs a re-drive again while it is UNAVAILABLE, and returns the run that got through', async () => {
    failures.push(grpc.status.UNAVAILABLE, grpc.status.UNAVAILABLE);
    const retried: number[] = [];
    const progress: RedriveResponse[] = [];
    const last = await retryWhileUnavailable(() => client.redrive(req, (r) => progress.push(r)), { delayMs: 10, onRetry: (e, attempt) => retried.push(attempt + e.code * 100) });
    expect(calls).toBe(3);
    expect(retried).toEqual([1 + grpc.status.UNAVAILABLE * 100, 2 + grpc.status.UNAVAILABLE * 100]);
    expect(last.done).toBe(true);
    expect(last.counts[0].published).toBe('2');
    expect(progress).toHaveLength(2);
  });

  it('does not call again after any other failure', async () => {
    failures.push(grpc.status.INVALID_ARGUMENT);
    const onRetry = jest.fn();
    await expect(retryWhileUnavailable(() => client.redrive(req), { delayMs: 10, onRetry })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    expect(calls).toBe(1);
    expect(onRetry).not.toHaveBeenCalled();
  });

  it('gives up after its attempts, with the last failure', async () => {
    failures.push(grpc.status.UNAVAILABLE, grpc.status.UNAVAILABLE, grpc.status.UNAVAILABLE);
    await expect(retryWhileUnavailable(() => client.redrive(req), { attempts: 2, delayMs: 10 })).rejects.toThrow('(call 2); retry shortly');
    expect(calls).toBe(2);
  });
});
