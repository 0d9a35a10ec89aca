import * as grpc from '@grpc/grpc-js';
import type { RedriveResponse } from '@trackly/contracts/ops/v1/redrive_service';
import { GrpcCallError, retryWhileUnavailable } from '@trackly/grpc';
import { fakeRedriveServerForSpecs } from '@trackly/testing';

/** OpsClient against a real gRPC server whose re-drive fails with the statuses queued (fake-redrive-server.ts). */
describe('OpsClient and retryWhileUnavailable', () => {
  const fake = fakeRedriveServerForSpecs();

  const req = { fromTime: new Date('2026-12-01T00:00:00Z'), toTime: new Date('2026-12-02T00:00:00Z'), eventTypes: [], dryRun: false };

  it('rejects with the call status, in the message operators read', async () => {
    fake.server().failures.push(grpc.status.UNAVAILABLE);
    const e = await fake.client().redrive(req).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(GrpcCallError);
    expect((e as GrpcCallError).code).toBe(grpc.status.UNAVAILABLE);
    expect((e as GrpcCallError).message).toBe(`${fake.client().address} Redrive: UNAVAILABLE: JetStream is not answering (call 1); retry shortly`);
    await expect(fake.client().dailyCounts('2026-12-01', '2026-12-01')).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE, message: `${fake.client().address} GetDailyCounts: UNAVAILABLE: database not answering` });
  });

  it('runs a re-drive again while it is UNAVAILABLE, and returns the run that got through', async () => {
    fake.server().failures.push(grpc.status.UNAVAILABLE, grpc.status.UNAVAILABLE);
    const retried: number[] = [];
    const progress: RedriveResponse[] = [];
    const last = await retryWhileUnavailable(() => fake.client().redrive(req, (r) => progress.push(r)), { delayMs: 10, onRetry: (e, attempt) => retried.push(attempt + e.code * 100) });
    expect(fake.server().calls()).toBe(3);
    expect(retried).toEqual([1 + grpc.status.UNAVAILABLE * 100, 2 + grpc.status.UNAVAILABLE * 100]);
    expect(last.done).toBe(true);
    expect(last.counts[0].published).toBe('2');
    expect(progress).toHaveLength(2);
  });

  it('does not call again after any other failure', async () => {
    fake.server().failures.push(grpc.status.INVALID_ARGUMENT);
    const onRetry = jest.fn();
    await expect(retryWhileUnavailable(() => fake.client().redrive(req), { delayMs: 10, onRetry })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    expect(fake.server().calls()).toBe(1);
    expect(onRetry).not.toHaveBeenCalled();
  });

  it('gives up after its attempts, with the last failure', async () => {
    fake.server().failures.push(grpc.status.UNAVAILABLE, grpc.status.UNAVAILABLE, grpc.status.UNAVAILABLE);
    await expect(retryWhileUnavailable(() => fake.client().redrive(req), { attempts: 2, delayMs: 10 })).rejects.toThrow('(call 2); retry shortly');
    expect(fake.server().calls()).toBe(2);
  });
});
