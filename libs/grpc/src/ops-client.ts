/**
 * The operators' client of trackly.ops.v1.RedriveService: a re-drive with its streamed progress, and the per-day
 * counts of each service for the drift check. Used by `npm run redrive`, `npm run drift` and the fault suite.
 */
import * as grpc from '@grpc/grpc-js';
import {
  GetDailyCountsResponse,
  RedriveRequest,
  RedriveResponse,
  RedriveServiceService,
} from '@trackly/contracts/ops/v1/redrive_service';
import { authMetadata, channelCredentials, DEVELOPMENT_GRPC_SECURITY, type GrpcSecurityConfig } from './security';

type RawClient = grpc.Client & {
  redrive(req: RedriveRequest, md: grpc.Metadata): grpc.ClientReadableStream<RedriveResponse>;
  getDailyCounts(req: { fromDate: string; toDate: string }, md: grpc.Metadata, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: GetDailyCountsResponse) => void): void;
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

  /** Runs a re-drive (or a dry run) to its end; `onProgress` sees every streamed message. Returns the last one. */
  redrive(req: RedriveRequest, onProgress: (r: RedriveResponse) => void = () => undefined): Promise<RedriveResponse> {
    return new Promise((resolve, reject) => {
      let last: RedriveResponse | undefined;
      const call = this.client.redrive(req, metadata(this.security));
      call.on('data', (r: RedriveResponse) => {
        last = r;
        onProgress(r);
      });
      call.on('error', (e: grpc.ServiceError) => reject(new Error(`${this.address} Redrive: ${grpc.status[e.code]}: ${e.details}`)));
      call.on('end', () => (last?.done ? resolve(last) : reject(new Error(`${this.address} Redrive: the stream ended before done`))));
    });
  }

  dailyCounts(fromDate: string, toDate: string, deadlineMs = 60_000): Promise<GetDailyCountsResponse> {
    return new Promise((resolve, reject) => {
      this.client.getDailyCounts({ fromDate, toDate }, metadata(this.security), { deadline: Date.now() + deadlineMs }, (e, r) =>
        e ? reject(new Error(`${this.address} GetDailyCounts: ${grpc.status[e.code]}: ${e.details}`)) : resolve(r!),
      );
    });
  }

  close(): void {
    this.client.close();
  }
}
