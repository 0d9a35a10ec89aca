import { Client } from 'pg';
import { createGrpcClient, PromiseClient } from '@trackly/grpc';
import { RunningService } from '@trackly/app-shell';
import type { Clock } from '@trackly/kernel';
import { createTestDatabase, deleteNatsPrefix, freePort, TestDatabase, testInfra, testNatsPrefix } from '@trackly/testing';
import { IngestServiceService, UpsertPartnerRequest } from '@trackly/contracts/ingest/v1/ingest_service';
import { PartnerKind } from '@trackly/contracts/ingest/v1/ingest';
import { ingestMigrations } from '../src/migrations';
import { loadIngestConfig } from '../src/ingest.config';
import { migrateIngest, startIngest } from '../src/ingest.app';

/** The ingest app as a spec drives it: its own database and NATS prefix, a gRPC client, a pg client, the HTTP base. */
export interface IngestTestApp {
  db: TestDatabase;
  app: RunningService;
  client: PromiseClient<typeof IngestServiceService>;
  pg: Client;
  /** The NATS subject/stream prefix of its own. */
  prefix: string;
  /** 127.0.0.1:<port> of the gRPC server. */
  grpc: string;
  /** http://127.0.0.1:<port> of the postback edge. */
  base: string;
  httpPort: number;
  close(): Promise<void>;
}

/**
 * Starts ingest on free ports with `env` on top of the test defaults (LOG_LEVEL from TEST_LOG_LEVEL, else warn), on
 * `clock` (the system clock when none is given).
 */
export async function startIngestForTest(env: Record<string, string>, clock?: Clock, appDatabaseUrl: (url: string) => string = (url) => url): Promise<IngestTestApp> {
  const db = await createTestDatabase('ingest', ingestMigrations, (url) => migrateIngest(url).then(() => undefined));
  const prefix = testNatsPrefix();
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const app = await startIngest(
    loadIngestConfig({
      DATABASE_URL: appDatabaseUrl(db.url),
      NATS_URL: testInfra().natsUrl,
      NATS_PREFIX: prefix,
      INGEST_HOST: '127.0.0.1',
      INGEST_GRPC_PORT: String(grpcPort),
      INGEST_HTTP_PORT: String(httpPort),
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
      ...env,
    }),
    { clock },
  );
  const grpc = `127.0.0.1:${grpcPort}`;
  const client = createGrpcClient(IngestServiceService, grpc);
  const pg = new Client({ connectionString: db.url });
  await pg.connect();
  return {
    db, app, client, pg, prefix, grpc, httpPort,
    base: `http://127.0.0.1:${httpPort}`,
    close: async () => {
      client.close();
      await app.close();
      await pg.end();
      await db.drop();
      await deleteNatsPrefix(prefix);
    },
  };
}

/** What the postback edge answers: a stored/duplicate receipt or an error body. */
export interface PostbackAnswer {
  status?: string;
  id?: string;
  conversion_id?: string;
  error?: string;
  message?: string;
  fields?: Record<string, string>;
}

/** A generic partner registration with `over` applied. */
export function partnerRequest(partnerId: string, over: Partial<UpsertPartnerRequest> = {}): UpsertPartnerRequest {
  return { partnerId, name: '', kind: PartnerKind.PARTNER_KIND_GENERIC, clickIdParam: '', defaultCurrency: '', allowedSources: [], ...over };
}


/** Registers the partners in order and returns each one's token by partner id. */
export async function registerPartners(
  client: PromiseClient<typeof IngestServiceService>,
  requests: UpsertPartnerRequest[],
): Promise<Record<string, string>> {
  const tokens: Record<string, string> = {};
  for (const r of requests) tokens[r.partnerId] = (await client.upsertPartner(r)).token;
  return tokens;
}
