import * as grpc from '@grpc/grpc-js';
import { once } from 'node:events';
import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { authMetadata, channelCredentials, GrpcCallError, messageLimitOptions } from '@trackly/grpc';
import { outgoingContextHeaders } from '@trackly/observability';
import { ImportConversionsRequest, ImportConversionsResponse, INGEST_SERVICE_NAME, IngestServiceService } from '@trackly/contracts/ingest/v1/ingest_service';
import type { GatewayConfig } from '../gateway.config';
import { GATEWAY_CONFIG } from '../gateway.tokens';

/** Thrown when the upload is larger than GATEWAY_MAX_IMPORT_BYTES (answered 413 by the caller). */
export class ImportTooLargeError extends Error {}

/**
 * IngestService.ImportConversions (a client stream) for an HTTP upload: the request body is forwarded chunk by chunk
 * as ingest takes it (the call's backpressure), so the gateway never holds the whole file.
 */
@Injectable()
export class ImportStream implements OnApplicationShutdown {
  private readonly client: grpc.Client;
  private readonly method = IngestServiceService.importConversions;

  constructor(@Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig) {
    const Client = grpc.makeGenericClientConstructor(IngestServiceService as unknown as grpc.ServiceDefinition, INGEST_SERVICE_NAME);
    this.client = new Client(config.INGEST_GRPC_URL, channelCredentials(config), messageLimitOptions(config));
  }

  async send(partnerId: string, body: AsyncIterable<Buffer | string>): Promise<ImportConversionsResponse> {
    const metadata = new grpc.Metadata();
    for (const [k, v] of Object.entries(outgoingContextHeaders(false))) metadata.set(k, v);
    for (const [k, v] of Object.entries(authMetadata(this.config))) metadata.set(k, v);
    let call!: grpc.ClientWritableStream<ImportConversionsRequest>;
    const answer = new Promise<ImportConversionsResponse>((resolve, reject) => {
      call = this.client.makeClientStreamRequest(
        this.method.path,
        this.method.requestSerialize,
        this.method.responseDeserialize,
        metadata,
        { deadline: new Date(Date.now() + this.config.GATEWAY_OPERATION_DEADLINE_MS) },
        (err: grpc.ServiceError | null, res?: ImportConversionsResponse) =>
          err ? reject(new GrpcCallError(err.code, err.details, this.method.path)) : resolve(res!),
      );
    });
    // Ingest may answer early (a refused header): stop forwarding then and report its answer.
    let finished = false;
    answer.catch(() => undefined).finally(() => (finished = true));
    let sent = 0;
    try {
      for await (const chunk of body) {
        if (finished) break;
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        sent += bytes.length;
        if (sent > this.config.GATEWAY_MAX_IMPORT_BYTES) throw new ImportTooLargeError(`the file is larger than ${this.config.GATEWAY_MAX_IMPORT_BYTES} bytes`);
        if (!call.write({ partnerId, chunk: bytes })) await Promise.race([once(call, 'drain'), answer.catch(() => undefined)]);
      }
    } catch (e) {
      call.cancel();
      await answer.catch(() => undefined);
      throw e;
    }
    if (sent === 0 && !finished) call.write({ partnerId, chunk: Buffer.alloc(0) });
    call.end();
    return answer;
  }

  onApplicationShutdown(): void {
    this.client.close();
  }
}
