/**
 * The operators' client of trackly.ops.v1.RedriveService: a re-drive with its streamed progress, the per-day counts
 * of each service for the drift check, and the reset of a read model. Used by `npm run redrive`, `npm run drift`,
 * `npm run rebuild` and the fault suite.
 */
import * as grpc from '@grpc/grpc-js';
import {
  GetDailyCountsResponse,
  RedriveRequest,
  RedriveResponse,
  RedriveServiceService,
  ResetReadModelResponse,
} from '@trackly/contracts/ops/v1/redrive_service';
import { GrpcCallError } from './client';
import { authMetadata, channelCredentials, DEVELOPMENT_GRPC_SECURITY, type GrpcSecurityConfig } from './security';

type RawClient = grpc.Client & {
  redrive(req: RedriveRequest, md: grpc.Metadata): grpc.ClientReadableStream<RedriveResponse>;
  getDailyCounts(req: { fromDate: string; toDate: string }, md: grpc.Metadata, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: GetDailyCountsResponse) => void): void;
  resetReadModel(req: { dryRun: boolean }, md: grpc.Metadata, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: ResetReadModelResponse) => void): void;
};

const Ctor = grpc.makeGenericClientConstructor(RedriveServiceService, 'RedriveService') as unknown as new (
  address: string,
  creds: grpc.ChannelCredentials,
) => RawClient;

function metadata(security: GrpcSecurityConfig): grpc.Metadata {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(authMetadata(security))) md.set(k, v);
  return md;
}

export interface OpsClientOptions {
  security?: GrpcSecurityConfig;
}

export class OpsClient {
  private readonly client: RawClient;
  private readonly security: GrpcSecurityConfig;

  constructor(readonly address: string, opts: OpsClientOptions = {}) {
    this.security = opts.security ?? DEVELOPMENT_GRPC_SECURITY;
    this.client = new Ctor(address, channelCredentials(this.security));
  }

  /**
   * Runs a re-drive (or a dry run) to its end; `onProgress` sees every streamed message. Returns the last one. A
   * failure is a GrpcCallError with the call's status (retryWhileUnavailable in ./client runs it again).
   */
  redrive(req: RedriveRequest, onProgress: (r: RedriveResponse) => void = () => undefined): Promise<RedriveResponse> {
    return new Promise((resolve, reject) => {
      let last: RedriveResponse | undefined;
      const call = this.client.redrive(req, metadata(this.security));
      call.on('data', (r: RedriveResponse) => {
        last = r;
        onProgress(r);
      });
      call.on('error', (e: grpc.ServiceError) => reject(new GrpcCallError(e.code, e.details, `${this.address} Redrive`)));
      call.on('end', () => (last?.done ? resolve(last) : reject(new Error(`${this.address} Redrive: the stream ended before done`))));
    });
  }

  dailyCounts(fromDate: string, toDate: string, deadlineMs = 60_000): Promise<GetDailyCountsResponse> {
    return this.unary('GetDailyCounts', (md, opts, cb) => this.client.getDailyCounts({ fromDate, toDate }, md, opts, cb), deadlineMs);
  }

  /** Empties the service's read model (or counts what that would remove, dryRun). */
  resetReadModel(dryRun: boolean, deadlineMs = 300_000): Promise<ResetReadModelResponse> {
    return this.unary('ResetReadModel', (md, opts, cb) => this.client.resetReadModel({ dryRun }, md, opts, cb), deadlineMs);
  }

  private unary<T>(
    name: string,
    call: (md: grpc.Metadata, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: T) => void) => void,
    deadlineMs: number,
  ): Promise<T> {
    return new Promise((resolve, reject) => {
      call(metadata(this.security), { deadline: Date.now() + deadlineMs }, (e, r) =>
        e ? reject(new GrpcCallError(e.code, e.details, `${this.address} ${name}`)) : resolve(r!),
      );
    });
  }

  close(): void {
    this.client.close();
  }
}
