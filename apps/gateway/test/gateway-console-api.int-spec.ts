import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { createHealth, serviceNameOf } from '@trackly/grpc';
import { RunningService } from '@trackly/app-shell';
import { freePort } from '@trackly/testing';
import { Attribution, AttributionOutcome } from '@trackly/contracts/attribution/v1/attribution';
import { AttributionServiceServer, AttributionServiceService, ReattributeRequest } from '@trackly/contracts/attribution/v1/attribution_service';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { AttributionState, Conversion, Partner, PartnerKind } from '@trackly/contracts/ingest/v1/ingest';
import {
  ImportConversionsRequest,
  ImportConversionsResponse,
  IngestServiceServer,
  IngestServiceService,
  ListConversionsRequest,
  ReplayPostbacksRequest,
  UpsertPartnerRequest,
  GetPartnerResponse,
  ListPartnersRequest,
} from '@trackly/contracts/ingest/v1/ingest_service';
import { ReportingServiceService } from '@trackly/contracts/reporting/v1/reporting_service';
import { Offer } from '@trackly/contracts/tracking/v1/tracking';
import { ListOffersRequest, TrackingServiceServer, TrackingServiceService, UpsertOfferRequest } from '@trackly/contracts/tracking/v1/tracking_service';
import { SCOPES, Scope } from '../src/domain/api-keys';
import { loadGatewayConfig } from '../src/gateway.config';
import { startGateway } from '../src/gateway.app';
import { apiKeysJson } from './api-key-entries';

/**
 * The routes the console needs (partners, conversions list, offers, operations, the key's own description), the
 * console's files served from the gateway's origin, the OpenAPI document against the registered routes, and the
 * error shapes of paths that are no route (404) and over-long URLs (414) — real HTTP, real gRPC to stub services.
 */
const ADMIN = 'admin-key-0123456789abcdef';
const CAMP = 'camp-key-0123456789abcdef';
const USD = (amountMicros: string) => ({ currencyCode: 'USD', amountMicros });
const fail = (code: grpc.status, details: string) => Object.assign(new Error(details), { code, details });
const keyOf = (scope: Scope) => `only-${scope.replace(':', '-')}-key-0123456789`;

async function serve(definition: grpc.ServiceDefinition, impl: grpc.UntypedServiceImplementation, name: string) {
  const server = new grpc.Server();
  server.addService(definition, impl);
  createHealth([name]).addToServer(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { target: `127.0.0.1:${port}`, stop: () => server.forceShutdown() };
}

const partner = (partnerId: string, over: Partial<Partner> = {}) =>
  Partner.fromPartial({
    partnerId, name: partnerId, kind: PartnerKind.PARTNER_KIND_TUNE, defaultCurrency: 'USD', allowedSources: [],
    tokenIssuedAt: new Date('2026-02-01T00:00:00Z'), createdAt: new Date('2026-02-01T00:00:00Z'), updatedAt: new Date('2026-02-01T00:00:00Z'), ...over,
  });
const conv = (conversionId: string, over: Partial<Conversion> = {}) =>
  Conversion.fromPartial({
    id: `id-${conversionId}`, partnerId: 'tune-1', conversionId, clickId: 'k', payout: USD('5000000'), status: ConversionStatus.CONVERSION_STATUS_APPROVED,
    occurredAt: new Date('2026-02-20T12:00:00Z'), receivedAt: new Date('2026-02-20T12:00:01Z'), attributionState: AttributionState.ATTRIBUTION_STATE_ATTRIBUTED, ...over,
  });

describe('gateway: the console API, its files, and the error shapes', () => {
  const partners = new Map<string, Partner>([['tune-1', partner('tune-1')]]);
  const upserts: UpsertPartnerRequest[] = [];
  const listRequests: ListPartnersRequest[] = [];
  const lists: ListConversionsRequest[] = [];
  const replays: ReplayPostbacksRequest[] = [];
  const reattributions: ReattributeRequest[] = [];
  const offers: UpsertOfferRequest[] = [];
  const offerPages: ListOffersRequest[] = [];
  const catalogOffer = (offerId: string): Offer => ({
    offerId, name: `Offer ${offerId}`, destinationUrlTemplate: `https://shop.example/${offerId}?c={click_id}`, defaultPayout: USD('24990000'),
    clickWindowDays: 30, minConversionSeconds: 0, viewThroughWindowDays: 0, updatedAt: new Date('2026-03-01T00:00:00Z'),
  } as Offer);
  const imported: string[] = [];
  const stubs: { stop(): void }[] = [];
  let gateway: RunningService;
  let base: string;
  let consoleDir: string;

  const ingest: Partial<IngestServiceServer> = {
    listPartners: (call, cb) => {
      listRequests.push(call.request);
      cb(null, { partners: [...partners.values()], nextPageToken: call.request.pageSize === 1 ? 'next-1' : '' });
    },
    getPartnerCounters: (call, cb) =>
      cb(null, {
        partners: [{ partnerId: 'tune-1', received: '12', stored: '9', duplicates: '1', adjusted: '0', reversed: '0', rejectedByReason: { BAD_TOKEN: '2' }, errors: '0' }]
          .filter((c) => !call.request.partnerId || c.partnerId === call.request.partnerId),
      }),
    getPartner: (call, cb) => {
      const p = partners.get(call.request.partnerId);
      return p ? cb(null, GetPartnerResponse.fromPartial({ partner: p })) : cb(fail(grpc.status.NOT_FOUND, `partner "${call.request.partnerId}" not found`));
    },
    upsertPartner: (call, cb) => {
      upserts.push(call.request);
      const created = !partners.has(call.request.partnerId);
      const p = partner(call.request.partnerId, { ...call.request, name: call.request.name || call.request.partnerId });
      partners.set(p.partnerId, p);
      cb(null, { partner: p, created, token: created ? 'tok-new-0123' : '' });
    },
    rotatePartnerToken: (call, cb) => {
      const p = partners.get(call.request.partnerId);
      return p ? cb(null, { partner: p, token: 'tok-rotated-4567' }) : cb(fail(grpc.status.NOT_FOUND, 'partner not found'));
    },
    getPostbackTemplate: (call, cb) => {
      if (!partners.has(call.request.partnerId)) return cb(fail(grpc.status.NOT_FOUND, 'partner not found'));
      const token = call.request.token || '{YOUR_TOKEN}';
      cb(null, { url: `http://in.example/postbacks/${call.request.partnerId}?token=${token}&click_id={aff_click_id}`, clickIdMacro: '{aff_click_id}', tokenIncluded: !!call.request.token });
    },
    listConversions: (call, cb) => {
      lists.push(call.request);
      // Two pages: the first with an approved and a rejected one, the second with another rejected one.
      const first = !call.request.pageToken;
      cb(null, {
        conversions: first
          ? [conv('a1'), conv('r1', { status: ConversionStatus.CONVERSION_STATUS_REJECTED, attributionState: AttributionState.ATTRIBUTION_STATE_UNATTRIBUTED, attributionReason: 'REJECTED' })]
          : [conv('r2', { status: ConversionStatus.CONVERSION_STATUS_REJECTED, attributionState: AttributionState.ATTRIBUTION_STATE_UNATTRIBUTED, attributionReason: 'REJECTED' })],
        nextPageToken: first ? 'p2' : '',
      });
    },
    replayPostbacks: (call, cb) => {
      replays.push(call.request);
      cb(null, {
        dryRun: call.request.dryRun, truncated: false, outcomeCounts: { stored: '1' },
        results: [{ requestId: 'req-1', originalOutcome: 'unauthorized', outcome: 'stored', reasonCode: '', reason: '', conversionId: 'tx-9' }],
      });
    },
    importConversions: (call: grpc.ServerReadableStream<ImportConversionsRequest, ImportConversionsResponse>, cb: grpc.sendUnaryData<ImportConversionsResponse>) => {
      const chunks: Buffer[] = [];
      call.on('data', (m: ImportConversionsRequest) => chunks.push(Buffer.from(m.chunk)));
      call.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        imported.push(text);
        const rows = text.trim().split('\n').slice(1);
        const bad = rows.map((r, i) => ({ r, line: i + 2 })).filter(({ r }) => r.includes('oops'));
        cb(null, { rows: String(rows.length), stored: String(rows.length - bad.length), duplicates: '0', adjusted: '0', rejected: String(bad.length), errors: bad.map((b) => ({ line: String(b.line), message: 'payout must be a decimal number' })) });
      });
    },
  };
  const attribution: Partial<AttributionServiceServer> = {
    reattribute: (call, cb) => {
      reattributions.push(call.request);
      cb(null, {
        runId: 'run-1', dryRun: call.request.dryRun, examined: 2, changed: 1, ruleVersion: 'first-click/2',
        byOffer: [{ key: 'summer', approvedBefore: USD('24990000'), approvedAfter: USD('0'), pendingBefore: USD('0'), pendingAfter: USD('0') }],
        byMessage: [],
        changes: [{ previous: Attribution.fromPartial({ outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED }), current: Attribution.fromPartial({ outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_UNATTRIBUTED }) }],
      });
    },
  };
  const tracking: Partial<TrackingServiceServer> = {
    upsertOffer: (call, cb) => {
      offers.push(call.request);
      const { offerId, name, destinationUrlTemplate, defaultPayout, clickWindowDays, minConversionSeconds, viewThroughWindowDays } = call.request;
      cb(null, { created: offers.length === 1, offer: { offerId, name, destinationUrlTemplate, defaultPayout, clickWindowDays, minConversionSeconds, viewThroughWindowDays, updatedAt: new Date('2026-03-01T00:00:00Z') } });
    },
    listOffers: (call, cb) => {
      offerPages.push(call.request);
      cb(null, { offers: [catalogOffer('spring'), catalogOffer('summer')], nextPageToken: 'next-1' });
    },
    getOffer: (call, cb) => {
      if (call.request.offerId !== 'summer' && call.request.offerId !== 'spring') return cb({ code: grpc.status.NOT_FOUND, details: `offer ${call.request.offerId} not found` } as grpc.ServiceError);
      cb(null, { offer: catalogOffer(call.request.offerId) });
    },
  };

  beforeAll(async () => {
    const [i, a, t, r] = [
      await serve(IngestServiceService, ingest as grpc.UntypedServiceImplementation, serviceNameOf(IngestServiceService)),
      await serve(AttributionServiceService, attribution as grpc.UntypedServiceImplementation, serviceNameOf(AttributionServiceService)),
      await serve(TrackingServiceService, tracking as grpc.UntypedServiceImplementation, serviceNameOf(TrackingServiceService)),
      await serve(ReportingServiceService, {}, serviceNameOf(ReportingServiceService)),
    ];
    stubs.push(i, a, t, r);
    // A console build as the gateway finds it: the page, a hashed script, the icon.
    consoleDir = mkdtempSync(path.join(tmpdir(), 'trackly-console-'));
    mkdirSync(path.join(consoleDir, 'assets'));
    writeFileSync(path.join(consoleDir, 'index.html'), '<!doctype html><title>Trackly</title><script type="module" src="/assets/index-abc123.js"></script>');
    writeFileSync(path.join(consoleDir, 'assets', 'index-abc123.js'), `console.log(${JSON.stringify('x'.repeat(4000))});`);
    writeFileSync(path.join(consoleDir, 'assets', 'index-abc123.js.map'), '{}');
    writeFileSync(path.join(consoleDir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    const port = await freePort();
    gateway = await startGateway(
      loadGatewayConfig({
        GATEWAY_HOST: '127.0.0.1', GATEWAY_HTTP_PORT: String(port), REPORTING_GRPC_URL: r.target, INGEST_GRPC_URL: i.target, ATTRIBUTION_GRPC_URL: a.target,
        TRACKING_GRPC_URL: t.target, GATEWAY_CONSOLE_DIR: consoleDir, GATEWAY_MAX_IMPORT_BYTES: '2048', LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
        GATEWAY_API_KEYS: apiKeysJson([
          { name: 'admin', key: ADMIN },
          { name: 'camp', key: CAMP, scopes: ['reports:read', 'conversions:read'], campaigns: ['camp-1'] },
          ...SCOPES.map((s) => ({ name: `only-${s.replace(':', '-')}`, key: keyOf(s), scopes: [s] })),
        ]),
      }),
    );
    base = `http://127.0.0.1:${port}`;
  }, 60_000);

  afterAll(async () => {
    await gateway?.close();
    for (const s of stubs) s.stop();
    if (consoleDir) rmSync(consoleDir, { recursive: true, force: true });
  });

  const call = (method: string, p: string, body?: unknown, key = ADMIN, headers: Record<string, string> = {}) =>
    fetch(`${base}${p}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined && typeof body !== 'string' ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
  const json = async (res: Response) => (await res.json()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

  describe('the key', () => {
    it('describes what it may do', async () => {
      expect(await json(await call('GET', '/api/me'))).toEqual({ name: 'admin', open: false, scopes: [...SCOPES], campaigns: [], offers: [] });
      expect(await json(await call('GET', '/api/me', undefined, CAMP))).toEqual({ name: 'camp', open: false, scopes: ['reports:read', 'conversions:read'], campaigns: ['camp-1'], offers: [] });
      expect((await fetch(`${base}/api/me`)).status).toBe(401);
    });
  });

  describe('partners', () => {
    it('lists partners with their counters and never a token', async () => {
      const body = await json(await call('GET', '/api/partners'));
      expect(body.partners).toEqual([
        expect.objectContaining({ partnerId: 'tune-1', kind: 'PARTNER_KIND_TUNE', counters: expect.objectContaining({ received: '12', stored: '9', rejectedByReason: { BAD_TOKEN: '2' } }) }),
      ]);
      expect(JSON.stringify(body)).not.toMatch(/tok-/);
      expect(body.next_page_token).toBe('');
      const paged = await json(await call('GET', '/api/partners?page_size=1&page_token=abc'));
      expect(paged.next_page_token).toBe('next-1');
      expect(listRequests.at(-1)).toMatchObject({ pageSize: 1, pageToken: 'abc' });
      expect((await call('GET', '/api/partners?page_size=0')).status).toBe(400);
    });

    it('registers a partner: its token once, its postback URL with the token; 409 for a taken id; 400 per field', async () => {
      const res = await call('POST', '/api/partners', { partner_id: 'ef-1', name: 'Everflow One', kind: 'everflow', allowed_sources: ['192.0.2.0/24'] });
      expect(res.status).toBe(201);
      const body = await json(res);
      expect(body).toMatchObject({ token: 'tok-new-0123', partner: { partnerId: 'ef-1', kind: 'PARTNER_KIND_EVERFLOW', allowedSources: ['192.0.2.0/24'] } });
      expect(body.template).toMatchObject({ url: expect.stringContaining('token=tok-new-0123'), tokenIncluded: true });
      expect(upserts.at(-1)).toMatchObject({ partnerId: 'ef-1', kind: PartnerKind.PARTNER_KIND_EVERFLOW, allowedSources: ['192.0.2.0/24'] });
      const taken = await call('POST', '/api/partners', { partner_id: 'ef-1', kind: 'tune' });
      expect(taken.status).toBe(409);
      expect(await json(taken)).toEqual({ error: 'ALREADY_EXISTS', message: expect.stringContaining('already exists') });
      const bad = await call('POST', '/api/partners', { partner_id: 'has space', kind: 'cake', default_currency: 'usd', allowed_sources: 'x', colour: 1 });
      expect(bad.status).toBe(400);
      expect(Object.keys((await json(bad)).fields).sort()).toEqual(['allowed_sources', 'colour', 'default_currency', 'kind', 'partner_id']);
    });

    it('shows one partner with its counters and URL (placeholder token), updates its allow-list, rotates its token', async () => {
      const one = await json(await call('GET', '/api/partners/tune-1'));
      expect(one).toMatchObject({ partner: { partnerId: 'tune-1' }, counters: { received: '12' }, template: { tokenIncluded: false, url: expect.stringContaining('{YOUR_TOKEN}') } });
      const updated = await call('PUT', '/api/partners/tune-1', { kind: 'tune', allowed_sources: ['198.51.100.7'] });
      expect(updated.status).toBe(200);
      expect((await json(updated)).partner.allowedSources).toEqual(['198.51.100.7']);
      expect((await call('PUT', '/api/partners/nobody', { kind: 'tune' })).status).toBe(404);
      const rotated = await call('POST', '/api/partners/tune-1/rotate-token');
      expect(rotated.status).toBe(200);
      expect(await json(rotated)).toMatchObject({ token: 'tok-rotated-4567', template: { url: expect.stringContaining('token=tok-rotated-4567') } });
      expect((await call('GET', '/api/partners/nobody')).status).toBe(404);
    });
  });

  describe('conversions', () => {
    it('lists by partner and outcome through ingest, and by status and reason here, reading further pages to fill one', async () => {
      const all = await json(await call('GET', '/api/conversions?partner=tune-1&outcome=attributed&page_size=2'));
      expect(lists.at(-1)).toEqual({ partnerId: 'tune-1', clickId: '', attributionState: AttributionState.ATTRIBUTION_STATE_ATTRIBUTED, pageSize: 2, pageToken: '' });
      expect(all.conversions.map((c: Conversion) => c.conversionId)).toEqual(['a1', 'r1']);
      expect(all.nextPageToken).toBe('p2');
      lists.length = 0;
      const rejected = await json(await call('GET', '/api/conversions?status=rejected&reason=REJECTED&page_size=2'));
      expect(rejected.conversions.map((c: Conversion) => c.conversionId)).toEqual(['r1', 'r2']);
      expect(lists.map((l) => [l.attributionState, l.pageToken])).toEqual([[AttributionState.ATTRIBUTION_STATE_UNATTRIBUTED, ''], [AttributionState.ATTRIBUTION_STATE_UNATTRIBUTED, 'p2']]);
      const bad = await call('GET', '/api/conversions?outcome=maybe&status=won&reason=NOPE&page_size=0&sort=x');
      expect(bad.status).toBe(400);
      expect(Object.keys((await json(bad)).fields)).toEqual(['sort']);
      expect(Object.keys((await json(await call('GET', '/api/conversions?outcome=maybe&status=won&reason=NOPE&page_size=0'))).fields)).toEqual(['outcome', 'status', 'reason', 'page_size']);
      expect((await call('GET', '/api/conversions', undefined, CAMP)).status).toBe(403);
    });
  });

  describe('offers', () => {
    it('writes an offer with all its terms and strict money', async () => {
      const res = await call('PUT', '/api/offers/summer', {
        name: 'Summer Clearance', destination_url_template: 'https://shop.example/?c={click_id}', default_payout: '24.99', currency: 'usd', click_window_days: 30, min_conversion_seconds: 10,
      });
      expect(res.status).toBe(200);
      expect(offers.at(-1)).toEqual({
        offerId: 'summer', name: 'Summer Clearance', destinationUrlTemplate: 'https://shop.example/?c={click_id}', defaultPayout: USD('24990000'),
        clickWindowDays: 30, minConversionSeconds: 10, viewThroughWindowDays: undefined,
      });
      expect((await json(res)).offer).toMatchObject({ offerId: 'summer', clickWindowDays: 30, defaultPayout: { amount: '24.99' } });
      const bad = await call('PUT', '/api/offers/summer', { name: 'x', destination_url_template: 'https://x/{click_id}', default_payout: '1e3', currency: 'dollars', click_window_days: 400 });
      expect(bad.status).toBe(400);
      expect(Object.keys((await json(bad)).fields).sort()).toEqual(['click_window_days', 'currency', 'default_payout']);
    });

    it('lists and reads offers from tracking, paged, with strict parameters and 404 for unknown ids', async () => {
      const list = await call('GET', '/api/offers?page_size=2&page_token=abc');
      expect(list.status).toBe(200);
      const body = await json(list);
      expect(body.nextPageToken).toBe('next-1');
      expect(body.offers.map((o: { offerId: string }) => o.offerId)).toEqual(['spring', 'summer']);
      expect(body.offers[1]).toMatchObject({ clickWindowDays: 30, defaultPayout: { currencyCode: 'USD', amount: '24.99' } });
      expect(offerPages.at(-1)).toEqual({ pageSize: 2, pageToken: 'abc' });
      expect((await call('GET', '/api/offers?page_size=0')).status).toBe(400);
      expect(Object.keys((await json(await call('GET', '/api/offers?sort=name'))).fields)).toEqual(['sort']);
      const one = await call('GET', '/api/offers/summer');
      expect(one.status).toBe(200);
      expect((await json(one)).offer).toMatchObject({ offerId: 'summer', name: 'Offer summer' });
      const missing = await call('GET', '/api/offers/autumn');
      expect(missing.status).toBe(404);
      expect((await json(missing)).error).toBe('NOT_FOUND');
    });
  });

  describe('operations', () => {
    it('streams a CSV upload to ingest and answers the counts with the refused rows', async () => {
      const csv = 'click_id,conversion_id,payout,currency,status,occurred_at\nk1,c1,5.00,USD,approved,2026-02-20T12:00:00Z\nk2,c2,oops,USD,approved,2026-02-20T12:00:00Z\n';
      const res = await call('POST', '/api/operations/import?partner=tune-1', csv, ADMIN, { 'content-type': 'text/csv' });
      expect(res.status).toBe(200);
      expect(await json(res)).toEqual({ rows: '2', stored: '1', rejected: '1', errors: [{ line: '3', message: 'payout must be a decimal number' }] });
      expect(imported.at(-1)).toBe(csv);
      expect((await call('POST', '/api/operations/import', csv, ADMIN, { 'content-type': 'text/csv' })).status).toBe(400);
      expect((await call('POST', '/api/operations/import?partner=tune-1', { a: 1 })).status).toBe(415);
      const big = await call('POST', '/api/operations/import?partner=tune-1', csv.repeat(40), ADMIN, { 'content-type': 'text/csv' });
      expect(big.status).toBe(413);
      expect((await json(big)).error).toBe('PAYLOAD_TOO_LARGE');
    });

    it('replays and re-attributes as a dry run unless told otherwise', async () => {
      const replay = await call('POST', '/api/operations/replay', { partner: 'tune-1', from: '2026-02-01T00:00:00Z', to: '2026-03-01T00:00:00Z' });
      expect(replay.status).toBe(200);
      expect(await json(replay)).toMatchObject({ dryRun: true, outcomeCounts: { stored: '1' }, results: [{ requestId: 'req-1', outcome: 'stored' }] });
      expect(replays.at(-1)).toMatchObject({ partnerId: 'tune-1', dryRun: true, receivedFrom: new Date('2026-02-01T00:00:00Z'), outcomes: [], limit: 0 });
      await call('POST', '/api/operations/replay', { partner: 'tune-1', from: '2026-02-01T00:00:00Z', to: '2026-03-01T00:00:00Z', dry_run: false, outcomes: ['unauthorized'] });
      expect(replays.at(-1)).toMatchObject({ dryRun: false, outcomes: ['unauthorized'] });
      const badReplay = await call('POST', '/api/operations/replay', { partner: 'tune-1', from: '2026-03-01', to: '2026-02-01T00:00:00Z', outcomes: ['won'] });
      expect(Object.keys((await json(badReplay)).fields).sort()).toEqual(['from', 'outcomes']);

      const re = await call('POST', '/api/operations/reattribute', { offer: 'summer' });
      expect(re.status).toBe(200);
      expect(await json(re)).toMatchObject({ dryRun: true, changed: 1, byOffer: [{ key: 'summer', approvedBefore: { amount: '24.99' }, approvedAfter: { amount: '0.00' } }] });
      expect(reattributions.at(-1)).toMatchObject({ offerId: 'summer', dryRun: true });
      expect((await json(await call('POST', '/api/operations/reattribute', {}))).fields).toEqual({ offer: 'an offer, or a time range (from and to), is required' });
    });
  });

  describe('the console from the same origin', () => {
    it('serves the page (strict CSP), its hashed files (cached, gzip when accepted) and icon, and its own addresses as the page', async () => {
      const page = await fetch(`${base}/`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'self'; style-src 'self'/);
      expect(page.headers.get('cache-control')).toBe('no-cache');
      const script = await fetch(`${base}/assets/index-abc123.js`);
      expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
      expect(script.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(await script.text()).toContain('xxxx');
      // fetch() asks for gzip and inflates it; the raw answer is smaller than the file.
      const raw = await new Promise<{ encoding?: string; bytes: Buffer }>((resolve, reject) => {
        require('node:http').get(`${base}/assets/index-abc123.js`, { headers: { 'accept-encoding': 'gzip' } }, (res: import('node:http').IncomingMessage) => {
          const parts: Buffer[] = [];
          res.on('data', (b: Buffer) => parts.push(b)).on('end', () => resolve({ encoding: res.headers['content-encoding'], bytes: Buffer.concat(parts) })).on('error', reject);
        });
      });
      expect(raw.encoding).toBe('gzip');
      expect(raw.bytes.length).toBeLessThan(200);
      expect(gunzipSync(raw.bytes).toString()).toContain('xxxx');
      expect((await fetch(`${base}/favicon.svg`)).headers.get('content-type')).toBe('image/svg+xml');
      for (const p of ['/assets/index-abc123.js.map', '/assets/..%2Findex.html', '/assets/nope.js']) expect([p, (await fetch(`${base}${p}`)).status]).toEqual([p, 404]);
      const deep = await fetch(`${base}/conversions/tune-1/tx-1`, { headers: { accept: 'text/html,application/xhtml+xml' } });
      expect(deep.status).toBe(200);
      expect(await deep.text()).toContain('<title>Trackly</title>');
    });
  });

  describe('error shapes', () => {
    it('answers a path that is no route with the documented error shape, never echoing the path', async () => {
      for (const [method, p] of [['GET', '/api/nope/%3Cscript%3E'], ['POST', '/api/reports/performance'], ['GET', '/nope.php'], ['DELETE', '/api/partners/tune-1']]) {
        const res = await fetch(`${base}${p}`, { method, headers: { authorization: `Bearer ${ADMIN}` } });
        expect([method, p, res.status]).toEqual([method, p, 404]);
        const text = await res.text();
        expect(JSON.parse(text)).toEqual({ error: 'NOT_FOUND', message: 'no such route (the API is described at /api/openapi.json)' });
        expect(text).not.toMatch(/nope|script|Cannot/);
      }
    });

    it('answers a 20,000-character query 414 (not 431), in the same shape', async () => {
      const res = await fetch(`${base}/api/reports/performance?group_by=offer&q=${'x'.repeat(20_000)}`, { headers: { authorization: `Bearer ${ADMIN}` } });
      expect(res.status).toBe(414);
      expect(await res.json()).toEqual({ error: 'URI_TOO_LONG', message: 'the request URL is longer than 8192 bytes' });
    });
  });

  describe('OpenAPI', () => {
    const concrete = (p: string) =>
      p.replace('{messageId}', 'msg-a').replace('{contactId}', 'contact-1').replace('{partnerId}', 'tune-1').replace('{conversionId}', 'tx-1').replace('{offerId}', 'summer').replace('{file}', 'index-abc123.js');

    it('documents every route the gateway registers, and nothing it does not', async () => {
      const doc = (await (await fetch(`${base}/api/openapi.json`)).json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
      expect(doc.openapi).toBe('3.1.0');
      const server = gateway.app.getHttpAdapter().getInstance() as { router?: { stack: { route?: { path: string; methods: Record<string, boolean> } }[] } };
      const registered = server.router!.stack
        .filter((l) => l.route)
        .flatMap((l) => Object.keys(l.route!.methods).filter((m) => m !== '_all').map((m) => `${m} ${l.route!.path.replace(/:(\w+)/g, '{$1}')}`))
        // /metrics is the platform's (Prometheus text for the scraper); the catch-all answers what no route takes.
        .filter((r) => r !== 'get /metrics' && !r.endsWith('*path'));
      const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`));
      expect(registered.sort()).toEqual(documented.sort());
    });

    it('refuses every documented /api operation to a key without the scope the document names, before any downstream call', async () => {
      const doc = (await (await fetch(`${base}/api/openapi.json`)).json()) as { paths: Record<string, Record<string, { 'x-required-scope'?: string }>> };
      const before = [upserts.length, lists.length, replays.length, reattributions.length, offers.length, imported.length];
      let checked = 0;
      for (const [p, ops] of Object.entries(doc.paths)) {
        for (const [method, op] of Object.entries(ops)) {
          if (!p.startsWith('/api/') || p === '/api/openapi.json' || p === '/api/me') continue;
          const scope = op['x-required-scope'] as Scope;
          expect([p, method, SCOPES.includes(scope)]).toEqual([p, method, true]);
          // Every other single-scope key is refused.
          for (const other of SCOPES.filter((s) => s !== scope)) {
            const res = await fetch(`${base}${concrete(p)}`, { method: method.toUpperCase(), headers: { authorization: `Bearer ${keyOf(other)}` } });
            expect([p, method, other, res.status]).toEqual([p, method, other, 403]);
          }
          checked++;
        }
      }
      expect(checked).toBeGreaterThanOrEqual(20);
      expect([upserts.length, lists.length, replays.length, reattributions.length, offers.length, imported.length]).toEqual(before);
    });
  });
});
