/**
 * A realistic day through the public interfaces only, as a sender and a partner would: the catalog and a blast
 * registered over gRPC, contacts tapping tracked links over HTTP, an affiliate network posting conversions back
 * (one twice, one with a click id we never issued), then the dashboards' reports read from the gateway.
 */
import { createGrpcClient, GrpcSecurityConfig } from '@trackly/grpc';
import { TrackingServiceService } from '@trackly/contracts/tracking/v1/tracking_service';
import { IngestServiceService } from '@trackly/contracts/ingest/v1/ingest_service';
import { PartnerKind } from '@trackly/contracts/ingest/v1/ingest';

export interface DemoEndpoints {
  trackingGrpc: string;
  /** Where the network is registered as a partner (host:port). */
  ingestGrpc: string;
  ingestHttp: string;
  gatewayHttp: string;
  /** Sent as a bearer token to the gateway when set. */
  apiKey?: string;
  /** gRPC auth of the services (GRPC_AUTH_MODE and friends); unset = development, no auth. */
  grpcSecurity?: GrpcSecurityConfig;
  /**
   * How long to wait for the unknown click id to be settled. Attribution parks it first (the click's event might
   * still be on its way) and settles it at its horizon (24 h by default), so by default the demo shows it parked.
   */
  settleWaitMs?: number;
}

export interface DemoResult {
  byOffer: ReportJson;
  byCreative: ReportJson;
  message: Record<string, unknown>;
  journey: Record<string, unknown>;
  unknownConversion: Record<string, unknown>;
  postbackAnswers: string[];
}

interface MoneyJson {
  currencyCode: string;
  amountMicros: string;
  amount?: string;
}
interface RowJson {
  key: string;
  name?: string;
  sends?: string;
  clicks?: string;
  uniqueClicks?: string;
  conversions?: string;
  revenue?: { revenue?: MoneyJson; pendingRevenue?: MoneyJson; revenuePerSend?: MoneyJson; epc?: MoneyJson }[];
}
interface ReportJson {
  rows?: RowJson[];
  total?: RowJson;
}

const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';
const ANDROID = 'Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36';

export async function runDemo(ep: DemoEndpoints, log: (line: string) => void = console.log): Promise<DemoResult> {
  const run = Date.now().toString(36);
  const id = (s: string) => `${s}-${run}`;
  const tracking = createGrpcClient(TrackingServiceService, ep.trackingGrpc, { deadlineMs: 5000, security: ep.grpcSecurity });
  const ingest = createGrpcClient(IngestServiceService, ep.ingestGrpc, { deadlineMs: 5000, security: ep.grpcSecurity });
  try {
    log(`1. Catalog: a campaign, two creatives, two offers (run ${run})`);
    await tracking.upsertCampaign({ campaignId: id('bf-blast'), name: 'Black Friday blast' });
    await tracking.upsertCreative({ creativeId: id('cr-20off'), name: 'BF 20% off' });
    await tracking.upsertCreative({ creativeId: id('cr-ship'), name: 'BF free shipping' });
    await tracking.upsertOffer({
      offerId: id('summer'), name: 'Summer Clearance', destinationUrlTemplate: 'https://shop.example.com/summer?aff_click_id={click_id}&utm_campaign={campaign_id}',
      defaultPayout: { currencyCode: 'USD', amountMicros: '24990000' }, clickWindowDays: 30,
    });
    await tracking.upsertOffer({
      offerId: id('buds'), name: 'Wireless Earbuds', destinationUrlTemplate: 'https://audio.example.net/buds?sub1={click_id}',
      defaultPayout: { currencyCode: 'USD', amountMicros: '12000000' },
    });

    log('2. Sending 6 messages to 4 contacts');
    const now = new Date();
    const plan = [
      ['ana', 'cr-20off', 'summer'], ['ana', 'cr-ship', 'summer'], ['ben', 'cr-20off', 'summer'],
      ['cleo', 'cr-ship', 'buds'], ['dev', 'cr-20off', 'buds'], ['dev', 'cr-ship', 'summer'],
    ] as const;
    const { messages } = await tracking.registerMessages({
      messages: plan.map(([contact, creative, offer], i) => ({
        messageId: id(`msg-${i + 1}`), contactId: id(contact), phoneE164: `+1555010${String(1000 + i).slice(-4)}`,
        campaignId: id('bf-blast'), creativeId: id(creative), offerId: id(offer), sentAt: new Date(now.getTime() - (6 - i) * 60_000),
      })),
    });

    log('3. Contacts tap their links (the click edge records each click, then redirects with the click id)');
    const tap = async (i: number, ua: string) => {
      const res = await fetch(messages[i].trackedUrl, { redirect: 'manual', headers: { 'user-agent': ua } });
      if (res.status !== 302) throw new Error(`click on ${messages[i].trackedUrl} answered ${res.status}`);
      const location = new URL(res.headers.get('location')!);
      return location.searchParams.get('aff_click_id') ?? location.searchParams.get('sub1')!;
    };
    const anaFirst = await tap(0, IPHONE); // ana taps message 1 first...
    const anaSecond = await tap(1, IPHONE); // ...then message 2 for the same offer: message 1 keeps the credit
    await tap(0, IPHONE); // a later click on the same message is tracked, not a new engagement
    const ben = await tap(2, ANDROID);
    const cleo = await tap(3, ANDROID);
    await tap(4, ANDROID); // dev clicks but never buys
    log(`   ana ${anaFirst}, ${anaSecond}; ben ${ben}; cleo ${cleo}`);

    log('4. The affiliate network is registered with ingest and posts conversions back to the ingest edge');
    const { token } = await ingest.upsertPartner({
      partnerId: id('everflow'), name: 'Everflow network', kind: PartnerKind.PARTNER_KIND_GENERIC, clickIdParam: '', defaultCurrency: 'USD', allowedSources: [],
    });
    const post = async (query: Record<string, string>, method: 'GET' | 'POST' = 'GET') => {
      const url = new URL(`${ep.ingestHttp}/postbacks/${id('everflow')}`);
      url.searchParams.set('token', token);
      const init: RequestInit = {};
      if (method === 'GET') for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
      else Object.assign(init, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(query) });
      const res = await fetch(url, init);
      const body = await res.text();
      if (res.status !== 200) throw new Error(`postback answered ${res.status}: ${body}`);
      log(`   ${method} ${query.conversion_id}: ${body}`);
      return body;
    };
    const answers = [
      await post({ click_id: anaSecond, conversion_id: id('ord-1001'), payout: '24.99', currency: 'USD' }), // credited to message 1
      await post({ click_id: anaSecond, conversion_id: id('ord-1001'), payout: '24.99', currency: 'USD' }), // retried by the network
      await post({ click_id: ben, conversion_id: id('ord-1002'), payout: '24,99', currency: 'USD', status: 'pending' }),
      await post({ click_id: cleo, conversion_id: id('ord-1003'), payout: '12.00', currency: 'USD' }, 'POST'),
      await post({ click_id: 'not-one-of-ours', conversion_id: id('ord-1004'), payout: '30.00', currency: 'USD' }),
    ];

    log('5. Waiting for the revenue to reach the reports');
    const auth: Record<string, string> = ep.apiKey ? { authorization: `Bearer ${ep.apiKey}` } : {};
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const get = async (path: string): Promise<any> => {
      const res = await fetch(`${ep.gatewayHttp}${path}`, { headers: auth });
      if (!res.ok) throw new Error(`GET ${path} answered ${res.status}: ${await res.text()}`);
      return res.json();
    };
    const today = now.toISOString().slice(0, 10);
    const tomorrow = new Date(now.getTime() + 86_400_000).toISOString().slice(0, 10);
    const range = `from=${today}&to=${tomorrow}&tz=UTC`;
    const deadline = Date.now() + 30_000;
    let byOffer: ReportJson = {};
    for (;;) {
      byOffer = await get(`/api/reports/performance?group_by=offer&${range}`);
      const summer = byOffer.rows?.find((r) => r.key === id('summer'));
      const buds = byOffer.rows?.find((r) => r.key === id('buds'));
      if (summer?.conversions === '2' && buds?.conversions === '1') break;
      if (Date.now() > deadline) throw new Error(`revenue did not reach the report in 30 s: ${JSON.stringify(byOffer)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const byCreative: ReportJson = await get(`/api/reports/performance?group_by=creative&${range}`);
    // The message and journey views are read models of the send and tap streams, which run apart from the
    // conversions: wait for them too (a 404 until the send is applied), then read them for good.
    const messagePath = `/api/reports/messages/${encodeURIComponent(messages[0].messageId)}`;
    const journeyPath = `/api/reports/contacts/${encodeURIComponent(id('ana'))}/journey`;
    await eventuallyJson(() => get(messagePath), (j) => Array.isArray(j.conversions) && j.conversions.length > 0, 30_000);
    await eventuallyJson(() => get(journeyPath), (j) => Number(j.conversions) > 0, 30_000);
    const message = await get(messagePath);
    const journey = await get(journeyPath);
    // Attribution parks an unknown click id (PENDING) until its horizon before settling it as UNKNOWN_CLICK_ID.
    const decided = (j: Record<string, unknown>) => !!j.attribution;
    const settled = (j: Record<string, unknown>) => decided(j) && (j.attribution as { outcome?: string }).outcome !== 'ATTRIBUTION_OUTCOME_PENDING';
    const conversionUrl = `/api/conversions/${id('everflow')}/${id('ord-1004')}`;
    await eventuallyJson(() => get(conversionUrl), decided, 15_000);
    const unknownConversion = await eventuallyJson(() => get(conversionUrl), settled, ep.settleWaitMs ?? 0);

    log('\nPerformance by offer (this run):');
    printRows(byOffer.rows?.filter((r) => r.key.endsWith(run)) ?? [], log, 'EPC');
    log('\nPerformance by creative (this run):');
    printRows(byCreative.rows?.filter((r) => r.key.endsWith(run)) ?? [], log, 'per send');
    log(`\nMessage ${messages[0].messageId}: clicked=${message.clicked}, clicks=${message.clickCount}, conversions=${(message.conversions as unknown[])?.length ?? 0}, revenue=${money(message.revenue as MoneyJson[])}`);
    log(`Contact ${id('ana')}: ${journey.messagesReceived} messages, ${journey.clicks} clicks, ${journey.conversions} conversions, revenue ${money(journey.totalRevenue as MoneyJson[])}`);
    const diag = unknownConversion.diagnosis as Record<string, unknown> | undefined;
    log(`Conversion ${id('ord-1004')}: ${JSON.stringify(diag ?? unknownConversion.attribution)}`);
    return { byOffer, byCreative, message, journey, unknownConversion, postbackAnswers: answers };
  } finally {
    tracking.close();
    ingest.close();
  }
}

async function eventuallyJson(fetcher: () => Promise<Record<string, unknown>>, ok: (j: Record<string, unknown>) => boolean, waitMs: number) {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const j = await fetcher().catch(() => ({}) as Record<string, unknown>);
    if (ok(j) || Date.now() > deadline) return j;
    await new Promise((r) => setTimeout(r, 200));
  }
}

function money(list: MoneyJson[] | undefined): string {
  return list?.length ? list.map((m) => `${m.amount ?? m.amountMicros} ${m.currencyCode}`).join(' + ') : '0';
}

function printRows(rows: RowJson[], log: (l: string) => void, ratio: 'EPC' | 'per send') {
  const head = ['', 'sends', 'clicks', 'conv.', 'revenue', 'pending', ratio];
  const table = rows.map((r) => {
    const rev = r.revenue?.[0];
    return [r.name || r.key, r.sends ?? '0', r.clicks ?? '0', r.conversions ?? '0', money(rev?.revenue ? [rev.revenue] : []), money(rev?.pendingRevenue ? [rev.pendingRevenue] : []), money(ratio === 'EPC' ? (rev?.epc ? [rev.epc] : []) : rev?.revenuePerSend ? [rev.revenuePerSend] : [])];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((t) => t[i].length)));
  for (const line of [head, ...table]) log(`  ${line.map((c, i) => (i ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ')}`);
}
