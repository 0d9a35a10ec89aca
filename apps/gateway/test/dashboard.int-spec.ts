import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { chromium, Browser, Page } from 'playwright-core';
import { RunningService } from '@trackly/grpc';
import { freePort } from '@trackly/testing';
import {
  GetPerformanceReportRequest,
  GetPerformanceReportResponse,
  JourneyEventKind,
  PerformanceRow,
  ReportGrouping,
  ReportingServiceServer,
  ReportingServiceService,
  RevenueTotal,
} from '@trackly/contracts/reporting/v1/reporting_service';
import { loadGatewayConfig } from '../src/gateway.config';
import { startGateway } from '../src/gateway.app';
import { apiKeysJson } from './api-key-entries';

/**
 * The dashboard in headless Chromium (Debian's package, driven by playwright-core) against the real gateway and a
 * reporting stub seeded with the product guide's figures: the page loads, shows the numbers, switches group-by and
 * time zone, looks up a message and a contact, and downloads CSV.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const KEY = 'dashboard-test-key-0123456789';
const USD = (amountMicros: string) => ({ currencyCode: 'USD', amountMicros });

function revenue(approved: string, perSend: string, epc: string, conversions: string): RevenueTotal {
  return { revenue: USD(approved), pendingRevenue: USD('0'), reversed: USD('0'), revenuePerSend: USD(perSend), epc: USD(epc), conversions, reversedConversions: '0' };
}

function row(key: string, name: string, sends: string, clicks: string, conversions: string, rev: RevenueTotal[], key2 = ''): PerformanceRow {
  return {
    key, name, key2, name2: '', sends, clicks, uniqueClicks: clicks, conversions, reversedConversions: '0',
    ctrPpm: sends === '0' ? '0' : String(Math.round((Number(clicks) * 1e6) / Number(sends))),
    cvrPpm: clicks === '0' ? '0' : String(Math.round((Number(conversions) * 1e6) / Number(clicks))),
    revenue: rev,
  };
}

// The seed: the guide's creative and offer; revenue by date depends on the zone the days are cut in.
function performance(req: GetPerformanceReportRequest): GetPerformanceReportResponse {
  const creative = row('cr-summer', 'Summer Sale 20%', '10000', '1200', '48', [revenue('1152000000', '115200', '960000', '48')]);
  const offer = row('off-summer', 'Summer Clearance', '50000', '6000', '240', [revenue('5760000000', '115200', '960000', '240')]);
  const days: Record<string, [string, string][]> = {
    UTC: [['2026-05-01', '1000000000'], ['2026-05-02', '4760000000']],
    'Asia/Tokyo': [['2026-05-02', '2000000000'], ['2026-05-03', '3760000000']],
  };
  const byDay = (days[req.timeZone] ?? days.UTC).map(([day, micros]) => row(day, '', '25000', '3000', '120', [revenue(micros, '0', '0', '120')]));
  const rows =
    req.groupBy === ReportGrouping.REPORT_GROUPING_OFFER ? [offer]
    : req.groupBy === ReportGrouping.REPORT_GROUPING_DATE ? byDay
    : [creative, row('cr-other', 'Free shipping', '40000', '4800', '192', [revenue('4608000000', '115200', '960000', '192')])];
  return { rows, total: offer, timeZone: req.timeZone, thenBy: req.thenBy, dateBasis: req.dateBasis };
}

describe('dashboard (headless Chromium, real gateway, reporting stub)', () => {
  const requests: GetPerformanceReportRequest[] = [];
  let server: grpc.Server;
  let gateway: RunningService;
  let base: string;
  let browser: Browser;
  let page: Page;

  const impl: ReportingServiceServer = {
    getPerformanceReport: (call, cb) => {
      requests.push(call.request);
      cb(null, performance(call.request));
    },
    getCohortMaturity: (call, cb) => {
      const usd = (amountMicros: string) => ({ currencyCode: 'USD', amountMicros });
      const point = (days: number, rev: string, perSend: string) => ({ days, revenue: [usd(rev)], revenuePerSend: [usd(perSend)] });
      const total = { key: '', name: '', sends: '10000', points: [point(1, '240000000', '24000'), point(7, '960000000', '96000'), point(30, '1152000000', '115200'), point(90, '1152000000', '115200')] };
      cb(null, { timeZone: call.request.timeZone, rows: call.request.groupBy ? [{ ...total, key: 'cr-summer', name: 'Summer Sale 20%' }] : [], total });
    },
    getReconciliationReport: (call, cb) =>
      cb(null, {
        timeZone: call.request.timeZone,
        rows: [{
          partnerId: 'tune', date: '2026-05-02', currencyCode: 'USD',
          received: { count: '242', amount: USD('5808000000') }, receivedPendingStatus: { count: '0', amount: USD('0') },
          credited: { count: '240', amount: USD('5760000000') }, reversed: { count: '0', amount: USD('0') },
          unattributed: [{ reason: 'UNKNOWN_CLICK_ID', total: { count: '2', amount: USD('48000000') } }], pending: { count: '0', amount: USD('0') },
        }],
      }),
    getMessageReport: (call, cb) =>
      cb(null, {
        messageId: call.request.messageId, contactId: 'alice', phoneMasked: '+1***1234', campaignId: 'camp-1', creativeId: 'cr-summer',
        offerId: 'off-summer', sentAt: new Date('2026-05-01T10:00:00Z'), clicked: true, firstClickedAt: new Date('2026-05-01T10:05:00Z'), clickCount: '2',
        clickTimes: [new Date('2026-05-01T10:05:00Z'), new Date('2026-05-01T11:30:00Z')],
        conversions: [{
          partnerId: 'tune', conversionId: 'ord-1', clickId: 'k1', payout: USD('24990000'), occurredAt: new Date('2026-05-01T12:00:00Z'),
          status: 'approved', messageId: call.request.messageId, offerId: 'off-summer',
        }],
        revenue: [USD('24990000')],
      }),
    getContactJourney: (call, cb) =>
      cb(null, {
        contactId: call.request.contactId, messagesReceived: '1', clicks: '1', conversions: '1', totalRevenue: [USD('24990000')],
        events: [
          { kind: JourneyEventKind.JOURNEY_EVENT_KIND_MESSAGE_SENT, at: new Date('2026-05-01T10:00:00Z'), messageId: 'msg-a', clickId: '', offerId: 'off-summer', payout: undefined, conversionId: '' },
          { kind: JourneyEventKind.JOURNEY_EVENT_KIND_CONVERSION, at: new Date('2026-05-01T12:00:00Z'), messageId: 'msg-a', clickId: 'k1', offerId: 'off-summer', payout: USD('24990000'), conversionId: 'ord-1' },
        ],
      }),
  };

  beforeAll(async () => {
    server = new grpc.Server();
    server.addService(ReportingServiceService, impl);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    const httpPort = await freePort();
    gateway = await startGateway(
      loadGatewayConfig({
        GATEWAY_HOST: '127.0.0.1', GATEWAY_HTTP_PORT: String(httpPort), REPORTING_GRPC_URL: `127.0.0.1:${port}`,
        // Not called by the dashboard: they only need to be well-formed targets.
        INGEST_GRPC_URL: '127.0.0.1:9', ATTRIBUTION_GRPC_URL: '127.0.0.1:9', TRACKING_GRPC_URL: '127.0.0.1:9',
        GATEWAY_API_KEYS: apiKeysJson([{ name: 'dashboard', key: KEY }]), LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
      }),
    );
    base = `http://127.0.0.1:${httpPort}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = await browser.newPage({ acceptDownloads: true });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await gateway?.close();
    server?.forceShutdown();
  });

  const cells = (selector: string) => page.$$eval(`${selector} tr`, (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent ?? '')));
  // Selectors, not page functions: the page's CSP forbids eval, and this file is compiled without the DOM library.
  const settled = () => page.waitForSelector('body[data-loading="false"]', { state: 'attached' });

  it('asks for a key, then shows the seeded performance table, chart and reconciliation', async () => {
    const failed: string[] = [];
    page.on('requestfailed', (r) => failed.push(r.url()));
    await page.goto(`${base}/`);
    await settled();
    expect(await page.textContent('#error')).toMatch(/401 UNAUTHENTICATED/);

    await page.fill('#api-key', KEY);
    await page.fill('#from', '2026-05-01');
    await page.fill('#to', '2026-05-31');
    await page.click('#key-form button[type=submit]');
    await page.waitForSelector('#performance tbody td:has-text("Summer Sale 20%")');
    await settled();
    expect(await page.isHidden('#error')).toBe(true);
    const body = await cells('#performance tbody');
    expect(body[0]).toEqual([
      'Summer Sale 20% (cr-summer)', '10000', '1200', '1200', '48', '0', '12.00%', '4.00%', 'USD 1152.00', 'USD 0.00', 'USD 0.00', 'USD 0.1152', 'USD 0.96',
    ]);
    expect(requests.at(-1)).toMatchObject({ fromDate: '2026-05-01', toDate: '2026-05-31', timeZone: 'UTC' });
    // Revenue by date, from a date-grouped report of the same range.
    expect(await page.$$eval('#chart rect', (rs) => rs.map((r) => r.querySelector('title')?.textContent))).toEqual([
      '2026-05-01: USD 1000.00', '2026-05-02: USD 4760.00',
    ]);
    expect((await cells('#reconciliation tbody'))[0]).toEqual([
      'tune', '2026-05-02', 'USD', '242 · USD 5808.00', '240 · USD 5760.00', '0 · USD 0.00', 'UNKNOWN_CLICK_ID: 2 · USD 48.00', '0 · USD 0.00', '0 · USD 0.00',
    ]);
    expect((await cells('#maturity tbody'))[0]).toEqual(['Summer Sale 20% (cr-summer)', '10000', 'USD', 'USD 0.024', 'USD 0.096', 'USD 0.1152', 'USD 0.1152']);
    expect(failed).toEqual([]);
  });

  it('switches group-by to offer and shows EPC $0.96', async () => {
    await page.selectOption('#group-by', 'offer');
    await page.waitForSelector('#performance tbody td:has-text("Summer Clearance")');
    await settled();
    expect(await page.textContent('#performance thead th')).toBe('Offer');
    const [offer] = await cells('#performance tbody');
    expect(offer.slice(0, 5)).toEqual(['Summer Clearance (off-summer)', '50000', '6000', '6000', '240']);
    expect(offer.at(-1)).toBe('USD 0.96');
    expect(requests.some((r) => r.groupBy === ReportGrouping.REPORT_GROUPING_OFFER)).toBe(true);
  });

  it('switches the time zone: days are cut again and every report is asked in the new zone', async () => {
    const before = requests.length;
    await page.selectOption('#tz', 'Asia/Tokyo');
    await page.waitForSelector('#chart[data-time-zone="Asia/Tokyo"]', { state: 'attached' });
    await settled();
    expect(await page.$$eval('#chart rect', (rs) => rs.map((r) => r.getAttribute('data-day')))).toEqual(['2026-05-02', '2026-05-03']);
    expect(requests.slice(before).map((r) => r.timeZone)).toEqual(['Asia/Tokyo', 'Asia/Tokyo']);
    await page.selectOption('#group-by', 'date');
    await page.waitForSelector('#performance tbody td:has-text("2026-05-03")');
  });

  it('looks up a message and a contact journey', async () => {
    await page.fill('#message-id', 'msg-a');
    await page.click('#message-form button');
    await page.waitForSelector('#message dd:has-text("+1***1234")');
    expect(await page.textContent('#message')).toContain('USD 24.99');
    expect(await page.textContent('#message')).toContain('2026-05-01T11:30:00.000Z');
    await page.fill('#contact-id', 'alice');
    await page.click('#contact-form button');
    await page.waitForSelector('#journey td:has-text("conversion")');
    // DASHBOARD_SCREENSHOT=/tmp/dashboard.png keeps a picture of the page for a person to look at.
    if (process.env.DASHBOARD_SCREENSHOT) await page.screenshot({ path: process.env.DASHBOARD_SCREENSHOT, fullPage: true });
    expect((await cells('#journey tbody')).map((r) => r[1])).toEqual(['message sent', 'conversion']);
  });

  it('downloads the report as CSV', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv')]);
    expect(download.suggestedFilename()).toBe('trackly-performance.csv');
    const text = readFileSync((await download.path())!, 'utf8');
    expect(text.split('\r\n')[1]).toBe('2026-05-02,,,,USD,25000,3000,3000,120,0,0.12,0.04,2000.00,0.00,0.00,0.00,0.00');
  });
});
