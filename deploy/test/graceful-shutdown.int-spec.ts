/**
 * What Kubernetes does to a pod, done to the built tracking app (`node main.js`, a real child process, against the
 * local Postgres and NATS): SIGTERM while gRPC calls are in flight. The app must stop taking new work, finish the calls
 * it accepted, publish every event those calls committed (outbox flush), and exit 0. Also checks, on the same process,
 * that /metrics is served and that a request id given in gRPC metadata reaches the NATS message of the event.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { request } from 'node:http';
import * as path from 'node:path';
import { Metadata, status } from '@grpc/grpc-js';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Client } from 'pg';
import { createGrpcClient, GrpcCallError, PromiseClient } from '@trackly/grpc';
import { Events, Streams } from '@trackly/messaging';
import { createTestDatabase, deleteNatsPrefix, eventually, freePort, TestDatabase, testInfra, testNatsPrefix } from '@trackly/testing';
import { TrackingServiceService } from '@trackly/contracts/tracking/v1/tracking_service';
import { CampaignUpserted, ClickRecorded, ClicksRecorded } from '@trackly/contracts/tracking/v1/tracking_events';
import { trackingMigrations } from '../../apps/tracking/src/migrations';
import { migrateTracking } from '../../apps/tracking/src/tracking.app';
import { BUILD_LOCK, ROOT } from './deploy-helpers';

jest.setTimeout(120_000);

/** One click on its own connection: the status, or the socket error code (ECONNREFUSED once the app stopped listening). */
function click(url: string, requestId: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, headers: { 'user-agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) Safari/604.1', 'x-request-id': requestId } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
      res.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    req.end();
  });
}

describe('graceful shutdown of a built app (tracking)', () => {
  let db: TestDatabase;
  let prefix: string;
  let copy: string;
  let child: ChildProcess;
  let output = '';
  let exited: Promise<number | null>;
  let client: PromiseClient<typeof TrackingServiceService>;
  let httpBase: string;
  let trackedUrl: string;

  beforeAll(async () => {
    // The image's tree (nx build output), copied so a concurrent rebuild of dist/apps/tracking cannot pull it away.
    copy = path.join(ROOT, 'dist', `deploy-test-tracking-${process.pid}`);
    execFileSync('flock', [BUILD_LOCK, 'sh', '-c', `npx nx build tracking --output-style=static && rm -rf "${copy}" && cp -r dist/apps/tracking "${copy}"`], {
      cwd: ROOT,
      stdio: 'pipe',
      env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' },
      timeout: 300_000,
    });
    db = await createTestDatabase('tracking', trackingMigrations, (url) => migrateTracking(url).then(() => undefined));
    prefix = testNatsPrefix();
    const [grpcPort, httpPort] = [await freePort(), await freePort()];
    httpBase = `http://127.0.0.1:${httpPort}`;
    child = spawn(process.execPath, [path.join(copy, 'apps/tracking/src/main.js')], {
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: db.url,
        NATS_URL: testInfra().natsUrl,
        NATS_PREFIX: prefix,
        TRACKING_HOST: '127.0.0.1',
        TRACKING_GRPC_PORT: String(grpcPort),
        TRACKING_HTTP_PORT: String(httpPort),
        TRACKING_PUBLIC_URL: httpBase,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    await eventually(async () => (await fetch(`${httpBase}/readyz`).catch(() => undefined))?.ok, 30_000, 200).catch((e) => {
      throw new Error(`tracking did not become ready: ${(e as Error).message}\n${output}`);
    });
    client = createGrpcClient(TrackingServiceService, `127.0.0.1:${grpcPort}`, { deadlineMs: 15_000 });
  }, 300_000);

  afterAll(async () => {
    client?.close();
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await db?.drop();
    if (prefix) await deleteNatsPrefix(prefix);
    if (copy) fs.rmSync(copy, { recursive: true, force: true });
  });

  it('serves /metrics with per-RPC and per-route counters, outbox backlog and process metrics', async () => {
    const md = new Metadata();
    md.set('x-request-id', 'deploy-test-warmup');
    await client.upsertCampaign({ campaignId: 'warmup', name: 'Warm-up' }, { metadata: md });
    await client.upsertCreative({ creativeId: 'cr', name: 'Creative' });
    await client.upsertOffer({ offerId: 'of', name: 'Offer', destinationUrlTemplate: 'https://shop.example/?cid={click_id}', defaultPayout: { currencyCode: 'USD', amountMicros: '1000000' } });
    const { messages } = await client.registerMessages({
      messages: [{ messageId: 'm1', contactId: 'c1', phoneE164: '+15550001234', campaignId: 'warmup', creativeId: 'cr', offerId: 'of', sentAt: new Date() }],
    });
    trackedUrl = messages[0].trackedUrl;
    expect(await click(trackedUrl, 'warmup-click')).toBe(302);
    const res = await fetch(`${httpBase}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/^grpc_server_handled_total\{grpc_service="trackly.tracking.v1.TrackingService",grpc_method="UpsertCampaign",grpc_code="OK"\} 1$/m);
    expect(text).toMatch(/^http_server_requests_total\{service="tracking",method="GET",route="\/readyz",status="200"\} \d+$/m);
    expect(text).toMatch(/^http_server_requests_total\{service="tracking",method="GET",route="\/c\/:code",status="302"\} 1$/m);
    expect(text).toMatch(/^outbox_backlog_messages\{schema="tracking"\} \d+$/m);
    expect(text).toMatch(/^outbox_oldest_unpublished_age_seconds\{schema="tracking"\} [\d.e+-]+$/m);
    expect(text).toContain('process_resident_memory_bytes');
  });

  it('on SIGTERM finishes the calls it took, refuses new ones, publishes every committed event, exits 0', async () => {
    const N = 120;
    const CLICKS = 40;
    let done = 0;
    let signalled!: () => void;
    const signalSent = new Promise<void>((r) => (signalled = r));
    const call = (i: number) => {
      const md = new Metadata();
      md.set('x-request-id', `deploy-test-${i}`);
      return client.upsertCampaign({ campaignId: `c-${i}`, name: `Campaign ${i}` }, { metadata: md }).then(
        () => {
          if (++done === 20) signalled();
          return { i, ok: true as const };
        },
        (e: unknown) => ({ i, ok: false as const, e }),
      );
    };
    const inFlight = Array.from({ length: N }, (_, i) => call(i));
    const clicksInFlight = Array.from({ length: CLICKS }, (_, i) => click(trackedUrl, `click-${i}`));
    await signalSent;
    child.kill('SIGTERM');
    // New work keeps arriving while the app drains: it must be refused, not half-done.
    let exitedYet = false;
    void exited.then(() => (exitedYet = true));
    const late: ReturnType<typeof call>[] = [];
    const lateClicks: Promise<number | string>[] = [];
    for (let i = N; !exitedYet && i < N + 500; i++) {
      late.push(call(i));
      lateClicks.push(click(trackedUrl, `click-${i}`));
      await new Promise((r) => setTimeout(r, 10));
    }
    const results = await Promise.all([...inFlight, ...late]);
    const clickResults = await Promise.all([...clicksInFlight, ...lateClicks]);
    const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still running'), 30_000))]);
    expect([code, output.includes('tracking: SIGTERM, draining')]).toEqual([0, true]);

    const ok = results.filter((r) => r.ok).map((r) => r.i);
    const failed = results.filter((r) => !r.ok) as { i: number; e: unknown }[];
    // The calls in flight at the signal finish (a cancelled one would fail with CANCELLED); calls arriving during the
    // drain are refused as UNAVAILABLE, which a client retries elsewhere, and have no effect (checked below).
    expect(ok.filter((i) => i < N).length).toBeGreaterThanOrEqual(N / 2);
    expect(failed.filter((f) => f.i >= N).length).toBeGreaterThan(0);
    for (const f of failed) {
      expect(f.e).toBeInstanceOf(GrpcCallError);
      expect([f.i, status[(f.e as GrpcCallError).code]]).toEqual([f.i, 'UNAVAILABLE']);
    }
    // HTTP likewise: clicks sent before the signal are answered; later ones are answered, find the port closed, or
    // (accepted but not yet read when the listener closed) are reset without being handled — checked below.
    expect(clickResults.slice(0, CLICKS)).toEqual(Array(CLICKS).fill(302));
    for (const r of clickResults.slice(CLICKS)) expect([302, 'ECONNREFUSED', 'ECONNRESET']).toContain(r);
    const answeredClicks = clickResults.filter((r) => r === 302).length + 1; // + the warm-up click

    // Every committed event left through the outbox before the process exited.
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    try {
      const { rows } = await pg.query('SELECT count(*)::int AS n, count(*) FILTER (WHERE published_at IS NULL)::int AS unpublished FROM "tracking".outbox');
      expect(rows[0].unpublished).toBe(0);
      expect(rows[0].n).toBeGreaterThanOrEqual(ok.length + 1);
      // A refused call did nothing: no event was written for it.
      const refused = await pg.query(`SELECT count(*)::int AS n FROM "tracking".outbox WHERE headers->>'Trackly-Request-Id' = ANY($1)`, [
        failed.map((f) => `deploy-test-${f.i}`),
      ]);
      expect(refused.rows[0].n).toBe(0);
      // Every answered click, and no other, was stored, as the source of its event (the clicks table is relayed
      // itself), and the relay's cursor passed the last one before the process exited.
      const clicks = await pg.query(`SELECT count(*)::int AS n, count(*) FILTER (WHERE xid IS NOT NULL)::int AS sourced FROM "tracking".clicks`);
      expect(clicks.rows[0]).toEqual({ n: answeredClicks, sourced: answeredClicks });
      const behind = await pg.query(
        `SELECT count(*)::int AS n FROM "tracking".clicks AS t, "tracking".table_relay_cursors AS c WHERE c.relay = 'clicks' AND (t.xid, t.seq) > (c.xid, c.seq)`,
      );
      expect(behind.rows[0].n).toBe(0);
    } finally {
      await pg.end();
    }
    const nc = await connect({ servers: testInfra().natsUrl });
    try {
      const js = jetstream(nc);
      const consumer = await js.consumers.get(`${prefix.toUpperCase()}_${Streams.tracking.name}`, {
        filter_subjects: `${prefix}.${Events.CampaignUpserted.subject}`,
      });
      const seen = new Map<string, string | undefined>();
      await eventually(async () => {
        const batch = await consumer.fetch({ max_messages: N + 10, expires: 1000 });
        for await (const m of batch) seen.set(CampaignUpserted.decode(m.data).campaign!.campaignId, m.headers?.get('Trackly-Request-Id'));
        return ok.every((i) => seen.has(`c-${i}`)) || undefined;
      }, 15_000);
      // ... and published: group commit writes clicks of concurrent requests together, so they are counted, not named
      // (a click read alone is a ClickRecorded, clicks read together a ClicksRecorded run: the stream holds both).
      const clickConsumer = await js.consumers.get(`${prefix.toUpperCase()}_${Streams.trackingClicks.name}`);
      let published = 0;
      await eventually(async () => {
        const batch = await clickConsumer.fetch({ max_messages: 1000, expires: 1000 });
        for await (const m of batch) {
          if (m.subject === `${prefix}.${Events.ClickRecorded.subject}`) published += ClickRecorded.decode(m.data).click ? 1 : 0;
          else if (m.subject === `${prefix}.${Events.ClicksRecorded.subject}`) published += ClicksRecorded.decode(m.data).clicks.length;
        }
        return published >= answeredClicks || undefined;
      }, 15_000);
      expect(published).toBe(answeredClicks);
      // The caller's request id travelled gRPC metadata -> outbox row -> NATS header.
      for (const i of ok) expect(seen.get(`c-${i}`)).toBe(`deploy-test-${i}`);
      expect(seen.get('warmup')).toBe('deploy-test-warmup');
    } finally {
      await nc.close();
    }
  });
});
