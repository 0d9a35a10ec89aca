import * as grpc from '@grpc/grpc-js';
import type { RedriveResponse } from '@trackly/contracts/ops/v1/redrive_service';
import { OpsClient } from '@trackly/grpc';
import { FakeRedriveServer, startFakeRedriveServer } from '@trackly/testing';
import { REDRIVE_ATTEMPTS, REDRIVE_RETRY_MS, redriveRetrying } from '../src/rebuild';

/**
 * The ops tool's re-drive (`npm run redrive`, and each re-drive of `npm run rebuild`) against a real gRPC server that
 * is UNAVAILABLE for its first calls: it calls again after REDRIVE_RETRY_MS, telling the operator each time, and
 * returns the run that got through; any other failure ends it at once.
 */
describe('redriveRetrying (real gRPC server)', () => {
  jest.setTimeout(30_000);
  let server: FakeRedriveServer;
  let client: OpsClient;
  const req = { fromTime: new Date('2026-12-01T00:00:00Z'), toTime: new Date('2026-12-02T00:00:00Z'), eventTypes: [], dryRun: false };

  beforeAll(async () => {
    server = await startFakeRedriveServer();
    client = new OpsClient(server.address);
  });

  afterAll(async () => {
    client.close();
    await server.close();
  });

  beforeEach(() => server.reset());

  it('calls again while the service is UNAVAILABLE, printing each retry, and returns the run that got through', async () => {
    server.failures.push(grpc.status.UNAVAILABLE, grpc.status.UNAVAILABLE);
    const lines: string[] = [];
    const progress: RedriveResponse[] = [];
    const started = Date.now();
    const last = await redriveRetrying(client, req, (r) => progress.push(r), (line) => lines.push(line));
    expect(server.calls()).toBe(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2 * REDRIVE_RETRY_MS - 50);
    expect(lines).toEqual([1, 2].map((call) =>
      `${client.address} Redrive: UNAVAILABLE: JetStream is not answering (call ${call}); retry shortly; again in ${REDRIVE_RETRY_MS / 1000} s (attempt ${call + 1} of ${REDRIVE_ATTEMPTS})`,
    ));
    expect(last).toMatchObject({ done: true, counts: [{ eventType: 'trackly.ingest.v1.ConversionReceived', matched: '2', published: '2' }] });
    expect(progress).toHaveLength(2);
  });

  it('ends at once on any other failure, with its status', async () => {
    server.failures.push(grpc.status.INVALID_ARGUMENT);
    const lines: string[] = [];
    await expect(redriveRetrying(client, req, () => undefined, (line) => lines.push(line))).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    expect(server.calls()).toBe(1);
    expect(lines).toEqual([]);
  });
});
