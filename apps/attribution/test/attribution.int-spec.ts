import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { createGrpcClient, PromiseClient } from '@trackly/grpc';
import { RunningService } from '@trackly/app-shell';
import { ManualClock, MS_PER_DAY } from '@trackly/kernel';
import { Events, EventType, Streams } from '@trackly/messaging';
import { createTestDatabase, deleteNatsPrefix, eventually, freePort, outboxDrained, TestDatabase, testInfra, testNatsPrefix } from '@trackly/testing';
import { TrackingServiceService } from '@trackly/contracts/tracking/v1/tracking_service';
import { AttributionServiceService } from '@trackly/contracts/attribution/v1/attribution_service';
import { AttributionOutcome, AttributionType, UnattributedReason } from '@trackly/contracts/attribution/v1/attribution';
import { AttributionCorrected, ConversionAttributed, ConversionUnattributed } from '@trackly/contracts/attribution/v1/attribution_events';
import { ConversionAdjusted, ConversionReceived } from '@trackly/contracts/ingest/v1/ingest_events';
import { ClickRecorded, MessageSent, OfferUpserted } from '@trackly/contracts/tracking/v1/tracking_events';
import { Click, ClickClass } from '@trackly/contracts/tracking/v1/tracking';
import { ListAttributionsRequest, WindowSource } from '@trackly/contracts/attribution/v1/attribution_service';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { AttributionState } from '@trackly/contracts/ingest/v1/ingest';
import { migrateTracking, startTracking } from '../../tracking/src/tracking.app';
import { loadTrackingConfig } from '../../tracking/src/tracking.config';
import { trackingMigrations } from '../../tracking/src/migrations';
import { attributionMigrations } from '../src/migrations';
import { loadAttributionConfig } from '../src/attribution.config';
import { migrateAttribution, startAttribution } from '../src/attribution.app';

const MON = new Date('2026-11-02T10:00:00Z');
const day = (n: number, ms = 0) => new Date(MON.getTime() + n * MS_PER_DAY + ms);
const usd = (micros: string) => ({ currencyCode: 'USD', amountMicros: micros });
const log = process.env.TEST_LOG_LEVEL ?? 'warn';
const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';
/** Park horizon of the app under test, in (manual) clock seconds. */
const HORIZON_S = 2;

/**
 * Attribution against a real tracking service: clicks are made through tracking's HTTP edge, so attribution's
 * projections are fed by tracking's real events. A second tracking instance under another NATS prefix makes clicks
 * attribution never hears about, to prove the gRPC fallback.
 */
describe('attribution service (real tracking, Postgres, NATS, gRPC)', () => {
  // Real services and event round trips; generous when the machine is busy.
  jest.setTimeout(30_000);
  const clock = new ManualClock(MON);
  let dbs: TestDatabase[] = [];
  let prefix: string;
  const apps: RunningService[] = [];
  let tracking: PromiseClient<typeof TrackingServiceService>;
  let attribution: PromiseClient<typeof AttributionServiceService>;
  let nc: NatsConnection;
  let trackingGrpc: string;

  async function bootTracking(prefixFor: string, db: TestDatabase) {
    const [grpcPort, httpPort] = [await freePort(), await freePort()];
    const app = await startTracking(
      loadTrackingConfig({
        DATABASE_URL: db.url, NATS_URL: testInfra().natsUrl, NATS_PREFIX: prefixFor, TRACKING_HOST: '127.0.0.1',
        TRACKING_GRPC_PORT: String(grpcPort), TRACKING_HTTP_PORT: String(httpPort),
        TRACKING_PUBLIC_URL: `http://127.0.0.1:${httpPort}`, LOG_LEVEL: log,
      }),
      { clock },
    );
    apps.push(app);
    return { grpc: `127.0.0.1:${grpcPort}`, client: createGrpcClient(TrackingServiceService, `127.0.0.1:${grpcPort}`) };
  }

  async function seed(client: PromiseClient<typeof TrackingServiceService>, offerId: string, clickWindowDays?: number) {
    await client.upsertCampaign({ campaignId: 'camp', name: 'Campaign' });
    await client.upsertCreative({ creativeId: 'cr', name: 'Creative' });
    await client.upsertOffer({
      offerId, name: offerId, destinationUrlTemplate: 'https://shop.example/?cid={click_id}', defaultPayout: usd('1000000'), clickWindowDays,
    });
  }

  async function sendAndClick(client: PromiseClient<typeof TrackingServiceService>, messageId: string, contactId: string, offerId: string, at: Date) {
    // Sent a minute before the tap: a fetch right after the send is a link preview to tracking's classifier.
    const sentAt = new Date(at.getTime() - 60_000);
    clock.set(sentAt);
    const { messages } = await client.registerMessages({
      messages: [{ messageId, contactId, phoneE164: '+15551230000', campaignId: 'camp', creativeId: 'cr', offerId, sentAt }],
    });
    clock.set(at);
    // A phone's browser: tracking classifies other clients (previews, bots) as non-human, which never get credit.
    const res = await fetch(messages[0].trackedUrl, { redirect: 'manual', headers: { 'user-agent': IPHONE, 'accept-language': 'en-US' } });
    expect(res.status).toBe(302);
    return new URL(res.headers.get('location')!).searchParams.get('cid')!;
  }

  async function streamMessages(stream: string, subjectSuffix: string): Promise<Uint8Array[]> {
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(`${prefix.toUpperCase()}_${stream}`).catch(() => undefined);
    if (!info || info.state.messages === 0) return [];
    const c = await js.consumers.get(`${prefix.toUpperCase()}_${stream}`);
    const out: Uint8Array[] = [];
    const batch = await c.fetch({ max_messages: 1000, expires: 1000 });
    for await (const m of batch) {
      if (m.subject.endsWith(subjectSuffix)) out.push(m.data);
      if (m.info.pending === 0) break;
    }
    return out;
  }

  /** Runs SQL against attribution's own test database (its schema only). */
  async function sql<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
    const { Client } = await import('pg');
    const pg = new Client({ connectionString: dbs[2].url });
    await pg.connect();
    try {
      return (await pg.query(text, params)).rows as T[];
    } finally {
      await pg.end();
    }
  }

  /** Publishes a real protobuf event as its producer would (the stream exists: the apps created it). */
  async function publish<T>(type: EventType<T>, payload: T, msgID: string) {
    await jetstream(nc).publish(`${prefix}.${type.subject}`, type.codec.encode(payload).finish(), { msgID });
  }

  async function attributionEvents<T>(type: EventType<T>): Promise<T[]> {
    const name = type.subject.slice(type.subject.lastIndexOf('.') + 1);
    return (await streamMessages(Streams.attribution.name, name)).map((d) => type.codec.decode(d));
  }

  const conversionOf = (over: Partial<ReturnType<typeof baseConversion>>) => ({ ...baseConversion(), ...over });
  function baseConversion() {
    return {
      id: '', partnerId: 'everflow', conversionId: '', clickId: '', payout: usd('24990000'), status: ConversionStatus.CONVERSION_STATUS_APPROVED,
      occurredAt: MON as Date | undefined, receivedAt: MON as Date | undefined, attributionState: AttributionState.ATTRIBUTION_STATE_PENDING,
      attributionReason: '', creditedMessageId: '', messageId: '',
    };
  }
  const request = (over: { conversionId: string; clickId?: string; messageId?: string; occurredAt: Date; payout?: { currencyCode: string; amountMicros: string } }) => ({
    partnerId: 'everflow', conversionRef: '', clickId: '', messageId: '', payout: usd('24990000'), status: ConversionStatus.CONVERSION_STATUS_APPROVED, ...over,
  });

  /** Reads attribution's own projection (its schema, in its test database) until it holds n clicks. */
  async function projectedClicks(n: number) {
    const { Client } = await import('pg');
    const pg = new Client({ connectionString: dbs[2].url });
    await pg.connect();
    try {
      await eventually(async () => Number((await pg.query('SELECT count(*) AS n FROM "attribution".clicks')).rows[0].n) >= n);
    } finally {
      await pg.end();
    }
  }

  beforeAll(async () => {
    prefix = testNatsPrefix();
    const [trackDb, otherDb, attrDb] = await Promise.all([
      createTestDatabase('tracking', trackingMigrations, (u) => migrateTracking(u).then(() => undefined)),
      createTestDatabase('tracking', trackingMigrations, (u) => migrateTracking(u).then(() => undefined)),
      createTestDatabase('attribution', attributionMigrations, (u) => migrateAttribution(u).then(() => undefined)),
    ]);
    dbs = [trackDb, otherDb, attrDb];
    const main = await bootTracking(prefix, trackDb);
    tracking = main.client;
    trackingGrpc = main.grpc;
    const attrPort = await freePort();
    apps.push(
      await startAttribution(
        loadAttributionConfig({
          DATABASE_URL: attrDb.url, NATS_URL: testInfra().natsUrl, NATS_PREFIX: prefix, ATTRIBUTION_HOST: '127.0.0.1',
          ATTRIBUTION_GRPC_PORT: String(attrPort), TRACKING_GRPC_URL: main.grpc, LOG_LEVEL: log,
          ATTRIBUTION_PARK_HORIZON_SECONDS: String(HORIZON_S),
        }),
        { clock },
      ),
    );
    attribution = createGrpcClient(AttributionServiceService, `127.0.0.1:${attrPort}`);
    nc = await connect({ servers: testInfra().natsUrl });
    await seed(tracking, 'summer');
    await seed(tracking, 'weekly', 7);
  }, 60_000);

  afterAll(async () => {
    tracking?.close();
    attribution?.close();
    await nc?.close();
    for (const a of apps.reverse()) await a.close();
    for (const d of dbs) await d.drop();
    await deleteNatsPrefix(prefix);
  }, 30_000);

  it('credits the first click: Monday A, Wednesday B, Friday converts with B -> A, once', async () => {
    const a = await sendAndClick(tracking, 'msg-A', 'alice', 'summer', MON);
    const b = await sendAndClick(tracking, 'msg-B', 'alice', 'summer', day(2));
    // Wait until attribution's projection holds both clicks (their events went through tracking's outbox).
    await projectedClicks(2);
    clock.set(day(4));
    const req = { partnerId: 'everflow', conversionId: 'conv-fri', conversionRef: '', messageId: '', clickId: b, payout: usd('24990000'), status: ConversionStatus.CONVERSION_STATUS_APPROVED, occurredAt: day(4) };
    const first = await attribution.attributeConversion(req);
    expect(first.alreadyDecided).toBe(false);
    expect(first.attribution).toMatchObject({
      outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED,
      type: AttributionType.ATTRIBUTION_TYPE_CLICK_THROUGH,
      reportedClickId: b,
      creditedClickId: a,
      messageId: 'msg-A',
      contactId: 'alice',
      offerId: 'summer',
      payout: usd('24990000'),
      windowDays: 90,
      creditedClickedAt: MON,
      occurredAt: day(4),
    });
    expect(first.attribution!.explanation).toMatch(/first click wins/);

    const again = await attribution.attributeConversion({ ...req, clickId: a, payout: usd('1') });
    expect(again.alreadyDecided).toBe(true);
    expect(again.attribution!.payout).toEqual(usd('24990000'));
    expect((await attribution.getAttribution({ partnerId: 'everflow', conversionId: 'conv-fri' })).attribution!.creditedClickId).toBe(a);

    const events = await eventually(async () => {
      const got = (await streamMessages(Streams.attribution.name, 'ConversionAttributed')).map((d) => ConversionAttributed.decode(d).attribution!);
      return got.some((g) => g.conversionId === 'conv-fri') ? got : undefined;
    });
    expect(events.filter((e) => e.conversionId === 'conv-fri')).toHaveLength(1);
  });

  it('answers UNKNOWN_CLICK_ID (after parking until the horizon) and OUTSIDE_WINDOW with reasons and events', async () => {
    const parked = await attribution.attributeConversion({
      partnerId: 'tune', conversionId: 'conv-unknown', conversionRef: '', messageId: '', clickId: 'NoSuchClick123', payout: usd('5000000'),
      status: ConversionStatus.CONVERSION_STATUS_APPROVED, occurredAt: day(1),
    });
    expect(parked).toMatchObject({ alreadyDecided: false, attribution: { outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_PENDING, reportedClickId: 'NoSuchClick123' } });
    clock.advance((HORIZON_S + 1) * 1000);
    const unknown = await eventually(async () => {
      const a = (await attribution.getAttribution({ partnerId: 'tune', conversionId: 'conv-unknown' })).attribution!;
      return a.outcome === AttributionOutcome.ATTRIBUTION_OUTCOME_PENDING ? undefined : a;
    });
    expect(unknown).toMatchObject({
      outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_UNATTRIBUTED,
      reason: UnattributedReason.UNATTRIBUTED_REASON_UNKNOWN_CLICK_ID,
      creditedClickId: '',
      ruleVersion: 'first-click/2',
    });

    const w = await sendAndClick(tracking, 'msg-W', 'bob', 'weekly', MON);
    await projectedClicks(3);
    const late = await attribution.attributeConversion({
      partnerId: 'tune', conversionId: 'conv-late', conversionRef: '', messageId: '', clickId: w, payout: usd('5000000'),
      status: ConversionStatus.CONVERSION_STATUS_APPROVED, occurredAt: day(8),
    });
    expect(late.attribution).toMatchObject({
      outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_UNATTRIBUTED,
      reason: UnattributedReason.UNATTRIBUTED_REASON_OUTSIDE_WINDOW,
      windowDays: 7,
      messageId: 'msg-W',
    });
    const events = await eventually(async () => {
      const got = (await streamMessages(Streams.attribution.name, 'ConversionUnattributed')).map((d) => ConversionUnattributed.decode(d).attribution!);
      return got.length >= 2 ? got : undefined;
    });
    expect(events.map((e) => e.conversionId).sort()).toEqual(['conv-late', 'conv-unknown']);
    expect(events.every((e) => e.ruleVersion === 'first-click/2')).toBe(true);
  });

  it('decides ConversionReceived events once, whatever redelivery happens', async () => {
    const c = await sendAndClick(tracking, 'msg-C', 'carol', 'summer', day(10));
    const conversion = {
      id: '9b3f8c1e-0000-4000-8000-000000000001', partnerId: 'generic', conversionId: 'conv-evt', clickId: c,
      payout: usd('12500000'), status: ConversionStatus.CONVERSION_STATUS_PENDING, occurredAt: day(10, 20 * 60_000),
      receivedAt: day(10, 21 * 60_000), attributionState: AttributionState.ATTRIBUTION_STATE_PENDING, attributionReason: '', creditedMessageId: '', messageId: '',
    };
    const js = jetstream(nc);
    const data = ConversionReceived.encode({ conversion }).finish();
    // Two deliveries of the same business event under different event ids (a re-publish after the dedupe window).
    await js.publish(`${prefix}.${Events.ConversionReceived.subject}`, data, { msgID: 'evt-1' });
    await js.publish(`${prefix}.${Events.ConversionReceived.subject}`, data, { msgID: 'evt-2' });
    // Parked (PENDING) if it arrives before its click's event: the consumer never calls tracking inside its
    // transaction; the click's batch or the backoff timer settles it.
    const decided = await eventually(() =>
      attribution
        .getAttribution({ partnerId: 'generic', conversionId: 'conv-evt' })
        .then((r) => (r.attribution?.outcome === AttributionOutcome.ATTRIBUTION_OUTCOME_PENDING ? undefined : r.attribution))
        .catch(() => undefined),
    );
    expect(decided).toMatchObject({
      outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED,
      type: AttributionType.ATTRIBUTION_TYPE_DIRECT,
      messageId: 'msg-C',
      conversionRef: conversion.id,
      status: ConversionStatus.CONVERSION_STATUS_PENDING,
    });
    await outboxDrained(dbs[2].url, 'attribution');
    const events = (await streamMessages(Streams.attribution.name, 'ConversionAttributed')).map((d) => ConversionAttributed.decode(d).attribution!);
    expect(events.filter((e) => e.conversionId === 'conv-evt')).toHaveLength(1);
  });

  it("parks a conversion whose click event it has not seen, and takes the click from tracking only at the horizon", async () => {
    // This tracking instance publishes under another prefix: attribution never receives its events (a lost event).
    const other = await bootTracking(testNatsPrefix(), dbs[1]);
    await seed(other.client, 'summer');
    const x = await sendAndClick(other.client, 'msg-X', 'dave', 'summer', day(20));
    const attrPort = await freePort();
    const attrDb = await createTestDatabase('attribution', attributionMigrations, (u) => migrateAttribution(u).then(() => undefined));
    dbs.push(attrDb);
    const app = await startAttribution(
      loadAttributionConfig({
        DATABASE_URL: attrDb.url, NATS_URL: testInfra().natsUrl, NATS_PREFIX: testNatsPrefix(), ATTRIBUTION_HOST: '127.0.0.1',
        ATTRIBUTION_GRPC_PORT: String(attrPort), TRACKING_GRPC_URL: other.grpc, LOG_LEVEL: log, ATTRIBUTION_PARK_HORIZON_SECONDS: String(HORIZON_S),
      }),
      { clock },
    );
    apps.push(app);
    const client = createGrpcClient(AttributionServiceService, `127.0.0.1:${attrPort}`);
    try {
      const r = await client.attributeConversion({
        partnerId: 'p', conversionId: 'conv-x', conversionRef: '', messageId: '', clickId: x, payout: usd('1000000'),
        status: ConversionStatus.CONVERSION_STATUS_APPROVED, occurredAt: day(21),
      });
      // Not credited on tracking's word alone: the contact's earlier clicks may still be on their way behind this one.
      expect(r.attribution).toMatchObject({ outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_PENDING });
      // The event never comes: at the horizon the timer takes the click from tracking and credits it.
      clock.advance((HORIZON_S + 1) * 1000);
      const settled = await eventually(async () => {
        const a = (await client.getAttribution({ partnerId: 'p', conversionId: 'conv-x' })).attribution!;
        return a.outcome === AttributionOutcome.ATTRIBUTION_OUTCOME_PENDING ? undefined : a;
      }, 20_000);
      expect(settled).toMatchObject({ outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED, messageId: 'msg-X', creditedClickId: x });
    } finally {
      client.close();
      other.client.close();
    }
  });

  it('rejects invalid input with field errors', async () => {
    const err = await attribution
      .attributeConversion({ partnerId: '', conversionId: 'x', conversionRef: '', messageId: '', clickId: 'c', payout: { currencyCode: 'dollars', amountMicros: '1' }, status: 0, occurredAt: undefined })
      .catch((e) => e);
    expect(err.details).toMatch(/partner_id/);
    expect(err.details).toMatch(/currency_code/);
  });

  it('makes exactly one decision and one event under 100 concurrent calls and duplicate deliveries', async () => {
    const k = await sendAndClick(tracking, 'msg-K', 'kate', 'summer', day(30));
    await eventually(async () => (await sql('SELECT 1 FROM "attribution".clicks WHERE click_id = $1', [k])).length > 0);
    const req = request({ conversionId: 'conv-race', clickId: k, occurredAt: day(30, 3_600_000) });
    const results = await Promise.all(Array.from({ length: 100 }, () => attribution.attributeConversion(req)));
    expect(results.filter((r) => !r.alreadyDecided)).toHaveLength(1);
    expect(new Set(results.map((r) => r.attribution!.creditedClickId))).toEqual(new Set([k]));
    // The same conversion redelivered by ingest 20 times under distinct event ids.
    const data = conversionOf({ conversionId: 'conv-race', clickId: k, occurredAt: day(30, 3_600_000), id: '9b3f8c1e-0000-4000-8000-00000000000a' });
    await Promise.all(Array.from({ length: 20 }, (_, i) => publish(Events.ConversionReceived, { conversion: data }, `race-${i}`)));
    await eventually(async () => Number((await sql<{ n: string }>(`SELECT count(*) AS n FROM "attribution".processed_events WHERE event_id LIKE 'race-%'`))[0].n) === 20);
    expect(await sql(`SELECT 1 FROM "attribution".decisions WHERE conversion_id = 'conv-race'`)).toHaveLength(1);
    const events = await eventually(async () => {
      const got = (await attributionEvents(Events.ConversionAttributed)).filter((e) => e.attribution!.conversionId === 'conv-race');
      return got.length ? got : undefined;
    });
    await outboxDrained(dbs[2].url, 'attribution');
    expect((await attributionEvents(Events.ConversionAttributed)).filter((e) => e.attribution!.conversionId === 'conv-race')).toHaveLength(events.length);
    expect(events).toHaveLength(1);

    // Twenty different conversion ids re-sending one sale (same click, second and payout): one credit, the rest DUPLICATE.
    const twins = await Promise.all(
      Array.from({ length: 20 }, (_, i) => attribution.attributeConversion(request({ conversionId: `conv-twin-${i}`, clickId: k, occurredAt: day(31, i) }))),
    );
    const outcomes = twins.map((t) => t.attribution!);
    expect(outcomes.filter((a) => a.outcome === AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED)).toHaveLength(1);
    expect(outcomes.filter((a) => a.reason === UnattributedReason.UNATTRIBUTED_REASON_DUPLICATE)).toHaveLength(19);
    expect(outcomes.find((a) => a.reason === UnattributedReason.UNATTRIBUTED_REASON_DUPLICATE)!.explanation).toMatch(/same sale under another dedupe key/);
  });

  it('parks a conversion whose click nobody knows yet, shows it pending, and settles it when the click arrives', async () => {
    const clickId = 'LateClick000000000001';
    const parked = await Promise.all(
      Array.from({ length: 10 }, () => attribution.attributeConversion(request({ conversionId: 'conv-ooo', clickId, occurredAt: day(40, 600_000) }))),
    );
    expect(parked.every((p) => p.attribution!.outcome === AttributionOutcome.ATTRIBUTION_OUTCOME_PENDING)).toBe(true);
    expect(await sql(`SELECT 1 FROM "attribution".parked_conversions WHERE conversion_id = 'conv-ooo'`)).toHaveLength(1);
    expect((await attribution.getAttribution({ partnerId: 'everflow', conversionId: 'conv-ooo' })).attribution).toMatchObject({
      outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_PENDING, reportedClickId: clickId,
    });
    expect(await attribution.explainConversion({ partnerId: 'everflow', conversionId: 'conv-ooo' })).toMatchObject({ rule: 'PARKED', candidateClicks: [] });

    // The click's event arrives late (tracking's stream lagging behind ingest's).
    const click = Click.fromPartial({
      clickId, messageId: 'msg-ooo', contactId: 'olga', offerId: 'summer', campaignId: 'camp', creativeId: 'cr', clickedAt: day(40),
      firstClickOnMessage: true, clickClass: ClickClass.CLICK_CLASS_HUMAN,
    });
    await publish(Events.ClickRecorded, ClickRecorded.fromPartial({ click }), 'click-ooo');
    const decided = await eventually(async () => {
      const a = (await attribution.getAttribution({ partnerId: 'everflow', conversionId: 'conv-ooo' })).attribution!;
      return a.outcome === AttributionOutcome.ATTRIBUTION_OUTCOME_PENDING ? undefined : a;
    });
    expect(decided).toMatchObject({
      outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED, type: AttributionType.ATTRIBUTION_TYPE_DIRECT, creditedClickId: clickId, messageId: 'msg-ooo',
      // The parked row's facts, as the click's batch read them back, are the conversion's.
      payout: usd('24990000'), occurredAt: day(40, 600_000),
    });
    expect(await sql(`SELECT 1 FROM "attribution".parked_conversions WHERE conversion_id = 'conv-ooo'`)).toHaveLength(0);
    const events = await eventually(async () => {
      const got = (await attributionEvents(Events.ConversionAttributed)).filter((e) => e.attribution!.conversionId === 'conv-ooo');
      return got.length ? got : undefined;
    });
    expect(events).toHaveLength(1);
  });

  it('applies offer terms, click classes, view-through and offer mismatch through the real projections', async () => {
    const offer = { offerId: 'guarded', name: 'Guarded', destinationUrlTemplate: 'https://x.example/?c={click_id}', clickWindowDays: 7, minConversionSeconds: 60, viewThroughWindowDays: 3, updatedAt: day(49) };
    await publish(Events.OfferUpserted, OfferUpserted.fromPartial({ offer }), 'offer-guarded');
    await publish(Events.MessageSent, MessageSent.fromPartial({ messageId: 'msg-g1', contactId: 'gina', campaignId: 'camp', creativeId: 'cr', offerId: 'guarded', sentAt: day(50) }), 'send-g1');
    const gClick = (clickId: string, at: Date, cls: ClickClass) =>
      Click.fromPartial({ clickId, messageId: 'msg-g1', contactId: 'gina', offerId: 'guarded', campaignId: 'camp', creativeId: 'cr', clickedAt: at, clickClass: cls });
    await publish(Events.ClickRecorded, ClickRecorded.fromPartial({ click: gClick('GPreview0001', day(50, 2000), ClickClass.CLICK_CLASS_PREVIEW) }), 'click-gp');
    await publish(Events.ClickRecorded, ClickRecorded.fromPartial({ click: gClick('GHuman00001', day(50, 600_000), ClickClass.CLICK_CLASS_HUMAN) }), 'click-gh');
    await eventually(async () => (await sql(`SELECT 1 FROM "attribution".clicks WHERE click_id IN ('GPreview0001', 'GHuman00001')`)).length === 2 &&
      (await sql(`SELECT 1 FROM "attribution".offers WHERE offer_id = 'guarded' AND min_conversion_seconds = 60`)).length === 1 &&
      (await sql(`SELECT 1 FROM "attribution".sends WHERE message_id = 'msg-g1'`)).length === 1);
    await projectedClicks(1);

    const decideOne = async (r: Parameters<typeof request>[0]) => (await attribution.attributeConversion(request(r))).attribution!;
    expect(await decideOne({ conversionId: 'g-fast', clickId: 'GHuman00001', occurredAt: day(50, 630_000) })).toMatchObject({
      outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_UNATTRIBUTED, reason: UnattributedReason.UNATTRIBUTED_REASON_TOO_FAST, messageId: 'msg-g1',
    });
    // The preview came first, but only the person's tap is a first click.
    expect(await decideOne({ conversionId: 'g-preview', clickId: 'GPreview0001', occurredAt: day(51) })).toMatchObject({
      outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED, creditedClickId: 'GHuman00001', windowDays: 7,
    });
    expect(await decideOne({ conversionId: 'g-view', messageId: 'msg-g1', occurredAt: day(52) })).toMatchObject({
      outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED, type: AttributionType.ATTRIBUTION_TYPE_VIEW_THROUGH, creditedClickId: '', messageId: 'msg-g1', windowDays: 3,
    });
    expect(await decideOne({ conversionId: 'g-view-late', messageId: 'msg-g1', occurredAt: day(53, 1000) })).toMatchObject({
      reason: UnattributedReason.UNATTRIBUTED_REASON_NO_CLICK_NO_VIEW,
    });
    // msg-A was sent for "summer", which has view-through off.
    expect(await decideOne({ conversionId: 'g-view-off', messageId: 'msg-A', occurredAt: day(5) })).toMatchObject({ reason: UnattributedReason.UNATTRIBUTED_REASON_NO_CLICK_NO_VIEW });
    expect(await decideOne({ conversionId: 'g-mismatch', clickId: 'GHuman00001', messageId: 'msg-A', occurredAt: day(51) })).toMatchObject({
      reason: UnattributedReason.UNATTRIBUTED_REASON_OFFER_MISMATCH,
    });

    const why = await attribution.explainConversion({ partnerId: 'everflow', conversionId: 'g-preview' });
    expect(why).toMatchObject({
      rule: 'FIRST_CLICK', windowDays: 7, windowSource: WindowSource.WINDOW_SOURCE_OFFER, minConversionSeconds: 60, viewThroughWindowDays: 3,
      matchedClick: { clickId: 'GPreview0001', clickClass: 'PREVIEW', credited: false },
      candidateClicks: [
        { clickId: 'GPreview0001', clickClass: 'PREVIEW', inWindow: true, credited: false, note: expect.stringMatching(/link preview/) },
        { clickId: 'GHuman00001', clickClass: 'HUMAN', inWindow: true, credited: true },
      ],
      windowFrom: day(44), windowTo: day(51), ruleVersion: 'first-click/2',
    });
    expect((await attribution.explainConversion({ partnerId: 'everflow', conversionId: 'g-fast' })).rule).toBe('TOO_FAST');
  });

  it('moves credit on adjustments with AttributionCorrected events, once per adjustment id', async () => {
    const j = await sendAndClick(tracking, 'msg-J', 'jane', 'summer', day(60));
    await eventually(async () => (await sql('SELECT 1 FROM "attribution".clicks WHERE click_id = $1', [j])).length > 0);
    const base = conversionOf({ id: '9b3f8c1e-0000-4000-8000-00000000000b', conversionId: 'conv-adj', clickId: j, occurredAt: day(60, 3_600_000) });
    await publish(Events.ConversionReceived, { conversion: base }, 'adj-received');
    await eventually(() => attribution.getAttribution({ partnerId: 'everflow', conversionId: 'conv-adj' }).then((r) => r.attribution).catch(() => undefined));

    const adjusted = (adjustmentId: string, status: ConversionStatus, previousStatus: ConversionStatus, cause: string) =>
      ConversionAdjusted.fromPartial({ conversion: { ...base, status }, previousStatus, previousPayout: usd('24990000'), adjustmentId, cause });
    const reversal = adjusted('adj-1', ConversionStatus.CONVERSION_STATUS_REVERSED, ConversionStatus.CONVERSION_STATUS_APPROVED, 'reversal');
    // Published twice under different event ids (a replay): applied once.
    await publish(Events.ConversionAdjusted, reversal, 'adj-1-a');
    await publish(Events.ConversionAdjusted, reversal, 'adj-1-b');
    await publish(Events.ConversionAdjusted, adjusted('adj-2', ConversionStatus.CONVERSION_STATUS_REJECTED, ConversionStatus.CONVERSION_STATUS_REVERSED, 'postback'), 'adj-2');
    const corrections = await eventually(async () => {
      const got = (await attributionEvents(Events.AttributionCorrected)).filter((e) => e.current!.conversionId === 'conv-adj');
      return got.length >= 2 ? got : undefined;
    });
    await eventually(async () => Number((await sql<{ n: string }>(`SELECT count(*) AS n FROM "attribution".processed_events WHERE event_id LIKE 'adj-%'`))[0].n) === 4);
    await outboxDrained(dbs[2].url, 'attribution');
    expect((await attributionEvents(Events.AttributionCorrected)).filter((e) => e.current!.conversionId === 'conv-adj')).toHaveLength(2);
    const [first, second] = corrections as AttributionCorrected[];
    expect(first).toMatchObject({
      cause: 'adjustment',
      previous: { outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED, status: ConversionStatus.CONVERSION_STATUS_APPROVED, creditedClickId: j },
      current: { outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED, status: ConversionStatus.CONVERSION_STATUS_REVERSED, creditedClickId: j, payout: usd('24990000') },
    });
    expect(second).toMatchObject({
      previous: { status: ConversionStatus.CONVERSION_STATUS_REVERSED, outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED },
      current: { status: ConversionStatus.CONVERSION_STATUS_REJECTED, outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_UNATTRIBUTED, reason: UnattributedReason.UNATTRIBUTED_REASON_REJECTED, creditedClickId: '' },
    });
    expect(first.correctionId).not.toBe(second.correctionId);
    expect((await attribution.getAttribution({ partnerId: 'everflow', conversionId: 'conv-adj' })).attribution).toMatchObject({
      outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_UNATTRIBUTED, reason: UnattributedReason.UNATTRIBUTED_REASON_REJECTED,
    });
    const history = (await attribution.explainConversion({ partnerId: 'everflow', conversionId: 'conv-adj' })).history;
    expect(history).toHaveLength(3);
    expect(history[1]).toMatch(/APPROVED -> REVERSED/);
    expect(history[2]).toMatch(/credit is withdrawn/);

    // Un-rejected later: decided again, credited again.
    await publish(Events.ConversionAdjusted, adjusted('adj-3', ConversionStatus.CONVERSION_STATUS_APPROVED, ConversionStatus.CONVERSION_STATUS_REJECTED, 'postback'), 'adj-3');
    const third = await eventually(async () => (await attributionEvents(Events.AttributionCorrected)).filter((e) => e.current!.conversionId === 'conv-adj')[2]);
    expect(third.current).toMatchObject({ outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED, creditedClickId: j, status: ConversionStatus.CONVERSION_STATUS_APPROVED });
  });

  const listAttributions = (r: Partial<ListAttributionsRequest>) =>
    attribution.listAttributions({ messageId: '', offerId: '', contactId: '', occurredFrom: undefined, occurredTo: undefined, pageSize: 0, pageToken: '', ...r });

  it('explains a decision and lists decisions by message, offer, contact and time, paged', async () => {
    const why = await attribution.explainConversion({ partnerId: 'everflow', conversionId: 'conv-fri' });
    expect(why).toMatchObject({
      attribution: { messageId: 'msg-A' },
      matchedClick: { messageId: 'msg-B', clickClass: 'HUMAN', inWindow: true, credited: false },
      windowDays: 90,
      windowSource: WindowSource.WINDOW_SOURCE_DEFAULT,
      windowFrom: day(-86),
      windowTo: day(4),
      rule: 'FIRST_CLICK',
      reason: UnattributedReason.UNATTRIBUTED_REASON_UNSPECIFIED,
    });
    expect(why.minConversionSeconds).toBeUndefined();
    expect(why.candidateClicks.map((c) => [c.messageId, c.credited])).toEqual([['msg-A', true], ['msg-B', false]]);
    await expect(attribution.explainConversion({ partnerId: 'everflow', conversionId: 'nope' })).rejects.toMatchObject({ code: 5 });

    expect((await listAttributions({ messageId: 'msg-A', offerId: '', contactId: '', pageSize: 0, pageToken: '' })).attributions.map((a) => a.conversionId)).toEqual(['conv-fri']);
    const all = await listAttributions({ messageId: '', offerId: 'summer', contactId: '', pageSize: 500, pageToken: '' });
    expect(all.nextPageToken).toBe('');
    const paged: string[] = [];
    let token = '';
    do {
      const page = await listAttributions({ messageId: '', offerId: 'summer', contactId: '', pageSize: 3, pageToken: token });
      expect(page.attributions.length).toBeLessThanOrEqual(3);
      paged.push(...page.attributions.map((a) => `${a.partnerId}/${a.conversionId}`));
      token = page.nextPageToken;
    } while (token);
    expect(paged).toEqual(all.attributions.map((a) => `${a.partnerId}/${a.conversionId}`));
    expect(paged.length).toBeGreaterThan(5);
    const times = all.attributions.map((a) => a.occurredAt!.getTime());
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    const alice = await listAttributions({ messageId: '', offerId: '', contactId: 'alice', occurredFrom: day(3), occurredTo: day(5), pageSize: 10, pageToken: '' });
    expect(alice.attributions.map((a) => a.conversionId)).toEqual(['conv-fri']);
    await expect(listAttributions({ messageId: '', offerId: '', contactId: '', pageSize: 10, pageToken: 'garbage' })).rejects.toMatchObject({ code: 3 });
  });

  it('re-attributes after an offer window change: dry run reports the revenue diff, apply corrects with events', async () => {
    // Summer's window shrinks to 3 days: Monday's click A no longer reaches Friday's conversion; Wednesday's B does.
    clock.set(day(100));
    await tracking.upsertOffer({ offerId: 'summer', name: 'summer', destinationUrlTemplate: 'https://shop.example/?cid={click_id}', defaultPayout: usd('1000000'), clickWindowDays: 3 });
    await eventually(async () => (await sql(`SELECT 1 FROM "attribution".offers WHERE offer_id = 'summer' AND click_window_days = 3`)).length === 1);
    const range = { occurredFrom: day(3), occurredTo: day(5), offerId: 'summer', limit: 0 };

    const dry = await attribution.reattribute({ ...range, dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, examined: 1, changed: 1, ruleVersion: 'first-click/2' });
    expect(dry.byOffer).toEqual([]); // same offer, same revenue
    expect(dry.byMessage).toEqual([
      { key: 'msg-A', approvedBefore: usd('24990000'), approvedAfter: usd('0'), pendingBefore: usd('0'), pendingAfter: usd('0') },
      { key: 'msg-B', approvedBefore: usd('0'), approvedAfter: usd('24990000'), pendingBefore: usd('0'), pendingAfter: usd('0') },
    ]);
    expect(dry.changes[0]).toMatchObject({ previous: { messageId: 'msg-A', windowDays: 90 }, current: { messageId: 'msg-B', windowDays: 3 } });
    // A dry run changes nothing.
    expect((await attribution.getAttribution({ partnerId: 'everflow', conversionId: 'conv-fri' })).attribution).toMatchObject({ messageId: 'msg-A', windowDays: 90 });

    const applied = await attribution.reattribute({ ...range, dryRun: false });
    expect(applied).toMatchObject({ dryRun: false, changed: 1, byMessage: dry.byMessage });
    expect((await attribution.getAttribution({ partnerId: 'everflow', conversionId: 'conv-fri' })).attribution).toMatchObject({
      messageId: 'msg-B', windowDays: 3, outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED, ruleVersion: 'first-click/2',
    });
    const corrected = await eventually(async () => {
      const got = (await attributionEvents(Events.AttributionCorrected)).filter((e) => e.cause === 'reattribution');
      return got.length ? got : undefined;
    });
    expect(corrected).toHaveLength(1);
    expect(corrected[0]).toMatchObject({ previous: { conversionId: 'conv-fri', messageId: 'msg-A' }, current: { messageId: 'msg-B' } });
    // Running it again finds nothing left to change.
    expect(await attribution.reattribute({ ...range, dryRun: false })).toMatchObject({ examined: 1, changed: 0 });
    await expect(attribution.reattribute({ occurredFrom: undefined, occurredTo: undefined, offerId: '', dryRun: true, limit: 0 })).rejects.toMatchObject({ code: 3 });
  });

  it('loses nothing and counts nothing twice when one of two replicas stops mid-batch', async () => {
    const r = await sendAndClick(tracking, 'msg-R', 'rita', 'summer', day(70));
    await eventually(async () => (await sql('SELECT 1 FROM "attribution".clicks WHERE click_id = $1', [r])).length > 0);
    // A second replica on the same database and durable consumers: the two share the deliveries.
    const port = await freePort();
    const replica = await startAttribution(
      loadAttributionConfig({
        DATABASE_URL: dbs[2].url, NATS_URL: testInfra().natsUrl, NATS_PREFIX: prefix, ATTRIBUTION_HOST: '127.0.0.1',
        ATTRIBUTION_GRPC_PORT: String(port), TRACKING_GRPC_URL: trackingGrpc, LOG_LEVEL: log, ATTRIBUTION_PARK_HORIZON_SECONDS: String(HORIZON_S),
      }),
      { clock },
    );
    let closed = false;
    try {
      const n = 60;
      await Promise.all(
        Array.from({ length: n }, (_, i) =>
          publish(Events.ConversionReceived, {
            conversion: conversionOf({ conversionId: `conv-batch-${i}`, clickId: r, occurredAt: day(70, 3_600_000 + i * 1000), id: `9b3f8c1e-0000-4000-8000-${String(100 + i).padStart(12, '0')}` }),
          }, `batch-${i}`),
        ),
      );
      // Stop the replica while the batch is being worked through: what it had fetched but not handled goes back.
      await eventually(async () => Number((await sql<{ n: string }>(`SELECT count(*) AS n FROM "attribution".decisions WHERE conversion_id LIKE 'conv-batch-%'`))[0].n) >= 1, 5000, 5);
      await replica.close();
      closed = true;
      await eventually(async () => Number((await sql<{ n: string }>(`SELECT count(*) AS n FROM "attribution".decisions WHERE conversion_id LIKE 'conv-batch-%'`))[0].n) === n, 20_000);
      const events = await eventually(async () => {
        const got = (await attributionEvents(Events.ConversionAttributed)).filter((e) => e.attribution!.conversionId.startsWith('conv-batch-'));
        return got.length >= n ? got : undefined;
      }, 20_000);
      expect(new Set(events.map((e) => e.attribution!.conversionId)).size).toBe(n);
      expect(events).toHaveLength(n);
    } finally {
      if (!closed) await replica.close();
    }
  }, 60_000);
});
