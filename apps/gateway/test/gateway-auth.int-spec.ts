import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, JetStreamClient } from '@nats-io/jetstream';
import { ConfigError } from '@trackly/config';
import { createGrpcClient, GrpcCallError, PromiseClient } from '@trackly/grpc';
import { RunningService } from '@trackly/app-shell';
import { EventType, Events } from '@trackly/messaging';
import { createTestDatabase, deleteNatsPrefix, eventually, freePort, TestDatabase, testInfra, testNatsPrefix } from '@trackly/testing';
import { Attribution, AttributionOutcome, AttributionType, UnattributedReason } from '@trackly/contracts/attribution/v1/attribution';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { ReportGrouping, ReportingServiceService } from '@trackly/contracts/reporting/v1/reporting_service';
import { reportingMigrations } from '../../reporting/src/migrations';
import { loadReportingConfig } from '../../reporting/src/reporting.config';
import { migrateReporting, startReporting } from '../../reporting/src/reporting.app';
import { loadGatewayConfig } from '../src/gateway.config';
import { startGateway } from '../src/gateway.app';
import { apiKeysJson } from './api-key-entries';

/**
 * The gateway in production mode against the real reporting service: gRPC between them authenticated with the
 * shared token, API keys only as digests in a mounted file, and a key restricted to one campaign.
 */
const GRPC_TOKEN = `grpc-token-${randomUUID()}`;
const ADMIN_KEY = `trk_admin_${randomUUID()}`;
const ACME_KEY = `trk_acme_${randomUUID()}`;
const at = (iso: string) => new Date(iso);

type Dims = { campaignId: string; creativeId: string; offerId: string };
const CAMP_A: Dims = { campaignId: 'camp-a', creativeId: 'cr-1', offerId: 'off-1' };
const CAMP_B: Dims = { campaignId: 'camp-b', creativeId: 'cr-2', offerId: 'off-1' };

function attributed(conversionId: string, messageId: string, clickId: string, d: Dims, amountMicros: string): Attribution {
  return {
    partnerId: 'p1', conversionId, conversionRef: randomUUID(), ruleVersion: 'first-click/1',
    test: false, source: 0, payoutDefaulted: false, overCap: false, holdUntil: undefined,
    outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED, reason: UnattributedReason.UNATTRIBUTED_REASON_UNSPECIFIED,
    type: AttributionType.ATTRIBUTION_TYPE_CLICK_THROUGH, reportedClickId: clickId, creditedClickId: clickId, messageId, contactId: `c-${messageId}`,
    ...d, payout: { currencyCode: 'USD', amountMicros }, status: ConversionStatus.CONVERSION_STATUS_APPROVED,
    occurredAt: at('2026-03-10T14:00:00Z'), creditedClickedAt: undefined, windowDays: 30, decidedAt: at('2026-03-10T14:00:00Z'), explanation: '',
  };
}

describe('gateway in production mode: token-authenticated gRPC to the real reporting, hashed and scoped API keys', () => {
  let db: TestDatabase;
  let prefix: string;
  let reporting: RunningService;
  let reportingUrl: string;
  let gateway: RunningService;
  let base: string;
  let dir: string;
  let keysFile: string;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let direct: PromiseClient<typeof ReportingServiceService>;

  const grpcEnv = { TRACKLY_ENV: 'production', GRPC_AUTH_MODE: 'token', GRPC_AUTH_TOKEN: GRPC_TOKEN };
  const gatewayEnv = (over: Record<string, string>, port = '0') => ({
    ...grpcEnv,
    GATEWAY_HOST: '127.0.0.1', GATEWAY_HTTP_PORT: port, REPORTING_GRPC_URL: reportingUrl,
    // Not called here: they only need to be well-formed targets.
    INGEST_GRPC_URL: '127.0.0.1:9', ATTRIBUTION_GRPC_URL: '127.0.0.1:9', TRACKING_GRPC_URL: '127.0.0.1:9',
    GATEWAY_DEADLINE_MS: '5000', LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    ...over,
  });

  async function publish<T>(type: EventType<T>, payload: T): Promise<void> {
    await js.publish(`${prefix}.${type.subject}`, type.codec.encode(payload).finish(), { msgID: randomUUID() });
  }

  const get = (p: string, key: string, at = base) => fetch(`${at}${p}`, { headers: { authorization: `Bearer ${key}` } });
  const performance = '/api/reports/performance?group_by=campaign&from=2026-03-10&to=2026-03-11';

  beforeAll(async () => {
    db = await createTestDatabase('reporting', reportingMigrations, (url) => migrateReporting(url).then(() => undefined));
    prefix = testNatsPrefix();
    const grpcPort = await freePort();
    reportingUrl = `127.0.0.1:${grpcPort}`;
    reporting = await startReporting(
      loadReportingConfig({
        ...grpcEnv,
        DATABASE_URL: db.url, NATS_URL: testInfra().natsUrl, NATS_PREFIX: prefix, REPORTING_HOST: '127.0.0.1',
        REPORTING_GRPC_PORT: String(grpcPort), LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
      }),
    );
    direct = createGrpcClient(ReportingServiceService, reportingUrl, { security: loadReportingConfig(grpcEnv) });

    nc = await connect({ servers: testInfra().natsUrl });
    js = jetstream(nc);
    for (const [campaignId, name] of [['camp-a', 'Acme spring'], ['camp-b', 'Other brand']]) {
      await publish(Events.CampaignUpserted, { campaign: { campaignId, name, updatedAt: at('2026-03-01T00:00:00Z') } });
    }
    for (const [messageId, d] of [['m-a', CAMP_A], ['m-b', CAMP_B]] as const) {
      await publish(Events.MessageSent, { messageId, contactId: `c-${messageId}`, phoneMasked: '+1***1234', ...d, sentAt: at('2026-03-10T12:00:00Z') });
      await publish(Events.ClickRecorded, {
        click: {
          clickId: `k-${messageId}`, messageId, contactId: `c-${messageId}`, ...d, clickedAt: at('2026-03-10T12:10:00Z'), firstClickOnMessage: true,
          userAgent: 'test', messageSentAt: undefined, clickClass: 1, classificationReason: '', classifierVersion: '',
        },
      });
    }
    await publish(Events.ConversionAttributed, { attribution: attributed('conv-a', 'm-a', 'k-m-a', CAMP_A, '24990000') });
    await publish(Events.ConversionAttributed, { attribution: attributed('conv-b', 'm-b', 'k-m-b', CAMP_B, '5000000') });
    await eventually(async () => {
      const r = await direct.getPerformanceReport({
        groupBy: ReportGrouping.REPORT_GROUPING_CAMPAIGN, fromDate: '2026-03-10', toDate: '2026-03-10', timeZone: '', thenBy: 0, dateBasis: 0, filter: undefined, includeTest: false, reportingCurrency: '',
      });
      return r.total?.sends === '2' && r.total.clicks === '2' && r.total.conversions === '2';
    }, 20_000);

    // The keys as a mounted Secret would hold them: names, digests and grants, no key.
    dir = mkdtempSync(path.join(tmpdir(), 'trackly-gateway-keys-'));
    keysFile = path.join(dir, 'api-keys.json');
    writeFileSync(
      keysFile,
      apiKeysJson([
        { name: 'admin', key: ADMIN_KEY },
        { name: 'acme-dash', key: ACME_KEY, scopes: ['reports:read'], campaigns: ['camp-a'] },
      ]),
    );
    const port = await freePort();
    gateway = await startGateway(loadGatewayConfig(gatewayEnv({ GATEWAY_API_KEYS_FILE: keysFile }, String(port))));
    base = `http://127.0.0.1:${port}`;
  }, 60_000);

  afterAll(async () => {
    await gateway?.close();
    direct?.close();
    await nc?.close();
    await reporting?.close();
    await db?.drop();
    await deleteNatsPrefix(prefix);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('holds only digests: no plaintext key in the loaded configuration, and plaintext keys are refused', () => {
    const config = loadGatewayConfig(gatewayEnv({ GATEWAY_API_KEYS_FILE: keysFile }));
    expect(config.GATEWAY_API_KEYS.map((k) => k.name)).toEqual(['admin', 'acme-dash']);
    const dump = JSON.stringify(config, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('hex') : v));
    for (const key of [ADMIN_KEY, ACME_KEY]) expect(dump).not.toContain(key);
    expect(() => loadGatewayConfig(gatewayEnv({ GATEWAY_API_KEYS: ADMIN_KEY }))).toThrow(/GATEWAY_API_KEYS: must be a JSON array.*plaintext keys are not accepted/);
  });

  it('refuses to start in production without API keys or without gRPC auth', () => {
    expect(() => loadGatewayConfig(gatewayEnv({}))).toThrow(/GATEWAY_API_KEYS: at least one key is required when TRACKLY_ENV=production/);
    expect(() => loadGatewayConfig(gatewayEnv({ GATEWAY_API_KEYS_FILE: keysFile, GRPC_AUTH_MODE: 'none' }))).toThrow(ConfigError);
    expect(() => loadGatewayConfig(gatewayEnv({ GATEWAY_API_KEYS_FILE: path.join(dir, 'missing.json') }))).toThrow(/GATEWAY_API_KEYS_FILE: cannot read/);
  });

  it('calls reporting with the shared token; reporting refuses calls without it', async () => {
    const res = await get(performance, ADMIN_KEY);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { rows: { key: string }[]; total: { sends: string } };
    expect(body.rows.map((r) => r.key)).toEqual(['camp-a', 'camp-b']);
    expect(body.total.sends).toBe('2');

    const anonymous = createGrpcClient(ReportingServiceService, reportingUrl);
    try {
      const e = await anonymous.getMessageReport({ messageId: 'm-a' }).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(GrpcCallError);
      expect((e as GrpcCallError).code).toBe(16); // UNAUTHENTICATED
    } finally {
      anonymous.close();
    }
  });

  it('a gateway with the wrong token gets nothing from reporting', async () => {
    const port = await freePort();
    const wrong = await startGateway(
      loadGatewayConfig(gatewayEnv({ GATEWAY_API_KEYS_FILE: keysFile, GRPC_AUTH_TOKEN: `${GRPC_TOKEN.slice(0, -1)}0x` }, String(port))),
    );
    try {
      const res = await get(performance, ADMIN_KEY, `http://127.0.0.1:${port}`);
      expect(res.status).toBe(502);
      expect(await res.json()).toEqual({ error: 'UNAUTHENTICATED', message: 'missing or invalid internal credentials' });
    } finally {
      await wrong.close();
    }
  });

  it('shows a campaign-restricted key only its campaign in the performance report, totals included', async () => {
    const res = await get(performance, ACME_KEY);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { rows: { key: string; name: string; sends: string; conversions: string }[]; total: Record<string, unknown> };
    expect(body.rows).toEqual([expect.objectContaining({ key: 'camp-a', name: 'Acme spring', sends: '1', conversions: '1' })]);
    expect(body.total).toMatchObject({ sends: '1', clicks: '1', conversions: '1' });
    expect(JSON.stringify(body)).not.toContain('camp-b');
    // By date alone too (the unfiltered path reads per-day totals that know no campaign).
    const byDate = (await (await get('/api/reports/performance?group_by=date&from=2026-03-10&to=2026-03-10', ACME_KEY)).json()) as {
      total: { sends: string; revenue: { revenue: { amountMicros: string } }[] };
    };
    expect(byDate.total.sends).toBe('1');
    expect(byDate.total.revenue[0].revenue.amountMicros).toBe('24990000');
  });

  it("lists a campaign-restricted key's contacts of its campaign only; another campaign or all campaigns is refused", async () => {
    const mine = await get('/api/contacts?campaign=camp-a', ACME_KEY);
    expect(mine.status).toBe(200);
    expect(((await mine.json()) as { contacts: { contactId: string }[] }).contacts.map((c) => c.contactId)).toEqual(['c-m-a']);
    expect([(await get('/api/contacts?campaign=camp-b', ACME_KEY)).status, (await get('/api/contacts', ACME_KEY)).status]).toEqual([403, 403]);
    const all = (await (await get('/api/contacts', ADMIN_KEY)).json()) as { contacts: { contactId: string; engagements: string }[] };
    expect(all.contacts.map((c) => [c.contactId, c.engagements])).toEqual([['c-m-a', '1'], ['c-m-b', '1']]);
  });

  it("answers a restricted key's request for another campaign's message as if it did not exist; conversions need their scope", async () => {
    expect((await get('/api/reports/messages/m-a', ACME_KEY)).status).toBe(200);
    const other = await get('/api/reports/messages/m-b', ACME_KEY);
    const unknown = await get('/api/reports/messages/m-none', ACME_KEY);
    expect([other.status, unknown.status]).toEqual([404, 404]);
    expect(await other.json()).toEqual({ error: 'NOT_FOUND', message: 'message "m-b" not found' });
    expect((await get('/api/reports/messages/m-b', ADMIN_KEY)).status).toBe(200);
    expect((await get('/api/conversions/p1/conv-a', ACME_KEY)).status).toBe(403);
  });
});
