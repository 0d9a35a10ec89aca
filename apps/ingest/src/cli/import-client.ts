import * as grpc from '@grpc/grpc-js';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { authMetadata, channelCredentials, DEVELOPMENT_GRPC_SECURITY, GrpcSecurityConfig, messageLimitOptions } from '@trackly/grpc';
import { ImportConversionsRequest, ImportConversionsResponse, INGEST_SERVICE_NAME, IngestServiceService } from '@trackly/contracts/ingest/v1/ingest_service';

/**
 * Streams a CSV file to IngestService.ImportConversions: the file is read in chunks and written as the server takes
 * them (the call's backpressure), so neither side holds the whole file. `onProgress` hears the bytes sent so far.
 */
export async function importCsv(
  address: string,
  partnerId: string,
  file: Readable,
  onProgress: (bytesSent: number) => void = () => undefined,
  deadlineMs = 3_600_000,
  security: GrpcSecurityConfig = DEVELOPMENT_GRPC_SECURITY,
): Promise<ImportConversionsResponse> {
  const Client = grpc.makeGenericClientConstructor(IngestServiceService as unknown as grpc.ServiceDefinition, INGEST_SERVICE_NAME);
  const client = new Client(address, channelCredentials(security), messageLimitOptions(security));
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(authMetadata(security))) metadata.set(k, v);
  const method = IngestServiceService.importConversions;
  try {
    let call!: grpc.ClientWritableStream<ImportConversionsRequest>;
    const answer = new Promise<ImportConversionsResponse>((resolve, reject) => {
      call = client.makeClientStreamRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        metadata,
        { deadline: new Date(Date.now() + deadlineMs) },
        (err: grpc.ServiceError | null, res?: ImportConversionsResponse) => (err ? reject(err) : resolve(res!)),
      );
    });
    // The answer may come early (a refused header): stop sending then, and report it.
    let finished = false;
    answer.catch(() => undefined).finally(() => (finished = true));
    let sent = 0;
    for await (const chunk of file) {
      if (finished) break;
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      if (!call.write({ partnerId, chunk: bytes })) await Promise.race([once(call, 'drain'), answer.catch(() => undefined)]);
      sent += bytes.length;
      onProgress(sent);
    }
    if (sent === 0 && !finished) call.write({ partnerId, chunk: Buffer.alloc(0) });
    call.end();
    return await answer;
  } finally {
    client.close();
  }
}
