import * as grpc from '@grpc/grpc-js';
import { RedriveRequest, RedriveResponse, RedriveServiceService } from '@trackly/contracts/ops/v1/redrive_service';
import { DEVELOPMENT_GRPC_SECURITY, OpsClient, serverCredentials } from '@trackly/grpc';

/**
 * A real gRPC server with a service's ops surface, whose re-drive fails with the statuses queued in `failures` (one per
 * call), then streams its progress: what an operator's `npm run redrive` sees while a service's broker comes back.
 * Its daily counts are UNAVAILABLE and its read-model reset UNIMPLEMENTED.
 */
export interface FakeRedriveServer {
  address: string;
  /** Statuses the next calls fail with, first first. */
  failures: grpc.status[];
  /** Re-drive calls so far. */
  calls(): number;
  reset(): void;
  close(): Promise<void>;
}

export async function startFakeRedriveServer(): Promise<FakeRedriveServer> {
  const server = new grpc.Server();
  const failures: grpc.status[] = [];
  let calls = 0;
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
  return {
    address: `127.0.0.1:${port}`,
    failures,
    calls: () => calls,
    reset: () => {
      calls = 0;
      failures.length = 0;
    },
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}

/**
 * A fake re-drive server and an OpsClient on it for the specs of a describe block: started before them, its
 * failures and call count reset before each, both closed after.
 */
export function fakeRedriveServerForSpecs(): { server: () => FakeRedriveServer; client: () => OpsClient } {
  let server: FakeRedriveServer | undefined;
  let client: OpsClient | undefined;
  beforeAll(async () => {
    server = await startFakeRedriveServer();
    client = new OpsClient(server.address);
  });
  afterAll(async () => {
    client?.close();
    await server?.close();
  });
  beforeEach(() => server?.reset());
  return { server: () => server!, client: () => client! };
}
