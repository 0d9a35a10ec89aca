import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { createGrpcClient, PromiseClient, RunningService } from '@trackly/grpc';
import { ManualClock, MS_PER_DAY } from '@trackly/kernel';
import { Events, Streams } from '@trackly/messaging';
import { createTestDatabase, deleteNatsPrefix, eventually, freePort, TestDatabase, testInfra, testNatsPrefix } from '@trackly/testing';
import { TrackingServiceService } from '@trackly/contracts/tracking/v1/tracking_service';
import { AttributionServiceService } from '@trackly/contracts/attribution/v1/attribution_service';
import { AttributionOutcome, AttributionType, UnattributedReason } from '@trackly/contracts/attribution/v1/attribution';
import { ConversionAttributed, ConversionUnattributed } from '@trackly/contracts/attribution/v1/attribution_events';
import { ConversionReceived } from '@trackly/contracts/ingest/v1/ingest_events';
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

/**
 * Attribution against a real tracking service: clicks are made through tracking's HTTP edge, so attribution's
 * projections are fed by tracking's real events. A second tracking instance under another NATS prefix makes clicks
 * attribution never hears about, to prove the gRPC fallback.
 */
describe('attribution service (real tracking, Postgres, NATS, gRPC)', () => {
  const clock = new ManualClock(MON);
  let dbs: TestDatabase[] = [];
  let prefix: string;
  const apps: RunningService[] = [];
  let tracking: PromiseClient<typeof TrackingServiceService>;
  let attribution: PromiseClient<typeof AttributionServiceService>;
  let nc: NatsConnection;

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
    clock.set(at);
    const { messages } = await client.registerMessages({
      messages: [{ messageId, contactId, phoneE164: '+15551230000', campaignId: 'camp', creativeId: 'cr', offerId, sentAt: at }],
    });
    const res = await fetch(messages[0].trackedUrl, { redirect: 'manual' });
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
    const attrPort = await freePort();
    apps.push(
      await startAttribution(
        loadAttributionConfig({
          DATABASE_URL: attrDb.url, NATS_URL: testInfra().natsUrl, NATS_PREFIX: prefix, ATTRIBUTION_HOST: '127.0.0.1',
          ATTRIBUTION_GRPC_PORT: String(attrPort), TRACKING_GRPC_URL: main.grpc, LOG_LEVEL: log,
        }),
        { clock },
      ),
    );
    attribution = createGrpcClient(AttributionServiceService, `127.0.0.1:${attrPort}`);
    nc = await connect({ servers: testInfra().natsUrl });
    await seed(tracking, 'summer');
    await seed(tracking, 'weekly', 7);
  });

  afterAll(async () => {
    tracking?.close();
    attribution?.close();
    await nc?.close();
    for (const a of apps.reverse()) await a.close();
    for (const d of dbs) await d.drop();
    await deleteNatsPrefix(prefix);
  });

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

  it('answers UNKNOWN_CLICK_ID and OUTSIDE_WINDOW with reasons and events', async () => {
    const unknown = await attribution.attributeConversion({
      partnerId: 'tune', conversionId: 'conv-unknown', conversionRef: '', messageId: '', clickId: 'NoSuchClick123', payout: usd('5000000'),
      status: ConversionStatus.CONVERSION_STATUS_APPROVED, occurredAt: day(1),
    });
    expect(unknown.attribution).toMatchObject({
      outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_UNATTRIBUTED,
      reason: UnattributedReason.UNATTRIBUTED_REASON_UNKNOWN_CLICK_ID,
      creditedClickId: '',
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
    const decided = await eventually(() => attribution.getAttribution({ partnerId: 'generic', conversionId: 'conv-evt' }).then((r) => r.attribution).catch(() => undefined));
    expect(decided).toMatchObject({
      outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED,
      type: AttributionType.ATTRIBUTION_TYPE_DIRECT,
      messageId: 'msg-C',
      conversionRef: conversion.id,
      status: ConversionStatus.CONVERSION_STATUS_PENDING,
    });
    await new Promise((r) => setTimeout(r, 500));
    const events = (await streamMessages(Streams.attribution.name, 'ConversionAttributed')).map((d) => ConversionAttributed.decode(d).attribution!);
    expect(events.filter((e) => e.conversionId === 'conv-evt')).toHaveLength(1);
  });

  it("asks tracking over gRPC for a click whose event it has not seen", async () => {
    // This tracking instance publishes under another prefix: attribution never receives its events.
    const other = await bootTracking(testNatsPrefix(), dbs[1]);
    await seed(other.client, 'summer');
    const x = await sendAndClick(other.client, 'msg-X', 'dave', 'summer', day(20));
    const attrPort = await freePort();
    const attrDb = await createTestDatabase('attribution', attributionMigrations, (u) => migrateAttribution(u).then(() => undefined));
    dbs.push(attrDb);
    const app = await startAttribution(
      loadAttributionConfig({
        DATABASE_URL: attrDb.url, NATS_URL: testInfra().natsUrl, NATS_PREFIX: testNatsPrefix(), ATTRIBUTION_HOST: '127.0.0.1',
        ATTRIBUTION_GRPC_PORT: String(attrPort), TRACKING_GRPC_URL: other.grpc, LOG_LEVEL: log,
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
      expect(r.attribution).toMatchObject({ outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED, messageId: 'msg-X', creditedClickId: x });
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
});
