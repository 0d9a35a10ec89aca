import * as grpc from '@grpc/grpc-js';
import { createHealth, serviceNameOf } from '@trackly/grpc';
import { RunningService } from '@trackly/app-shell';
import { ManualClock } from '@trackly/kernel';
import { freePort } from '@trackly/testing';
import {
  Attribution,
  AttributionOutcome,
  AttributionType,
} from '@trackly/contracts/attribution/v1/attribution';
import {
  AttributionServiceServer,
  AttributionServiceService,
} from '@trackly/contracts/attribution/v1/attribution_service';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { AttributionState, Conversion } from '@trackly/contracts/ingest/v1/ingest';
import { IngestServiceServer, IngestServiceService, SendTestPostbackRequest } from '@trackly/contracts/ingest/v1/ingest_service';
import {
  DateBasis,
  GetPerformanceReportRequest,
  GetReconciliationReportRequest,
  JourneyEventKind,
  ReportGrouping,
  ReportingServiceServer,
  ReportingServiceService,
  ListContactsRequest,
  ListMessagesRequest,
  ListFxRatesRequest,
  UpsertFxRatesRequest,
} from '@trackly/contracts/reporting/v1/reporting_service';
import { TrackingServiceService } from '@trackly/contracts/tracking/v1/tracking_service';
import { HealthImplementation } from 'grpc-health-check';
import { loadGatewayConfig } from '../src/gateway.config';
import { startGateway } from '../src/gateway.app';
import { apiKeysJson } from './api-key-entries';

// Short enough for the 504 specs to stay quick, long enough for a call to an in-process stub while the whole suite
// loads both cores: at 400 ms a report call got 504 in a full \`npm test\` run (2026-12-07).
const DEADLINE_MS = 1500;
const KEY_1 = 'dash-key-0123456789abcdef';
const KEY_2 = 'ops-key-fedcba9876543210';
const READER_KEY = 'reader-key-0123456789abcdef';
const NO_REPORTS_KEY = 'no-reports-key-0123456789abcdef';
const CAMP_1_KEY = 'camp-1-key-0123456789abcdef';
const CAMP_2_KEY = 'camp-2-key-0123456789abcdef';
const USD = (amountMicros: string) => ({ currencyCode: 'USD', amountMicros });

/** A real grpc-js server on a random port serving one contract service (stubbed) and grpc.health.v1. */
interface Stub {
  target: string;
  health: HealthImplementation;
  serviceName: string;
  stop(): void;
}

async function startStub(
  definition: grpc.ServiceDefinition,
  impl: grpc.UntypedServiceImplementation | undefined,
  serviceName: string,
): Promise<Stub> {
  const server = new grpc.Server();
  if (impl) server.addService(definition, impl);
  const health = createHealth([serviceName]);
  health.addToServer(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { target: `127.0.0.1:${port}`, health, serviceName, stop: () => server.forceShutdown() };
}

const fail = (code: grpc.status, details: string) => Object.assign(new Error(details), { code, details });
/** Answers later than the gateway's deadline: the gateway must give up with 504, not wait. */
const tooSlow = (callback: () => void) => setTimeout(callback, DEADLINE_MS * 3);

const attributed = Attribution.fromPartial({
  partnerId: 'tune-1',
  conversionId: 'tx-1',
  conversionRef: '7b0f9c1e-0000-4000-8000-000000000001',
  outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED,
  type: AttributionType.ATTRIBUTION_TYPE_CLICK_THROUGH,
  reportedClickId: 'clickB',
  creditedClickId: 'clickA',
  messageId: 'msg-a',
  contactId: 'contact-1',
  offerId: 'summer',
  campaignId: 'camp-1',
  creativeId: 'cr-1',
  payout: USD('24990000'),
  status: ConversionStatus.CONVERSION_STATUS_APPROVED,
  occurredAt: new Date('2026-02-20T12:00:00Z'),
  creditedClickedAt: new Date('2026-02-16T09:00:00Z'),
  windowDays: 30,
  decidedAt: new Date('2026-02-20T12:00:01Z'),
  explanation: 'Credited to message msg-a: first click wins.',
});

const conversion = (conversionId: string, over: Partial<Conversion> = {}) =>
  Conversion.fromPartial({
    id: `id-${conversionId}`,
    partnerId: 'tune-1',
    conversionId,
    clickId: 'clickB',
    payout: USD('24990000'),
    status: ConversionStatus.CONVERSION_STATUS_APPROVED,
    occurredAt: new Date('2026-02-20T12:00:00Z'),
    receivedAt: new Date('2026-02-20T12:00:00.500Z'),
    attributionState: AttributionState.ATTRIBUTION_STATE_PENDING,
    ...over,
  });

// A revenue total with no view-through, capped, held or test part (proto3 JSON omits them all).
const NO_PARTS = {
  clickRevenue: undefined, viewThroughRevenue: undefined, viewThroughConversions: '0', cappedRevenue: undefined, cappedConversions: '0',
  heldRevenue: undefined, heldConversions: '0', testRevenue: undefined, testConversions: '0',
};

describe('gateway (real HTTP, real gRPC to stub downstreams)', () => {
  const clock = new ManualClock(new Date('2026-03-01T02:30:00Z'));
  const performanceRequests: GetPerformanceReportRequest[] = [];
  const testPostbackRequests: SendTestPostbackRequest[] = [];
  const reconciliationRequests: GetReconciliationReportRequest[] = [];
  const listMessagesRequests: ListMessagesRequest[] = [];
  const listContactsRequests: ListContactsRequest[] = [];
  const fxUpserts: UpsertFxRatesRequest[] = [];
  const fxLists: ListFxRatesRequest[] = [];
  let reporting: Stub, ingest: Stub, attribution: Stub, tracking: Stub;
  let gateway: RunningService;
  let base: string;

  const reportingImpl: ReportingServiceServer = {
    getPerformanceReport: (call, cb) => {
      performanceRequests.push(call.request);
      // As reporting answers: by partner (grouped or filtered), the rows' send- and tap-based figures do not apply.
      const activityNotApplicable =
        !!call.request.filter?.partnerIds.length || [call.request.groupBy, call.request.thenBy].includes(ReportGrouping.REPORT_GROUPING_PARTNER);
      cb(null, {
        timeZone: call.request.timeZone,
        rows: [
          {
            key: 'cr-1', name: 'Summer Sale 20%', sends: '10000', clicks: '1200', uniqueClicks: '1200', taps: '1300', conversions: '48',
            revenue: [{
              revenue: USD('1152000000'), pendingRevenue: USD('0'), revenuePerSend: USD('115200'), epc: USD('960000'),
              reversed: USD('0'), conversions: '48', reversedConversions: '0', ...NO_PARTS,
            }],
            key2: '', name2: '', reversedConversions: '0', ctrPpm: '120000', cvrPpm: '40000', converted: undefined, activityNotApplicable,
          },
        ],
        total: {
          key: '', name: '', sends: '9007199254740993', clicks: '0', uniqueClicks: '0', taps: '0', conversions: '0',
          revenue: [{ revenue: USD('1152000000'), pendingRevenue: undefined, revenuePerSend: undefined, epc: undefined, reversed: undefined, conversions: '0', reversedConversions: '0', ...NO_PARTS }],
          key2: '', name2: '', reversedConversions: '0', ctrPpm: '0', cvrPpm: '0', converted: undefined, activityNotApplicable,
        },
        thenBy: call.request.thenBy,
        dateBasis: call.request.dateBasis,
      });
    },
    upsertFxRates: (call, cb) => {
      fxUpserts.push(call.request);
      // Reporting's own check (here: a day that is no calendar day) comes back per row, by batch index.
      const errors = call.request.rates.flatMap((r, index) => (r.day === '2026-02-30' ? [{ index, field: 'day', problem: 'must be a real calendar day YYYY-MM-DD' }] : []));
      cb(null, { stored: errors.length ? 0 : call.request.rates.length, errors });
    },
    listFxRates: (call, cb) => {
      fxLists.push(call.request);
      cb(null, { rates: [{ day: '2026-03-01', currency: 'EUR', quote: 'USD', rateMicros: '1084300' }] });
    },
    listMessages: (call, cb) => {
      listMessagesRequests.push(call.request);
      cb(null, {
        messages: [{
          messageId: 'msg-a', contactId: 'contact-1', phoneMasked: '+1***1234', campaignId: 'camp-1', creativeId: 'cr-1', offerId: 'summer',
          sentAt: new Date('2026-02-20T10:00:00Z'), clicked: true, taps: '2', converted: true, revenue: [USD('24990000')],
        }],
        nextPageToken: 'next-1',
      });
    },
    listContacts: (call, cb) => {
      listContactsRequests.push(call.request);
      cb(null, {
        contacts: [{
          contactId: 'contact-1', messages: '3', engagements: '2', conversions: '1', revenue: [USD('24990000')], lastActivityAt: new Date('2026-02-20T11:00:00Z'),
        }],
        nextPageToken: 'next-c',
      });
    },
    getCohortMaturity: (call, cb) => {
      const usd = (amountMicros: string) => ({ currencyCode: 'USD', amountMicros });
      // Day 90 of this cohort is not mature yet: reporting sends it empty and marked.
      const point = (days: number, rev: string, perSend: string) =>
        days === 90
          ? { days, revenue: [], revenuePerSend: [], immature: true, maturesAt: new Date('2026-05-09T00:00:00Z') }
          : { days, revenue: [usd(rev)], revenuePerSend: [usd(perSend)], immature: false, maturesAt: undefined };
      const total = { key: '', name: '', sends: '10000', points: [point(1, '240000000', '24000'), point(7, '960000000', '96000'), point(30, '1152000000', '115200'), point(90, '1152000000', '115200')] };
      cb(null, { timeZone: call.request.timeZone, rows: call.request.groupBy ? [{ ...total, key: 'cr-summer', name: 'Summer Sale 20%' }] : [], total });
    },
    getReconciliationReport: (call, cb) => {
      reconciliationRequests.push(call.request);
      cb(null, {
        timeZone: call.request.timeZone,
        rows: [{
          partnerId: 'tune-1', date: '2026-02-20', currencyCode: 'USD',
          received: { count: '3', amount: USD('34990000') }, receivedPendingStatus: { count: '0', amount: USD('0') },
          credited: { count: '1', amount: USD('24990000') }, reversed: { count: '0', amount: USD('0') },
          unattributed: [{ reason: 'UNKNOWN_CLICK_ID', total: { count: '1', amount: USD('5000000') } }],
          pending: { count: '1', amount: USD('5000000') },
          receivedDirect: { count: '0', amount: USD('0') }, creditedOverCap: { count: '0', amount: USD('0') }, held: { count: '0', amount: USD('0') },
          test: { count: '0', amount: USD('0') },
        }],
      });
    },
    getMessageReport: (call, cb) => {
      const { messageId } = call.request;
      if (messageId === 'slow') return void tooSlow(() => cb(null, { ...messageReport, messageId }));
      if (messageId !== 'msg-a') return cb(fail(grpc.status.NOT_FOUND, `message "${messageId}" not found`));
      cb(null, messageReport);
    },
    getContactJourney: (call, cb) => {
      if (call.request.contactId === 'bad id') return cb(fail(grpc.status.INVALID_ARGUMENT, 'contact_id must be letters and digits'));
      cb(null, {
        contactId: call.request.contactId,
        events: [
          { kind: JourneyEventKind.JOURNEY_EVENT_KIND_MESSAGE_SENT, at: new Date('2026-02-16T08:00:00Z'), messageId: 'msg-a', clickId: '', offerId: 'summer', payout: undefined, conversionId: '' },
          { kind: JourneyEventKind.JOURNEY_EVENT_KIND_CONVERSION, at: new Date('2026-02-20T12:00:00Z'), messageId: 'msg-a', clickId: 'clickA', offerId: 'summer', payout: USD('24990000'), conversionId: 'tx-1' },
        ],
        messagesReceived: '1',
        clicks: '2',
        conversions: '1',
        totalRevenue: [USD('24990000')],
      });
    },
  };

  const messageReport = {
    messageId: 'msg-a', contactId: 'contact-1', phoneMasked: '+1***1234', campaignId: 'camp-1', creativeId: 'cr-1', offerId: 'summer',
    sentAt: new Date('2026-02-16T08:00:00Z'), clicked: true, firstClickedAt: new Date('2026-02-16T09:00:00Z'), clickCount: '2',
    clickTimes: [new Date('2026-02-16T09:00:00Z'), new Date('2026-02-17T10:00:00Z')],
    conversions: [
      { partnerId: 'tune-1', conversionId: 'tx-1', clickId: 'clickA', payout: USD('24990000'), occurredAt: new Date('2026-02-20T12:00:00Z'), status: 'approved', messageId: 'msg-a', offerId: 'summer' },
    ],
    revenue: [USD('24990000'), { currencyCode: 'EUR', amountMicros: '1' }],
  };

  const ingestImpl: IngestServiceServer = {
    submitConversion: (_call, cb) => cb(fail(grpc.status.UNIMPLEMENTED, 'not used by the gateway')),
    listConversions: (_call, cb) => cb(fail(grpc.status.UNIMPLEMENTED, 'not used by the gateway')),
    upsertPartner: (_call, cb) => cb(fail(grpc.status.UNIMPLEMENTED, 'not used by the gateway')),
    getPartner: (_call, cb) => cb(fail(grpc.status.UNIMPLEMENTED, 'not used by the gateway')),
    listPartners: (_call, cb) => cb(fail(grpc.status.UNIMPLEMENTED, 'not used by the gateway')),
    rotatePartnerToken: (_call, cb) => cb(fail(grpc.status.UNIMPLEMENTED, 'not used by the gateway')),
    getPostbackTemplate: (_call, cb) => cb(fail(grpc.status.UNIMPLEMENTED, 'not used by the gateway')),
    getPartnerCounters: (_call, cb) => cb(fail(grpc.status.UNIMPLEMENTED, 'not used by the gateway')),
    replayPostbacks: (_call, cb) => cb(fail(grpc.status.UNIMPLEMENTED, 'not used by the gateway')),
    importConversions: (_call, cb) => cb(fail(grpc.status.UNIMPLEMENTED, 'not used by the gateway')),
    sendTestPostback: (call, cb) => {
      testPostbackRequests.push(call.request);
      const { partnerId, token, clickId } = call.request;
      if (partnerId !== 'tune-1') return cb(fail(grpc.status.NOT_FOUND, `partner "${partnerId}" not found`));
      const url = `http://127.0.0.1:3002/postbacks/tune-1?token=REDACTED&click_id=${clickId}&transaction_id=tx-1`;
      // An empty token is ingest signing the test itself; a wrong one is refused by the edge.
      if (token !== '' && token !== 'good-token') {
        return cb(null, { url, httpStatus: 401, responseBody: '{"error":"UNAUTHENTICATED","message":"token is not valid"}', conversionId: 'test-1', conversion: undefined });
      }
      // tx-1 has a decision in the fake attribution, tx-new has none yet.
      const id = clickId === 'undecided' ? 'tx-new' : 'tx-1';
      cb(null, { url, httpStatus: 200, responseBody: `{"status":"stored","conversion_id":"${id}"}`, conversionId: id, conversion: conversion(id) });
    },
    getConversion: (call, cb) => {
      const { partnerId, conversionId } = call.request;
      if (partnerId === 'tune-1' && conversionId === 'tx-1') {
        return cb(null, { conversion: conversion('tx-1', { attributionState: AttributionState.ATTRIBUTION_STATE_ATTRIBUTED, creditedMessageId: 'msg-a' }) });
      }
      if (partnerId === 'tune-1' && conversionId === 'tx-new') return cb(null, { conversion: conversion('tx-new') });
      if (conversionId === 'slow') return void tooSlow(() => cb(null, { conversion: conversion('slow') }));
      cb(fail(grpc.status.NOT_FOUND, `conversion ${partnerId}/${conversionId} not found`));
    },
  };

  const attributionImpl: AttributionServiceServer = {
    attributeConversion: (_call, cb) => cb(fail(grpc.status.UNIMPLEMENTED, 'not used by the gateway')),
    setOfferRules: (_call, cb) => cb(fail(grpc.status.UNIMPLEMENTED, 'not used by the gateway')),
    getOfferRules: (_call, cb) => cb(fail(grpc.status.UNIMPLEMENTED, 'not used by the gateway')),
    getAttribution: (call, cb) => {
      if (call.request.conversionId === 'tx-1') return cb(null, { attribution: attributed });
      cb(fail(grpc.status.NOT_FOUND, 'no decision for this conversion'));
    },
    // The trace of tx-1 only: the others have none (as for a conversion not decided yet).
    explainConversion: (call, cb) => {
      if (call.request.conversionId !== 'tx-1') return cb(fail(grpc.status.NOT_FOUND, 'no decision for this conversion'));
      cb(null, {
        attribution: attributed, matchedClick: { clickId: 'clickB', messageId: 'msg-b', clickedAt: new Date('2026-02-18T09:00:00Z'), clickClass: 'HUMAN', inWindow: true, credited: false, note: 'later than the credited click' },
        candidateClicks: [], windowDays: 30, windowSource: 1, windowFrom: new Date('2026-01-21T12:00:00Z'), windowTo: new Date('2026-02-20T12:00:00Z'),
        rule: 'FIRST_CLICK', reason: 0, ruleVersion: 'first-click/2', minConversionSeconds: undefined, viewThroughWindowDays: undefined,
        history: ['2026-02-20T12:00:01.000Z decided by rule FIRST_CLICK (first-click/2)'],
      });
    },
    listAttributions: (_call, cb) => cb(fail(grpc.status.UNIMPLEMENTED, 'not used by the gateway')),
    reattribute: (_call, cb) => cb(fail(grpc.status.UNIMPLEMENTED, 'not used by the gateway')),
  };

  async function start(keys: string, clockToUse = clock): Promise<{ running: RunningService; base: string }> {
    const port = await freePort();
    const running = await startGateway(
      loadGatewayConfig({
        GATEWAY_HOST: '127.0.0.1',
        GATEWAY_HTTP_PORT: String(port),
        REPORTING_GRPC_URL: reporting.target,
        INGEST_GRPC_URL: ingest.target,
        ATTRIBUTION_GRPC_URL: attribution.target,
        TRACKING_GRPC_URL: tracking.target,
        GATEWAY_DEADLINE_MS: String(DEADLINE_MS),
        GATEWAY_API_KEYS: keys,
        LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
      }),
      { clock: clockToUse },
    );
    return { running, base: `http://127.0.0.1:${port}` };
  }

  beforeAll(async () => {
    reporting = await startStub(ReportingServiceService, reportingImpl, serviceNameOf(ReportingServiceService));
    ingest = await startStub(IngestServiceService, ingestImpl, serviceNameOf(IngestServiceService));
    attribution = await startStub(AttributionServiceService, attributionImpl, serviceNameOf(AttributionServiceService));
    // The gateway calls no tracking RPC; tracking only has to be up.
    tracking = await startStub(TrackingServiceService, undefined, serviceNameOf(TrackingServiceService));
    ({ running: gateway, base } = await start(
      apiKeysJson([
        { name: 'dash', key: KEY_1 },
        { name: 'ops', key: KEY_2 },
        { name: 'reader', key: READER_KEY, scopes: ['reports:read'] },
        { name: 'no-reports', key: NO_REPORTS_KEY, scopes: ['conversions:read', 'partners:write', 'partners:test'] },
        { name: 'camp-1-only', key: CAMP_1_KEY, scopes: ['reports:read', 'conversions:read'], campaigns: ['camp-1'] },
        { name: 'camp-2-only', key: CAMP_2_KEY, scopes: ['reports:read', 'conversions:read'], campaigns: ['camp-2'] },
      ]),
    ));
  });

  afterAll(async () => {
    await gateway?.close();
    for (const s of [reporting, ingest, attribution, tracking]) s?.stop();
  });

  const get = (path: string, headers: Record<string, string> = { authorization: `Bearer ${KEY_1}` }, at = base) =>
    fetch(`${at}${path}`, { headers });

  async function json(res: Response): Promise<Record<string, unknown>> {
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    return (await res.json()) as Record<string, unknown>;
  }

  describe('reports', () => {
    it('serves the performance report as proto3 JSON with exact money amounts', async () => {
      const res = await get('/api/reports/performance?group_by=creative&from=2026-02-01&to=2026-02-28&tz=Europe/Paris');
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(await json(res)).toEqual({
        timeZone: 'Europe/Paris',
        dateBasis: 'DATE_BASIS_CONVERSION',
        rows: [
          {
            key: 'cr-1', name: 'Summer Sale 20%', sends: '10000', clicks: '1200', uniqueClicks: '1200', taps: '1300', conversions: '48',
            ctrPpm: '120000', cvrPpm: '40000',
            revenue: [
              {
                revenue: { currencyCode: 'USD', amountMicros: '1152000000', amount: '1152.00' },
                pendingRevenue: { currencyCode: 'USD', amountMicros: '0', amount: '0.00' },
                revenuePerSend: { currencyCode: 'USD', amountMicros: '115200', amount: '0.1152' },
                epc: { currencyCode: 'USD', amountMicros: '960000', amount: '0.96' },
                reversed: { currencyCode: 'USD', amountMicros: '0', amount: '0.00' },
                conversions: '48',
              },
            ],
          },
        ],
        // int64 counters stay exact strings beyond 2^53; zero counters are omitted (proto3 JSON).
        total: { sends: '9007199254740993', revenue: [{ revenue: { currencyCode: 'USD', amountMicros: '1152000000', amount: '1152.00' } }] },
      });
      expect(performanceRequests.at(-1)).toEqual({
        groupBy: ReportGrouping.REPORT_GROUPING_CREATIVE, fromDate: '2026-02-01', toDate: '2026-02-28', timeZone: 'Europe/Paris',
        thenBy: ReportGrouping.REPORT_GROUPING_UNSPECIFIED, dateBasis: DateBasis.DATE_BASIS_CONVERSION, includeTest: false, reportingCurrency: '',
      });
    });

    it('defaults to the last 30 days ending today in the requested zone', async () => {
      // 02:30 UTC on 1 March is still 28 February in New York.
      const res = await get('/api/reports/performance?group_by=date&tz=America/New_York');
      expect(res.status).toBe(200);
      expect(performanceRequests.at(-1)).toEqual({
        groupBy: ReportGrouping.REPORT_GROUPING_DATE, fromDate: '2026-01-30', toDate: '2026-02-28', timeZone: 'America/New_York',
        thenBy: ReportGrouping.REPORT_GROUPING_UNSPECIFIED, dateBasis: DateBasis.DATE_BASIS_CONVERSION, includeTest: false, reportingCurrency: '',
      });
      await get('/api/reports/performance?group_by=offer');
      expect(performanceRequests.at(-1)).toMatchObject({ groupBy: ReportGrouping.REPORT_GROUPING_OFFER, fromDate: '2026-01-31', toDate: '2026-03-01', timeZone: 'UTC' });
    });

    it('answers 400 with field errors for missing or invalid parameters, without calling reporting', async () => {
      const before = performanceRequests.length;
      const missing = await get('/api/reports/performance');
      expect(missing.status).toBe(400);
      expect(await json(missing)).toEqual({
        error: 'INVALID_ARGUMENT',
        message: 'group_by is required: one of creative, offer, campaign, date, partner',
        fields: { group_by: 'is required: one of creative, offer, campaign, date, partner' },
      });
      const bad = await get('/api/reports/performance?group_by=contact&from=2026-02-30&to=2026-02-01&tz=Mars%2FOlympus');
      expect(bad.status).toBe(400);
      expect((await json(bad)).fields).toEqual({
        group_by: 'must be one of creative, offer, campaign, date, partner',
        from: 'must be a date YYYY-MM-DD',
        tz: 'must be an IANA time zone such as UTC or America/New_York',
      });
      const reversed = await get('/api/reports/performance?group_by=offer&from=2026-02-10&to=2026-02-01');
      expect(reversed.status).toBe(400);
      expect((await json(reversed)).fields).toEqual({ from: 'must not be after to (2026-02-01)' });
      const repeated = await get('/api/reports/performance?group_by=offer&group_by=date');
      expect((await json(repeated)).fields).toEqual({ group_by: 'must be given once' });
      expect(performanceRequests.length).toBe(before);
    });

    it('filters by campaign, offer, creative and partner, and refuses unknown parameters (400)', async () => {
      const before = performanceRequests.length;
      const res = await get('/api/reports/performance?group_by=offer&campaign=camp-1,camp-2&campaign=camp-3&offer=summer');
      expect(res.status).toBe(200);
      expect(performanceRequests.at(-1)!.filter).toEqual({ campaignIds: ['camp-1', 'camp-2', 'camp-3'], offerIds: ['summer'], creativeIds: [], partnerIds: [] });
      expect((await get('/api/reports/performance?group_by=offer&creative=cr-1,cr-2')).status).toBe(200);
      expect(performanceRequests.at(-1)!.filter).toEqual({ campaignIds: [], offerIds: [], creativeIds: ['cr-1', 'cr-2'], partnerIds: [] });
      const unknown = await get('/api/reports/performance?group_by=offer&campaing=camp-1&colour=red');
      expect(unknown.status).toBe(400);
      expect(Object.keys((await json(unknown)).fields as object)).toEqual(['campaing', 'colour']);
      expect((await json(await get('/api/reports/performance?group_by=offer&campaign=a%20b'))).fields).toEqual({
        campaign: 'must be ids of 1-128 letters, digits, ".", "_", ":" or "-"',
      });
      const partner = await get('/api/reports/performance?group_by=offer&partner=tune-1,everflow-2&partner=tune-1');
      expect(partner.status).toBe(200);
      expect(performanceRequests.at(-1)!.filter).toEqual({ campaignIds: [], offerIds: [], creativeIds: [], partnerIds: ['tune-1', 'everflow-2'] });
      // Sends and taps have no partner: null (not applicable), never an omitted zero; conversion figures stay.
      const body = (await json(partner)) as { rows: Record<string, unknown>[]; total: Record<string, unknown> };
      for (const row of [body.rows[0], body.total]) {
        expect(row).toMatchObject({ activityNotApplicable: true, sends: null, clicks: null, uniqueClicks: null, taps: null, ctrPpm: null, cvrPpm: null });
        expect(row.revenue).toEqual([expect.objectContaining({ revenue: expect.objectContaining({ amount: '1152.00' }), revenuePerSend: null, epc: null })]);
      }
      const csv = await (await get('/api/reports/performance?group_by=partner&format=csv')).text();
      expect(performanceRequests.at(-1)).toMatchObject({ groupBy: ReportGrouping.REPORT_GROUPING_PARTNER, filter: undefined });
      const [header, first] = csv.split('\r\n').map((l) => l.split(','));
      const cell = (name: string) => first[header.indexOf(name)];
      expect(['sends', 'clicks', 'taps', 'ctr', 'cvr', 'revenue_per_send_USD', 'epc_USD'].map(cell)).toEqual(Array(7).fill('n/a'));
      expect([cell('conversions'), cell('revenue_USD')]).toEqual(['48', '1152.00']);
      const thenPartner = await get('/api/reports/performance?group_by=date&then_by=partner');
      expect(thenPartner.status).toBe(200);
      expect(performanceRequests.at(-1)).toMatchObject({ groupBy: ReportGrouping.REPORT_GROUPING_DATE, thenBy: ReportGrouping.REPORT_GROUPING_PARTNER });
      // Not a partner id; no partner grouping for the maturity report (sends have no partner).
      expect((await json(await get('/api/reports/performance?group_by=partner&partner=a%20b'))).fields).toEqual({
        partner: 'must be ids of 1-128 letters, digits, ".", "_", ":" or "-"',
      });
      expect((await get('/api/reports/maturity?group_by=partner')).status).toBe(400);
      for (const path of ['/api/reports/reconciliation?partnr=x', '/api/reports/maturity?offer=x', '/api/reports/messages/msg-a?fromat=csv', '/api/reports/contacts/contact-1/journey?x=1']) {
        expect([path, (await get(path)).status]).toEqual([path, 400]);
      }
      expect(performanceRequests.length).toBe(before + 5);
    });

    it('lists messages by campaign and creative, paged, with clicked/converted/revenue; refuses unknown parameters', async () => {
      const res = await get('/api/messages?campaign=camp-1&creative=cr-1&page_size=20&page_token=abc');
      expect(res.status).toBe(200);
      expect(listMessagesRequests.at(-1)).toEqual({ campaignId: 'camp-1', creativeId: 'cr-1', pageSize: 20, pageToken: 'abc' });
      expect(await json(res)).toMatchObject({
        messages: [{ messageId: 'msg-a', clicked: true, taps: '2', converted: true, revenue: [{ currencyCode: 'USD', amountMicros: '24990000', amount: '24.99' }] }],
        nextPageToken: 'next-1',
      });
      expect((await get('/api/messages?campain=camp-1')).status).toBe(400);
      expect((await get('/api/messages?page_size=lots')).status).toBe(400);
    });

    it('lists contacts by campaign and id prefix, paged; refuses unknown and repeated parameters', async () => {
      const res = await get('/api/contacts?campaign=camp-1&search=contact-&page_size=25&page_token=xyz');
      expect(res.status).toBe(200);
      expect(listContactsRequests.at(-1)).toEqual({ campaignId: 'camp-1', contactIdPrefix: 'contact-', pageSize: 25, pageToken: 'xyz' });
      expect(await json(res)).toEqual({
        contacts: [{
          contactId: 'contact-1', messages: '3', engagements: '2', conversions: '1',
          revenue: [{ currencyCode: 'USD', amountMicros: '24990000', amount: '24.99' }], lastActivityAt: '2026-02-20T11:00:00.000Z',
        }],
        nextPageToken: 'next-c',
      });
      expect((await get('/api/contacts')).status).toBe(200);
      expect(listContactsRequests.at(-1)).toEqual({ campaignId: '', contactIdPrefix: '', pageSize: 0, pageToken: '' });
      const before = listContactsRequests.length;
      for (const path of ['/api/contacts?q=ana', '/api/contacts?page_size=lots', '/api/contacts?search=a&search=b']) {
        expect([path, (await get(path)).status]).toEqual([path, 400]);
      }
      expect(listContactsRequests.length).toBe(before);
    });

    it('serves a message report with timestamps, enums and money', async () => {
      const res = await get('/api/reports/messages/msg-a');
      expect(res.status).toBe(200);
      expect(await json(res)).toEqual({
        messageId: 'msg-a', contactId: 'contact-1', phoneMasked: '+1***1234', campaignId: 'camp-1', creativeId: 'cr-1', offerId: 'summer',
        sentAt: '2026-02-16T08:00:00.000Z', clicked: true, firstClickedAt: '2026-02-16T09:00:00.000Z', clickCount: '2',
        clickTimes: ['2026-02-16T09:00:00.000Z', '2026-02-17T10:00:00.000Z'],
        conversions: [
          {
            partnerId: 'tune-1', conversionId: 'tx-1', clickId: 'clickA', occurredAt: '2026-02-20T12:00:00.000Z', status: 'approved', messageId: 'msg-a', offerId: 'summer',
            payout: { currencyCode: 'USD', amountMicros: '24990000', amount: '24.99' },
          },
        ],
        revenue: [
          { currencyCode: 'USD', amountMicros: '24990000', amount: '24.99' },
          { currencyCode: 'EUR', amountMicros: '1', amount: '0.000001' },
        ],
      });
    });

    it('serves a contact journey with enum names', async () => {
      const body = await json(await get('/api/reports/contacts/contact-1/journey'));
      expect(body).toMatchObject({
        contactId: 'contact-1', messagesReceived: '1', clicks: '2', conversions: '1',
        totalRevenue: [{ currencyCode: 'USD', amountMicros: '24990000', amount: '24.99' }],
      });
      expect(body.events).toEqual([
        { kind: 'JOURNEY_EVENT_KIND_MESSAGE_SENT', at: '2026-02-16T08:00:00.000Z', messageId: 'msg-a', offerId: 'summer' },
        {
          kind: 'JOURNEY_EVENT_KIND_CONVERSION', at: '2026-02-20T12:00:00.000Z', messageId: 'msg-a', clickId: 'clickA', offerId: 'summer',
          payout: { currencyCode: 'USD', amountMicros: '24990000', amount: '24.99' }, conversionId: 'tx-1',
        },
      ]);
    });

    it('maps downstream NOT_FOUND to 404 and INVALID_ARGUMENT to 400', async () => {
      const res = await get('/api/reports/messages/nope');
      expect(res.status).toBe(404);
      expect(await json(res)).toEqual({ error: 'NOT_FOUND', message: 'message "nope" not found' });
      const bad = await get('/api/reports/contacts/bad%20id/journey');
      expect(bad.status).toBe(400);
      expect(await json(bad)).toEqual({ error: 'INVALID_ARGUMENT', message: 'contact_id must be letters and digits' });
    });

    it('passes a second grouping and the send-date basis, and refuses a repeated dimension', async () => {
      const res = await get('/api/reports/performance?group_by=creative&then_by=date&date_basis=send&from=2026-02-01&to=2026-02-28');
      expect(res.status).toBe(200);
      expect(await json(res)).toMatchObject({ thenBy: 'REPORT_GROUPING_DATE', dateBasis: 'DATE_BASIS_SEND' });
      expect(performanceRequests.at(-1)).toMatchObject({ thenBy: ReportGrouping.REPORT_GROUPING_DATE, dateBasis: DateBasis.DATE_BASIS_SEND });
      const bad = await get('/api/reports/performance?group_by=offer&then_by=offer&date_basis=click');
      expect(bad.status).toBe(400);
      expect((await json(bad)).fields).toEqual({ then_by: 'must differ from group_by', date_basis: 'must be one of conversion, send' });
    });

    it('serves the reconciliation report with its range, zone and partner', async () => {
      const res = await get('/api/reports/reconciliation?from=2026-02-01&to=2026-02-28&tz=Europe/Paris&partner=tune-1');
      expect(res.status).toBe(200);
      expect(reconciliationRequests.at(-1)).toEqual({ fromDate: '2026-02-01', toDate: '2026-02-28', timeZone: 'Europe/Paris', partnerId: 'tune-1', includeTest: false });
      expect(((await json(res)).rows as unknown[])[0]).toMatchObject({
        partnerId: 'tune-1', received: { count: '3', amount: { amount: '34.99' } },
        unattributed: [{ reason: 'UNKNOWN_CLICK_ID', total: { count: '1', amount: { amount: '5.00' } } }],
      });
    });

    it('serves the send-cohort maturity report, as JSON and CSV', async () => {
      const res = await get('/api/reports/maturity?from=2026-02-01&to=2026-02-07&group_by=creative');
      expect(res.status).toBe(200);
      const body = await json(res);
      expect((body.total as { points: unknown[] }).points[2]).toEqual({
        days: 30, revenue: [{ currencyCode: 'USD', amountMicros: '1152000000', amount: '1152.00' }],
        revenuePerSend: [{ currencyCode: 'USD', amountMicros: '115200', amount: '0.1152' }],
      });
      const text = await (await get('/api/reports/maturity?from=2026-02-01&to=2026-02-07&group_by=creative&format=csv')).text();
      expect(text.split('\r\n').slice(0, 3)).toEqual([
        'key,name,sends,days,currency,revenue,revenue_per_send,immature,matures_at',
        'cr-summer,Summer Sale 20%,10000,1,USD,240.00,0.024,false,', 'cr-summer,Summer Sale 20%,10000,7,USD,960.00,0.096,false,',
      ]);
      expect(text.split('\r\n')[4]).toBe('cr-summer,Summer Sale 20%,10000,90,,,,true,2026-05-09T00:00:00.000Z');
      expect((body.total as { points: unknown[] }).points[3]).toEqual({ days: 90, immature: true, maturesAt: '2026-05-09T00:00:00.000Z' });
      expect((await json(await get('/api/reports/maturity?group_by=date'))).fields).toEqual({ group_by: 'must be one of creative, offer, campaign' });
    });

    it('exports every report as CSV with exact decimals, one line per group and currency', async () => {
      const perf = await get('/api/reports/performance?group_by=creative&from=2026-02-01&to=2026-02-28&format=csv');
      expect(perf.status).toBe(200);
      expect(perf.headers.get('content-type')).toMatch(/^text\/csv/);
      expect(perf.headers.get('content-disposition')).toBe('attachment; filename="trackly-performance.csv"');
      expect((await perf.text()).split('\r\n')).toEqual([
        // One line per group: counts once, money per currency in columns of their own.
        'key,name,key2,name2,sends,clicks,unique_clicks,taps,conversions,reversed_conversions,ctr,cvr,'
          + 'conversions_USD,revenue_USD,pending_revenue_USD,reversed_revenue_USD,revenue_per_send_USD,epc_USD,click_revenue_USD,view_through_revenue_USD,view_through_conversions_USD,capped_revenue_USD,capped_conversions_USD,held_revenue_USD,held_conversions_USD,test_revenue_USD,test_conversions_USD',
        'cr-1,Summer Sale 20%,,,10000,1200,1200,1300,48,0,0.12,0.04,48,1152.00,0.00,0.00,0.1152,0.96,0.00,0.00,0,0.00,0,0.00,0,0.00,0',
        'TOTAL,,,,9007199254740993,0,0,0,0,0,0.00,0.00,0,1152.00,0.00,0.00,0.00,0.00,0.00,0.00,0,0.00,0,0.00,0,0.00,0',
        '',
      ]);
      const rec = await (await get('/api/reports/reconciliation?from=2026-02-01&to=2026-02-28&format=csv')).text();
      expect(rec.split('\r\n')[1]).toBe('tune-1,2026-02-20,USD,3,34.99,1,24.99,0,0.00,1,5.00,UNKNOWN_CLICK_ID=1,1,5.00,0,0.00,0,0.00,0,0.00,0,0.00,0,0.00');
      const msg = await (await get('/api/reports/messages/msg-a?format=csv')).text();
      expect(msg.split('\r\n')[1]).toBe(
        // A cell starting with + is kept from spreadsheets' formula parsing by a leading apostrophe.
        "msg-a,contact-1,'+1***1234,camp-1,cr-1,summer,2026-02-16T08:00:00.000Z,true,2026-02-16T09:00:00.000Z,2,tune-1,tx-1,clickA,2026-02-20T12:00:00.000Z,approved,USD,24.99",
      );
      const journey = await (await get('/api/reports/contacts/contact-1/journey?format=csv')).text();
      expect(journey.split('\r\n').slice(1, 3)).toEqual([
        'contact-1,2026-02-16T08:00:00.000Z,MESSAGE_SENT,msg-a,,summer,,,',
        'contact-1,2026-02-20T12:00:00.000Z,CONVERSION,msg-a,clickA,summer,tx-1,USD,24.99',
      ]);
      expect((await get('/api/reports/messages/msg-a?format=xml')).status).toBe(400);
    });

    it('gives up on a downstream slower than the deadline with 504', async () => {
      const started = Date.now();
      const res = await get('/api/reports/messages/slow');
      expect(res.status).toBe(504);
      expect((await json(res)).error).toBe('DEADLINE_EXCEEDED');
      expect(Date.now() - started).toBeLessThan(DEADLINE_MS * 3);
    });
  });

  describe('conversion troubleshooting', () => {
    it('shows the conversion, its attribution and the diagnosis', async () => {
      const res = await get('/api/conversions/tune-1/tx-1');
      expect(res.status).toBe(200);
      const body = await json(res);
      expect(body.conversion).toEqual({
        id: 'id-tx-1', partnerId: 'tune-1', conversionId: 'tx-1', clickId: 'clickB',
        payout: { currencyCode: 'USD', amountMicros: '24990000', amount: '24.99' },
        status: 'CONVERSION_STATUS_APPROVED', occurredAt: '2026-02-20T12:00:00.000Z', receivedAt: '2026-02-20T12:00:00.500Z',
        attributionState: 'ATTRIBUTION_STATE_ATTRIBUTED', creditedMessageId: 'msg-a',
      });
      expect(body.attribution).toMatchObject({
        outcome: 'ATTRIBUTION_OUTCOME_ATTRIBUTED', type: 'ATTRIBUTION_TYPE_CLICK_THROUGH', reportedClickId: 'clickB', creditedClickId: 'clickA',
        messageId: 'msg-a', payout: { currencyCode: 'USD', amountMicros: '24990000', amount: '24.99' }, windowDays: 30,
        creditedClickedAt: '2026-02-16T09:00:00.000Z', status: 'CONVERSION_STATUS_APPROVED',
      });
      expect(body.diagnosis).toEqual({
        outcome: 'ATTRIBUTED', clickIdMatched: true, humanClick: true, clickInWindow: true, alreadyAttributed: true, creditedTo: 'msg-a',
        reason: null, explanation: 'Credited to message msg-a: first click wins.',
      });
      // The trace: the reported click, the window and its source, the rule, the history.
      expect(body.explain).toMatchObject({
        matchedClick: { clickId: 'clickB', clickClass: 'HUMAN', inWindow: true }, windowDays: 30, windowSource: 'WINDOW_SOURCE_OFFER',
        windowFrom: '2026-01-21T12:00:00.000Z', rule: 'FIRST_CLICK', history: ['2026-02-20T12:00:01.000Z decided by rule FIRST_CLICK (first-click/2)'],
      });
    });

    it('shows attribution: null when attribution has no decision yet', async () => {
      const res = await get('/api/conversions/tune-1/tx-new');
      expect(res.status).toBe(200);
      const body = await json(res);
      expect(body.attribution).toBeNull();
      expect(body.explain).toBeNull();
      expect(body.conversion).toMatchObject({ conversionId: 'tx-new', attributionState: 'ATTRIBUTION_STATE_PENDING' });
      expect(body.diagnosis).toMatchObject({ outcome: 'PENDING', clickIdMatched: null, alreadyAttributed: false, creditedTo: null });
    });

    it('answers 404 for a conversion ingest does not know, and 504 when ingest is too slow', async () => {
      const res = await get('/api/conversions/tune-1/unknown');
      expect(res.status).toBe(404);
      expect(await json(res)).toEqual({ error: 'NOT_FOUND', message: 'conversion tune-1/unknown not found' });
      expect((await get('/api/conversions/tune-1/slow')).status).toBe(504);
    });
  });

  describe('test postback', () => {
    const post = (path: string, body: unknown) =>
      fetch(`${base}${path}`, { method: 'POST', headers: { authorization: `Bearer ${KEY_1}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

    it('returns the edge answer, the stored conversion and its attribution decision', async () => {
      // No token from the person sending the test: ingest sends it as the partner would.
      const res = await post('/api/partners/tune-1/test-postback', { click_id: 'clickB', payout: '24.99' });
      expect(res.status).toBe(200);
      const body = await json(res);
      expect(testPostbackRequests.at(-1)).toEqual({ partnerId: 'tune-1', token: '', clickId: 'clickB', payout: '24.99', currency: '' });
      expect(body).toMatchObject({
        url: 'http://127.0.0.1:3002/postbacks/tune-1?token=REDACTED&click_id=clickB&transaction_id=tx-1', httpStatus: 200, conversionId: 'tx-1',
        conversion: { conversionId: 'tx-1', payout: { currencyCode: 'USD', amountMicros: '24990000', amount: '24.99' } },
        attribution: { outcome: 'ATTRIBUTION_OUTCOME_ATTRIBUTED', messageId: 'msg-a' },
      });
    });

    it('gives attribution: null when not decided yet, and reports an edge 401 with no conversion', async () => {
      const undecided = await json(await post('/api/partners/tune-1/test-postback', { click_id: 'undecided' }));
      expect(undecided).toMatchObject({ httpStatus: 200, conversionId: 'tx-new', attribution: null });
      const refused = await post('/api/partners/tune-1/test-postback', { token: 'wrong', click_id: 'clickB' });
      expect(refused.status).toBe(200);
      expect(await json(refused)).toMatchObject({ httpStatus: 401, conversion: null, attribution: null, responseBody: expect.stringContaining('UNAUTHENTICATED') });
    });

    it('answers 400 per field for a bad body and 404 for an unknown partner', async () => {
      const bad = await post('/api/partners/tune-1/test-postback', { click_id: 7, cost: '1' });
      expect(bad.status).toBe(400);
      expect(await json(bad)).toMatchObject({ fields: { click_id: 'must be a string', cost: expect.stringMatching(/^is not a field here/) } });
      expect((await json(await post('/api/partners/tune-1/test-postback', {}))).fields).toEqual({ click_id: 'is required' });
      expect((await post('/api/partners/nobody/test-postback', { click_id: 'c' })).status).toBe(404);
    });
  });

  describe('FX rates', () => {
    const send = (method: string, path: string, body: string, type: string, key = KEY_1) =>
      fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${key}`, 'content-type': type }, body });

    it('stores a JSON list: decimal rates as micros, all rows in one batch', async () => {
      const res = await send('PUT', '/api/fx-rates', JSON.stringify([{ day: '2026-03-01', currency: 'eur', quote: 'USD', rate: '1.0843' }, { day: '2026-03-02', currency: 'GBP', quote: 'USD', rate: 1.25 }]), 'application/json');
      expect(res.status).toBe(200);
      expect(await json(res)).toEqual({ stored: 2 });
      expect(fxUpserts.at(-1)!.rates).toEqual([
        { day: '2026-03-01', currency: 'EUR', quote: 'USD', rateMicros: '1084300' },
        { day: '2026-03-02', currency: 'GBP', quote: 'USD', rateMicros: '1250000' },
      ]);
    });

    it('refuses a file with bad rows by line number, its own and reporting\'s, and stores nothing', async () => {
      const before = fxUpserts.length;
      const bad = await send('POST', '/api/fx-rates/csv', 'day,currency,quote,rate\n2026-03-01,EUR,USD,1.08\n2026-03-02,EUR,USD,one\n', 'text/csv');
      expect(bad.status).toBe(400);
      expect(await json(bad)).toMatchObject({ error: 'INVALID_ARGUMENT', fields: { 'line 3.rate': expect.stringMatching(/decimal/) } });
      expect(fxUpserts.length).toBe(before);
      const refused = await send('POST', '/api/fx-rates/csv', 'day,currency,quote,rate\n2026-03-01,EUR,USD,1.08\n\n2026-02-30,EUR,USD,1.09\n', 'text/csv');
      expect(refused.status).toBe(400);
      expect(await json(refused)).toMatchObject({ fields: { 'line 4.day': 'must be a real calendar day YYYY-MM-DD' } });
      const ok = await send('POST', '/api/fx-rates/csv', 'day,currency,quote,rate\r\n2026-03-01,EUR,USD,1.08\r\n', 'text/csv');
      expect(await json(ok)).toEqual({ stored: 1 });
      expect((await send('POST', '/api/fx-rates/csv', '{}', 'application/json')).status).toBe(415);
    });

    it('lists rates with their decimal and micros; writes need operations:write', async () => {
      const res = await get('/api/fx-rates?quote=usd&from=2026-03-01&to=2026-03-31');
      expect(await json(res)).toEqual({ rates: [{ day: '2026-03-01', currency: 'EUR', quote: 'USD', rate: '1.0843', rateMicros: '1084300' }] });
      expect(fxLists.at(-1)).toEqual({ quote: 'USD', currency: '', fromDate: '2026-03-01', toDate: '2026-03-31' });
      expect((await get('/api/fx-rates?rate=1')).status).toBe(400);
      expect((await send('PUT', '/api/fx-rates', '[]', 'application/json', CAMP_1_KEY)).status).toBe(403);
    });

    it('passes reporting_currency to the performance report, upper-cased, and refuses a bad one', async () => {
      expect((await get('/api/reports/performance?group_by=creative&reporting_currency=eur')).status).toBe(200);
      expect(performanceRequests.at(-1)!.reportingCurrency).toBe('EUR');
      const bad = await get('/api/reports/performance?group_by=creative&reporting_currency=EURO');
      expect(bad.status).toBe(400);
      expect(await json(bad)).toMatchObject({ fields: { reporting_currency: expect.any(String) } });
    });
  });

  describe('API keys', () => {
    it('rejects /api without a key, with a wrong key or another scheme: 401 JSON', async () => {
      const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer wrong-key-0123456789' }, { 'x-api-key': KEY_1.slice(0, -1) }, { authorization: `Basic ${KEY_1}` }];
      for (const headers of attempts) {
        const res = await get('/api/reports/messages/msg-a', headers);
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
        expect(await json(res)).toMatchObject({ error: 'UNAUTHENTICATED' });
      }
      // Checked before the route's own work: an unauthenticated request learns nothing about the data.
      expect((await get('/api/conversions/tune-1/unknown', {})).status).toBe(401);
    });

    it('accepts any configured key as a Bearer token or X-API-Key', async () => {
      expect((await get('/api/reports/messages/msg-a', { authorization: `Bearer ${KEY_2}` })).status).toBe(200);
      expect((await get('/api/reports/messages/msg-a', { 'x-api-key': KEY_1 })).status).toBe(200);
      expect((await get('/api/reports/messages/msg-a', { authorization: 'Bearer nope', 'x-api-key': KEY_2 })).status).toBe(200);
    });

    it('answers 403 to a known key without the scope the route needs, before any downstream call', async () => {
      const reader = { authorization: `Bearer ${READER_KEY}` };
      expect((await get('/api/reports/messages/msg-a', reader)).status).toBe(200);
      const denied = await get('/api/conversions/tune-1/tx-1', reader);
      expect(denied.status).toBe(403);
      expect(await json(denied)).toEqual({ error: 'PERMISSION_DENIED', message: 'this API key does not grant the scope "conversions:read"' });
      const before = testPostbackRequests.length;
      const post = await fetch(`${base}/api/partners/tune-1/test-postback`, {
        method: 'POST', headers: { ...reader, 'content-type': 'application/json' }, body: JSON.stringify({ click_id: 'k' }),
      });
      expect(post.status).toBe(403);
      expect(testPostbackRequests.length).toBe(before);
    });

    it('filters a campaign-restricted key\'s performance report and hides other campaigns\' details as 404', async () => {
      const camp1 = { authorization: `Bearer ${CAMP_1_KEY}` };
      const camp2 = { authorization: `Bearer ${CAMP_2_KEY}` };
      performanceRequests.length = 0;
      expect((await get('/api/reports/performance?group_by=offer', camp1)).status).toBe(200);
      expect((await get('/api/reports/performance?group_by=offer')).status).toBe(200);
      expect(performanceRequests.map((r) => r.filter)).toEqual([{ campaignIds: ['camp-1'], offerIds: [], creativeIds: [], partnerIds: [] }, undefined]);
      // Its own filters narrow the grant, never widen it; a campaign outside it is refused before any call.
      expect((await get('/api/reports/performance?group_by=offer&campaign=camp-1&offer=summer', camp1)).status).toBe(200);
      expect(performanceRequests.at(-1)!.filter).toEqual({ campaignIds: ['camp-1'], offerIds: ['summer'], creativeIds: [], partnerIds: [] });
      const outside = await get('/api/reports/performance?group_by=offer&campaign=camp-2', camp1);
      expect(outside.status).toBe(403);
      expect(await json(outside)).toEqual({ error: 'PERMISSION_DENIED', message: 'this API key may not see campaign camp-2' });
      expect(performanceRequests.length).toBe(3);
      // A partner filter or grouping narrows the key's campaigns, never widens them.
      expect((await get('/api/reports/performance?group_by=partner&partner=tune-1', camp1)).status).toBe(200);
      expect(performanceRequests.at(-1)).toMatchObject({
        groupBy: ReportGrouping.REPORT_GROUPING_PARTNER, filter: { campaignIds: ['camp-1'], offerIds: [], creativeIds: [], partnerIds: ['tune-1'] },
      });
      expect((await get('/api/reports/performance?group_by=partner&partner=tune-1&campaign=camp-2', camp1)).status).toBe(403);
      expect(performanceRequests.length).toBe(4);

      // msg-a and conversion tune-1/tx-1 belong to camp-1.
      expect((await get('/api/reports/messages/msg-a', camp1)).status).toBe(200);
      expect((await get('/api/conversions/tune-1/tx-1', camp1)).status).toBe(200);
      const hidden = await get('/api/reports/messages/msg-a', camp2);
      const missing = await get('/api/reports/messages/msg-nope', camp2);
      expect([hidden.status, missing.status]).toEqual([404, 404]);
      expect(await json(hidden)).toEqual({ error: 'NOT_FOUND', message: 'message "msg-a" not found' });
      const hiddenConversion = await get('/api/conversions/tune-1/tx-1', camp2);
      expect(hiddenConversion.status).toBe(404);
      expect(await json(hiddenConversion)).toEqual({ error: 'NOT_FOUND', message: 'conversion "tune-1/tx-1" not found' });
      // Not decided yet: no campaign to check against, so not shown to a restricted key.
      expect((await get('/api/conversions/tune-1/tx-new', camp1)).status).toBe(404);
      expect((await get('/api/conversions/tune-1/tx-new')).status).toBe(200);

      // Reports with no campaign filter are not for restricted keys.
      for (const path of ['/api/reports/reconciliation', '/api/reports/maturity', '/api/reports/contacts/contact-1/journey']) {
        const res = await get(path, camp1);
        expect([path, res.status]).toEqual([path, 403]);
      }
    });

    it('leaves the probes open', async () => {
      expect((await get('/healthz', {})).status).toBe(200);
      expect((await get('/readyz', {})).status).toBe(200);
    });

    it('leaves /api open when no key is configured', async () => {
      const open = await start('');
      try {
        expect((await get('/api/reports/messages/msg-a', {}, open.base)).status).toBe(200);
      } finally {
        await open.running.close();
      }
    });
  });

  describe('probes', () => {
    it('is live and ready while every downstream serves', async () => {
      expect(await json(await get('/healthz'))).toEqual({ status: 'ok' });
      const res = await get('/readyz');
      expect(res.status).toBe(200);
      expect(await json(res)).toEqual({
        status: 'ready',
        downstreams: { reporting: 'SERVING', ingest: 'SERVING', attribution: 'SERVING', tracking: 'SERVING' },
      });
    });

    it('is not ready while a downstream reports NOT_SERVING, and ready again after', async () => {
      attribution.health.setStatus(attribution.serviceName, 'NOT_SERVING');
      try {
        const res = await get('/readyz', {});
        expect(res.status).toBe(503);
        expect(await json(res)).toMatchObject({ error: 'NOT_READY', down: ['attribution'], downstreams: { attribution: 'NOT_SERVING', reporting: 'SERVING' } });
      } finally {
        attribution.health.setStatus(attribution.serviceName, 'SERVING');
      }
      expect((await get('/readyz', {})).status).toBe(200);
    });

    it('is not ready when a downstream is down, and stays live', async () => {
      tracking.stop();
      const res = await get('/readyz', {});
      expect(res.status).toBe(503);
      const body = await json(res);
      expect(body).toMatchObject({ error: 'NOT_READY', message: 'not serving: tracking', down: ['tracking'] });
      expect((body.downstreams as Record<string, string>).tracking).toMatch(/^UNAVAILABLE/);
      expect((await get('/healthz', {})).status).toBe(200);
    });
  });
});
