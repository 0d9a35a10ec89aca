import { Client } from 'pg';
import { createGrpcClient, OpsClient } from '@trackly/grpc';
import { eventually } from '@trackly/testing';
import { TrackingServiceService } from '@trackly/contracts/tracking/v1/tracking_service';
import { IngestServiceService } from '@trackly/contracts/ingest/v1/ingest_service';
import { PartnerKind } from '@trackly/contracts/ingest/v1/ingest';
import { driftLine, OpsClients, READ_MODELS, readModelDrift, rebuild } from '../../../tools/ops/src/rebuild';
import { Platform, ShiftedClock, startPlatform } from './platform';

/**
 * `npm run rebuild` against the five apps (real Postgres, NATS, gRPC): a known data set, its reports, then a dry run
 * (nothing removed), a rebuild of reporting while new traffic flows, and a rebuild of attribution's projections —
 * each ends with the same report rows as before (plus exactly the new traffic), nothing counted twice.
 * REBUILD_SPEC_SENDS (default 60) sizes the data set; the figure in docs/operations.md comes from a larger one.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const SENDS = Number(process.env.REBUILD_SPEC_SENDS ?? 60);
// Half the sends on each offer, every other one tapped: the expectations below count on whole halves.
if (!Number.isInteger(SENDS) || SENDS < 8 || SENDS % 4) throw new Error('REBUILD_SPEC_SENDS must be a multiple of 4, at least 8');
const FROM = '2026-11-01';
const TO = '2026-11-30';
/** Waits and timeouts grow with the data set. */
const WAIT = 30_000 + SENDS * 20;

describe('rebuild a read model from its producers', () => {
  const clock = new ShiftedClock();
  let p: Platform;
  let tracking: ReturnType<typeof createGrpcClient<typeof TrackingServiceService>>;
  let ingest: ReturnType<typeof createGrpcClient<typeof IngestServiceService>>;
  let ops: OpsClients;
  let token = '';
  const clickIds = new Map<string, string>();
  const lines: string[] = [];
  const log = (l: string) => lines.push(l);

  const api = async (path: string): Promise<Json> => {
    const res = await fetch(`${p.gatewayHttp}${path}`, { headers: { authorization: `Bearer ${p.apiKey}` } });
    const body = await res.json();
    if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
    return body;
  };
  /** Every report the books are read from: performance by each dimension, reconciliation, two message reports. */
  const books = async (): Promise<Record<string, Json>> => {
    const out: Record<string, Json> = {};
    for (const g of ['offer', 'creative', 'campaign', 'date']) out[g] = await api(`/api/reports/performance?group_by=${g}&from=${FROM}&to=${TO}&tz=UTC`);
    out.reconciliation = await api(`/api/reports/reconciliation?from=${FROM}&to=${TO}&tz=UTC`);
    out.msg0 = await api('/api/reports/messages/m-0');
    out.msg1 = await api('/api/reports/messages/m-1');
    return out;
  };
  const postback = async (params: Record<string, string>) => {
    const url = new URL(`${p.ingestHttp}/postbacks/everflow`);
    for (const [k, v] of Object.entries({ ...params, token })) url.searchParams.set(k, v);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    return (await res.json()) as Json;
  };
  const tap = async (trackedUrl: string) => {
    const res = await fetch(trackedUrl, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0 (iPhone)' } });
    expect(res.status).toBe(302);
    return new URL(res.headers.get('location')!).searchParams.get('cid')!;
  };
  /** Sends <prefix>-<from>..<prefix>-<to-1> of an offer/creative/campaign at the clock's time; taps every other one an hour later. */
  const traffic = async (prefix: string, from: number, to: number, ids: { offer: string; creative: string; campaign: string }) => {
    const sent = await tracking.registerMessages({
      messages: Array.from({ length: to - from }, (_, i) => ({
        messageId: `${prefix}-${from + i}`, contactId: `c-${(from + i) % 17}`, phoneE164: '+15551234567',
        campaignId: ids.campaign, creativeId: ids.creative, offerId: ids.offer, sentAt: clock.now(),
      })),
    });
    // An hour later: a tap right after the send is taken for a link preview.
    clock.set(new Date(clock.now().getTime() + 3600_000));
    for (const [i, m] of sent.messages.entries()) if ((from + i) % 2 === 0) clickIds.set(m.messageId, await tap(m.trackedUrl));
  };
  const tables = async (db: string, schema: string): Promise<string[]> => {
    const c = new Client({ connectionString: db });
    await c.connect();
    try {
      // Partitions go with their parent (a TRUNCATE of the parent empties them): only top-level tables are listed.
      const r = await c.query(
        `SELECT c.relname AS table_name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1`,
        [schema],
      );
      return r.rows.map((x) => `${schema}.${x.table_name}`);
    } finally {
      await c.end();
    }
  };
  /** Drift of a read model against its producers is nil, and something was compared. */
  const settled = async (service: 'attribution' | 'reporting') => {
    const d = await readModelDrift(service, READ_MODELS[service]!, ops);
    // Thrown, so that a wait that times out names what still differs.
    if (d.compared === 0 || d.drifts.length) throw new Error(`${service} not settled: ${d.compared} compared, ${d.drifts.map(driftLine).join('; ')}`);
    return true;
  };

  beforeAll(async () => {
    p = await startPlatform(clock);
    tracking = createGrpcClient(TrackingServiceService, p.trackingGrpc);
    ingest = createGrpcClient(IngestServiceService, p.ingestGrpc);
    ops = {
      tracking: new OpsClient(p.trackingGrpc),
      ingest: new OpsClient(p.ingestGrpc),
      attribution: new OpsClient(p.attributionGrpc),
      reporting: new OpsClient(p.reportingGrpc),
    };
    token = (await ingest.upsertPartner({
      partnerId: 'everflow', name: 'Everflow', kind: PartnerKind.PARTNER_KIND_GENERIC, clickIdParam: '', defaultCurrency: 'USD', allowedSources: [],
    })).token;

    // The known data set: two offers (one with a 7-day window), sends over two days, taps on half of them,
    // conversions on a third of the taps (one posted twice, one reversed), one unknown click id.
    clock.set('2026-11-02T09:00:00Z');
    await tracking.upsertCampaign({ campaignId: 'camp', name: 'Campaign' });
    await tracking.upsertCreative({ creativeId: 'cr', name: 'Creative' });
    const tpl = 'https://shop.example/land?cid={click_id}';
    await tracking.upsertOffer({ offerId: 'summer', name: 'Summer', destinationUrlTemplate: tpl, defaultPayout: { currencyCode: 'USD', amountMicros: '24990000' } });
    await tracking.upsertOffer({ offerId: 'weekly', name: 'Weekly', destinationUrlTemplate: tpl, defaultPayout: { currencyCode: 'USD', amountMicros: '5000000' }, clickWindowDays: 7 });
    await traffic('m', 0, SENDS / 2, { offer: 'summer', creative: 'cr', campaign: 'camp' });
    clock.set('2026-11-03T09:00:00Z');
    await traffic('m', SENDS / 2, SENDS, { offer: 'weekly', creative: 'cr', campaign: 'camp' });
    // Attribution has every tap before the conversions come (else they park, and the 1 s horizon settles them).
    await eventually(() => settled('attribution'), WAIT, 200);
    clock.set('2026-11-04T12:00:00Z');
    let n = 0;
    for (const [messageId, clickId] of clickIds) {
      if (n++ % 3) continue;
      await postback({ click_id: clickId, conversion_id: `ord-${messageId}`, payout: '12.34', currency: 'USD' });
    }
    expect((await postback({ click_id: clickIds.get('m-0')!, conversion_id: 'ord-m-0', payout: '12.34', currency: 'USD' })).status).toBe('duplicate');
    await postback({ click_id: 'NotOurClickId000', conversion_id: 'ord-unknown', payout: '1.00', currency: 'USD' });
    await eventually(async () => (await api('/api/conversions/everflow/ord-m-0')).attribution?.outcome === 'ATTRIBUTION_OUTCOME_ATTRIBUTED', WAIT, 200);
    clock.set('2026-11-05T12:00:00Z');
    const reversal = await fetch(`${p.ingestHttp}/postbacks/everflow/reversal?token=${encodeURIComponent(token)}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ conversion_id: 'ord-m-0' }),
    });
    expect(reversal.status).toBe(200);
    // What people entered: an FX rate, which no rebuild may remove.
    const c = new Client({ connectionString: p.databases.reporting });
    await c.connect();
    await c.query(`INSERT INTO "reporting".fx_rates (day, currency, quote, rate_micros) VALUES ('2026-11-01', 'EUR', 'USD', 1080000)`);
    await c.end();

    await eventually(() => settled('reporting'), WAIT, 200);
    await eventually(() => settled('attribution'), WAIT, 200);
    // The reversal is the last event of the set: once it shows, everything before it has been applied.
    await eventually(async () => (await api(`/api/reports/performance?group_by=offer&from=${FROM}&to=${TO}&tz=UTC`)).rows?.some((r: Json) => r.reversedConversions === '1'), WAIT, 200);
  }, 180_000 + SENDS * 100);

  afterAll(async () => {
    for (const c of Object.values(ops ?? {})) c.close();
    tracking?.close();
    ingest?.close();
    await p?.stop();
  });

  it('lists every table of each read model\'s schema as reset or kept; producers have nothing to reset', async () => {
    for (const service of ['attribution', 'reporting'] as const) {
      const plan = await ops[service].resetReadModel(true);
      const accounted = new Set([...plan.removed.map((t) => t.table), ...plan.keptTables]);
      expect([...accounted].sort()).toEqual(await tables(p.databases[service], service));
    }
    await expect(ops.tracking.resetReadModel(true)).rejects.toThrow(/FAILED_PRECONDITION: tracking has no read model/);
    await expect(ops.ingest.resetReadModel(false)).rejects.toThrow(/FAILED_PRECONDITION/);
  });

  it('a dry run says what it would remove and removes nothing', async () => {
    const before = await books();
    const plan = await ops.reporting.resetReadModel(true);
    const result = await rebuild({ service: 'reporting', dryRun: true, log }, ops);
    expect(result.reset.dryRun).toBe(true);
    expect(result.reset.removed).toEqual(plan.removed);
    const rows = (t: string) => Number(result.reset.removed.find((r) => r.table === t)!.rows);
    expect(rows('reporting.messages')).toBe(SENDS);
    expect(rows('reporting.clicks')).toBe(SENDS / 2);
    // Each tap is an event of its own; sends come in MessagesSent runs (one per RegisterMessages call here).
    expect(rows('reporting.processed_events')).toBeGreaterThan(SENDS / 2);
    expect(result.redrives.map((r) => r.service)).toEqual(['tracking', 'ingest', 'attribution']);
    expect(lines.join('\n')).toMatch(/would remove[\s\S]*reporting\.messages: \d+ rows[\s\S]*keep reporting\.fx_rates/);
    expect((await ops.reporting.resetReadModel(true)).removed).toEqual(plan.removed);
    expect(await books()).toEqual(before);
  });

  it('rebuilds reporting while traffic flows: the same books plus exactly the new traffic', async () => {
    const before = await books();
    const removedBefore = await ops.reporting.resetReadModel(true);
    // New traffic on its own day, offer, creative and campaign, during the rebuild.
    clock.set('2026-11-20T09:00:00Z');
    await tracking.upsertOffer({ offerId: 'live', name: 'Live', destinationUrlTemplate: 'https://shop.example/l?cid={click_id}', defaultPayout: { currencyCode: 'USD', amountMicros: '1000000' } });
    await tracking.upsertCreative({ creativeId: 'cr-live', name: 'Live creative' });
    await tracking.upsertCampaign({ campaignId: 'camp-live', name: 'Live campaign' });
    const live = (async () => {
      await traffic('live', 0, 10, { offer: 'live', creative: 'cr-live', campaign: 'camp-live' });
      await postback({ click_id: clickIds.get('live-0')!, conversion_id: 'ord-live', payout: '7.00', currency: 'USD' });
    })();
    const result = await rebuild({ service: 'reporting', dryRun: false, log, timeoutMs: WAIT, pollMs: 200 }, ops);
    await live;
    if (process.env.REBUILD_SPEC_SENDS) console.log(`reporting: ${result.rows} rows in ${result.elapsedMs} ms, ${result.rowsPerSecond} rows/s\n${lines.join('\n')}`);
    expect(result.drift!.drifts).toEqual([]);
    expect(Number(result.reset.removed.find((t) => t.table === 'reporting.messages')!.rows)).toBeGreaterThanOrEqual(Number(removedBefore.removed.find((t) => t.table === 'reporting.messages')!.rows));
    expect(lines.join('\n')).toMatch(/re-drove tracking: .*MessageSent \d+\/\d+/);

    const liveRow = { sends: '10', clicks: '5', conversions: '1' };
    const byKey = (r: Json, key: string) => r.rows?.find((x: Json) => x.key === key);
    const after = await eventually(async () => {
      const b = await books();
      return byKey(b.offer, 'live')?.conversions === '1' && byKey(b.date, '2026-11-20')?.conversions === '1' ? b : undefined;
    }, WAIT, 200);
    for (const [g, key] of [['offer', 'live'], ['creative', 'cr-live'], ['campaign', 'camp-live'], ['date', '2026-11-20']]) {
      expect(byKey(after[g], key)).toMatchObject({ ...liveRow, revenue: [{ revenue: { currencyCode: 'USD', amountMicros: '7000000' } }] });
      const without = (r: Json) => ({ ...r, rows: r.rows.filter((x: Json) => x.key !== key), total: undefined });
      expect(without(after[g])).toEqual(without(before[g]));
      expect(Number(after[g].total.sends)).toBe(Number(before[g].total.sends) + 10);
      expect(Number(after[g].total.revenue[0].revenue.amountMicros)).toBe(Number(before[g].total.revenue[0].revenue.amountMicros) + 7_000_000);
    }
    expect(after.msg0).toEqual(before.msg0);
    expect(after.msg1).toEqual(before.msg1);
    // The FX rate people entered is still there.
    const fx = await api('/api/fx-rates?from=2026-11-01&to=2026-11-30&quote=USD');
    expect(JSON.stringify(fx)).toMatch(/EUR/);
  }, 120_000 + SENDS * 50);

  it('rebuilds attribution\'s projections: decisions untouched, new conversions decided on the rebuilt offers, sends and taps', async () => {
    const before = await books();
    const plan = await ops.attribution.resetReadModel(true);
    const rows = (t: string) => Number(plan.removed.find((r) => r.table === t)!.rows);
    expect(rows('attribution.offers')).toBe(3);
    expect(rows('attribution.sends')).toBe(SENDS + 10);
    expect(plan.keptTables).toEqual(expect.arrayContaining(['attribution.decisions', 'attribution.offer_rules', 'attribution.parked_conversions']));
    const result = await rebuild({ service: 'attribution', dryRun: false, log, timeoutMs: WAIT, pollMs: 200 }, ops);
    if (process.env.REBUILD_SPEC_SENDS) console.log(`attribution: ${result.rows} rows in ${result.elapsedMs} ms, ${result.rowsPerSecond} rows/s`);
    expect(result.drift!.compared).toBeGreaterThan(0);
    expect(result.redrives).toEqual([expect.objectContaining({ service: 'tracking' })]);
    // The same rows again, but for the processed events: those count events, not records, and the re-drive packs
    // sends and taps into runs as its reads come (the live relay cut its taps as they arrived, mostly one by one).
    const after = (await ops.attribution.resetReadModel(true)).removed;
    const records = (r: { table: string; rows: unknown }[]) => r.filter((t) => t.table !== 'attribution.processed_events').map((t) => [t.table, t.rows]);
    expect(records(after)).toEqual(records(plan.removed));
    expect(Number(after.find((t) => t.table === 'attribution.processed_events')!.rows)).toBeGreaterThan(0);
    // Reporting saw tracking's events again and counted none of them twice.
    expect(await books()).toEqual(before);

    // The rebuilt projections decide as the old ones: a weekly-offer tap converting 10 days later is outside the
    // offer's own 7-day window, which only the rebuilt offer projection carries (the default is 90 days).
    const weeklyClick = clickIds.get(`m-${SENDS / 2}`)!;
    clock.set('2026-11-13T12:00:00Z');
    await postback({ click_id: weeklyClick, conversion_id: 'ord-late', payout: '3.00', currency: 'USD' });
    await postback({ click_id: clickIds.get('m-2')!, conversion_id: 'ord-again', payout: '2.00', currency: 'USD' });
    const late = await eventually(async () => ((await api('/api/conversions/everflow/ord-late')).attribution?.outcome ? api('/api/conversions/everflow/ord-late') : undefined), 15_000);
    expect(late.attribution).toMatchObject({ outcome: 'ATTRIBUTION_OUTCOME_UNATTRIBUTED', reason: 'UNATTRIBUTED_REASON_OUTSIDE_WINDOW', windowDays: 7 });
    const again = await eventually(async () => ((await api('/api/conversions/everflow/ord-again')).attribution?.outcome ? api('/api/conversions/everflow/ord-again') : undefined), 15_000);
    expect(again.attribution).toMatchObject({ outcome: 'ATTRIBUTION_OUTCOME_ATTRIBUTED', messageId: 'm-2' });
  }, 120_000 + SENDS * 50);
  it('refuses a rebuild that would lose rows the producers no longer keep, and says which', async () => {
    // Tracking's outbox past its retention: the OfferUpserted events are gone, the offers still projected.
    const c = new Client({ connectionString: p.databases.tracking });
    await c.connect();
    await c.query(`DELETE FROM "tracking".outbox WHERE subject = 'trackly.tracking.v1.OfferUpserted'`);
    await c.end();
    const before = await ops.attribution.resetReadModel(true);
    lines.length = 0;
    await rebuild({ service: 'attribution', dryRun: true, log }, ops);
    expect(lines.join('\n')).toMatch(/warning: attribution\.offers holds 3 rows but the producers keep only 0 OfferUpserted events/);
    await expect(rebuild({ service: 'attribution', dryRun: false, log }, ops)).rejects.toThrow(/refusing to rebuild attribution: attribution\.offers holds 3 rows/);
    expect((await ops.attribution.resetReadModel(true)).removed).toEqual(before.removed);
  });
});
