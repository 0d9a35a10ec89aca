/**
 * The real stack for the console's browser specs: the six apps in this process (each with its own database, one
 * NATS prefix), the gateway serving the built console, and seed data written through the public interfaces only
 * (catalog and sends over tracking's gRPC, taps on the tracked links over HTTP, a partner registered with ingest and
 * its postbacks sent to the ingest edge).
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { createGrpcClient } from '@trackly/grpc';
import { eventually } from '@trackly/testing';
import { PartnerKind } from '@trackly/contracts/ingest/v1/ingest';
import { IngestServiceService } from '@trackly/contracts/ingest/v1/ingest_service';
import { TrackingServiceService } from '@trackly/contracts/tracking/v1/tracking_service';
import { bootApps, ShiftedClock } from '../../gateway/test/in-process-platform';
import { apiKeysJson } from '../../gateway/test/api-key-entries';

export const CONSOLE_DIR = path.resolve(__dirname, '../../../dist/apps/console');
export const ADMIN_KEY = 'console-admin-key-0123456789abcdef';
export const READER_KEY = 'console-reader-key-0123456789abcdef';
const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';
const DAY = 86_400_000;

export interface Seed {
  /** Today in UTC and the seed's send day, YYYY-MM-DD. */
  today: string;
  sendDay: string;
  offerId: string;
  messageIds: string[];
  contactIds: string[];
  /** Click ids of the seed's taps, in order: m1 (twice), m2. */
  clickIds: string[];
  seedPartnerId: string;
  seedConversionId: string;
}

export interface Stack {
  gatewayHttp: string;
  seed: Seed;
  stop(): Promise<void>;
}

export async function startStack(): Promise<Stack> {
  if (!existsSync(path.join(CONSOLE_DIR, 'index.html'))) {
    throw new Error(`the console is not built (${CONSOLE_DIR}): run \`npx nx build console\` first (\`npm test\` builds it before the specs)`);
  }
  const clock = new ShiftedClock();
  const { endpoints: ep, stop } = await bootApps({
    apps: ['tracking', 'ingest', 'attribution', 'reporting', 'delivery'],
    clocks: { tracking: clock },
    env: {
      attribution: { ATTRIBUTION_PARK_HORIZON_SECONDS: '1' },
      // The Webhooks screen's receiver listens on 127.0.0.1, which production refuses as a destination.
      delivery: { DELIVERY_ALLOW_PRIVATE_DESTINATIONS: 'true', METRICS_PORT: '0' },
      gateway: {
        GATEWAY_CONSOLE_DIR: CONSOLE_DIR,
        GATEWAY_API_KEYS: apiKeysJson([
          { name: 'console-admin', key: ADMIN_KEY },
          { name: 'camp-reader', key: READER_KEY, scopes: ['reports:read', 'conversions:read'], campaigns: ['camp-spring'] },
        ]),
      },
    },
  });
  try {
    const seed = await seedData(ep, clock);
    return { gatewayHttp: ep.gatewayHttp, seed, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

async function seedData(ep: { trackingGrpc: string; ingestGrpc: string; ingestHttp: string; gatewayHttp: string }, clock: ShiftedClock): Promise<Seed> {
  const tracking = createGrpcClient(TrackingServiceService, ep.trackingGrpc, { deadlineMs: 10_000 });
  const ingest = createGrpcClient(IngestServiceService, ep.ingestGrpc, { deadlineMs: 10_000 });
  try {
    // Noon UTC ten days ago: the taps half an hour after the sends stay on the send day whenever the suite runs (from
    // the current time, a run after 23:30 UTC put them on the next day, a date row the reports test does not expect).
    const tenDaysAgo = new Date(Math.floor((Date.now() - 10 * DAY) / DAY) * DAY + DAY / 2);
    await tracking.upsertCampaign({ campaignId: 'camp-spring', name: 'Spring blast' });
    await tracking.upsertCreative({ creativeId: 'cr-20off', name: 'Spring 20% off' });
    await tracking.upsertCreative({ creativeId: 'cr-ship', name: 'Free shipping' });
    await tracking.upsertOffer({
      offerId: 'summer', name: 'Summer Clearance', destinationUrlTemplate: 'https://shop.example.com/summer?aff_click_id={click_id}',
      defaultPayout: { currencyCode: 'USD', amountMicros: '24990000' }, clickWindowDays: 30,
    });
    const plan = [['ana', 'cr-20off'], ['ben', 'cr-ship'], ['cleo', 'cr-20off']];
    const { messages } = await tracking.registerMessages({
      messages: plan.map(([contact, creative], i) => ({
        messageId: `m${i + 1}`, contactId: contact, phoneE164: `+1555010100${i}`, campaignId: 'camp-spring', creativeId: creative, offerId: 'summer',
        sentAt: new Date(tenDaysAgo.getTime() + i * 60_000),
      })),
    });
    // The taps happen ten days ago on tracking's clock: ana twice (one engagement, two taps), ben once.
    clock.set(new Date(tenDaysAgo.getTime() + 30 * 60_000));
    const tap = async (url: string) => {
      const res = await fetch(url, { redirect: 'manual', headers: { 'user-agent': IPHONE } });
      if (res.status !== 302) throw new Error(`tap on ${url} answered ${res.status}`);
      return new URL(res.headers.get('location')!).searchParams.get('aff_click_id')!;
    };
    const clickIds = [await tap(messages[0].trackedUrl), await tap(messages[0].trackedUrl), await tap(messages[1].trackedUrl)];
    clock.reset();

    const { token } = await ingest.upsertPartner({
      partnerId: 'network-a', name: 'Network A', kind: PartnerKind.PARTNER_KIND_GENERIC, clickIdParam: '', defaultCurrency: 'USD', allowedSources: [],
    });
    const url = new URL(`${ep.ingestHttp}/postbacks/network-a`);
    for (const [k, v] of Object.entries({ token, click_id: clickIds[0], conversion_id: 'ord-1001', payout: '24.99', currency: 'USD' })) url.searchParams.set(k, v);
    const res = await fetch(url);
    if (res.status !== 200) throw new Error(`seed postback answered ${res.status}: ${await res.text()}`);

    const today = new Date().toISOString().slice(0, 10);
    const sendDay = tenDaysAgo.toISOString().slice(0, 10);
    // The reports have it all once the sends, taps and the credit went through the events.
    await eventually(async () => {
      const r = await fetch(`${ep.gatewayHttp}/api/reports/performance?group_by=offer&from=${sendDay}&to=${today}&tz=UTC`, { headers: { 'x-api-key': ADMIN_KEY } });
      const body = (await r.json()) as { total?: { sends?: string; clicks?: string; taps?: string; conversions?: string } };
      // Two engagements (m1 tapped twice, m2 once) and three taps.
      return body.total?.sends === '3' && body.total.clicks === '2' && body.total.taps === '3' && body.total.conversions === '1';
    }, 30_000);
    return {
      today, sendDay, offerId: 'summer', messageIds: messages.map((m) => m.messageId), contactIds: plan.map(([c]) => c), clickIds,
      seedPartnerId: 'network-a', seedConversionId: 'ord-1001',
    };
  } finally {
    tracking.close();
    ingest.close();
  }
}
