import * as grpc from '@grpc/grpc-js';
import type { RedriveResponse } from '@trackly/contracts/ops/v1/redrive_service';
import { fakeRedriveServerForSpecs } from '@trackly/testing';
import { REDRIVE_ATTEMPTS, REDRIVE_RETRY_MS, redriveRetrying } from '../src/rebuild';

/**
 * The ops tool's re-drive (`npm run redrive`, and each re-drive of `npm run rebuild`) against a real gRPC server that
 * is UNAVAILABLE for its first calls: it calls again after REDRIVE_RETRY_MS, telling the operator each time, and
 * returns the run that got through; any other failure ends it at once.
 */
describe('redriveRetrying (real gRPC server)', () => {
  jest.setTimeout(30_000);
  const fake = fakeRedriveServerForSpecs();
  const req = { fromTime: new Date('2026-12-01T00:00:00Z'), toTime: new Date('2026-12-02T00:00:00Z'), eventTypes: [], dryRun: false };

  it('calls again while the service is UNAVAILABLE, printing each retry, and returns the run that got through', async () => {
    fake.server().failures.push(grpc.status.UNAVAILABLE, grpc.status.UNAVAILABLE);
    const lines: string[] = [];
    const progress: RedriveResponse[] = [];
    const started = Date.now();
    const last = await redriveRetrying(fake.client(), req, (r) => progress.push(r), (line) => lines.push(line));
    expect(fake.server().calls()).toBe(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2 * REDRIVE_RETRY_MS - 50);
    expect(lines).toEqual([1, 2].map((call) =>
      `${fake.client().address} Redrive: UNAVAILABLE: JetStream is not answering (call ${call}); retry shortly; again in ${REDRIVE_RETRY_MS / 1000} s (attempt ${call + 1} of ${REDRIVE_ATTEMPTS})`,
    ));
    expect(last).toMatchObject({ done: true, counts: [{ eventType: 'trackly.ingest.v1.ConversionReceived', matched: '2', published: '2' }] });
    expect(progress).toHaveLength(2);
  });

  it('ends at once on any other failure, with its status', async () => {
    fake.server().failures.push(grpc.status.INVALID_ARGUMENT);
    const lines: string[] = [];
    await expect(redriveRetrying(fake.client(), req, () => undefined, (line) => lines.push(line))).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    expect(fake.server().calls()).toBe(1);
    expect(lines).toEqual([]);
  });
});
