import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { channelCredentials, DEVELOPMENT_GRPC_SECURITY, GrpcSecurityConfig } from '@trackly/grpc';

export interface Downstream {
  /** Short name shown in /readyz, e.g. "reporting". */
  name: string;
  /** host:port. */
  target: string;
  /** Fully-qualified gRPC service name whose health is asked, e.g. trackly.reporting.v1.ReportingService. */
  service: string;
}

const check = healthService.Check;

/**
 * grpc.health.v1 Check against each downstream, on channels of their own: asking for the named service (not "")
 * also catches a target that points at the wrong service.
 */
export class DownstreamHealth {
  private readonly clients: { downstream: Downstream; client: grpc.Client }[];

  constructor(downstreams: Downstream[], private readonly deadlineMs: number, security: GrpcSecurityConfig = DEVELOPMENT_GRPC_SECURITY) {
    this.clients = downstreams.map((downstream) => ({
      downstream,
      // Health needs no token, but under mTLS the channel itself must present our certificate.
      // A short reconnect backoff: readiness should notice a downstream that came back within seconds, not minutes.
      client: new grpc.Client(downstream.target, channelCredentials(security), {
        'grpc.initial_reconnect_backoff_ms': 200,
        'grpc.max_reconnect_backoff_ms': 5000,
      }),
    }));
  }

  /** Name -> "SERVING", the status reported, or the call's error ("UNAVAILABLE: ..."), all checked in parallel. */
  async checkAll(): Promise<Record<string, string>> {
    const results = await Promise.all(this.clients.map(async ({ downstream, client }) => [downstream.name, await this.check(client, downstream.service)] as const));
    return Object.fromEntries(results);
  }

  close(): void {
    for (const { client } of this.clients) client.close();
  }

  private check(client: grpc.Client, service: string): Promise<string> {
    return new Promise((resolve) => {
      client.makeUnaryRequest(
        check.path,
        check.requestSerialize,
        check.responseDeserialize,
        { service },
        new grpc.Metadata(),
        { deadline: new Date(Date.now() + this.deadlineMs) },
        (err: grpc.ServiceError | null, res?: { status?: unknown }) =>
          resolve(err ? `${grpc.status[err.code] ?? err.code}: ${err.details}` : String(res?.status ?? 'UNKNOWN')),
      );
    });
  }
}
