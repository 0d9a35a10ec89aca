import { connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { status } from '@grpc/grpc-js';
import { createGrpcClient, GrpcCallError, PromiseClient, RunningService } from '@trackly/grpc';
import { ManualClock } from '@trackly/kernel';
import { Events, Streams } from '@trackly/messaging';
import { createTestDatabase, deleteNatsPrefix, eventually, freePort, TestDatabase, testInfra, testNatsPrefix } from '@trackly/testing';
import { TrackingServiceService } from '@trackly/contracts/tracking/v1/tracking_service';
import { ClickRecorded, MessageSent } from '@trackly/contracts/tracking/v1/tracking_events';
import { trackingMigrations } from '../src/migrations';
import { loadTrackingConfig } from '../src/tracking.config';
import { migrateTracking, startTracking } from '../src/tracking.app';


describe('tracking service (real Postgres, NATS, gRPC, HTTP)', () => {
  let db: TestDatabase;
  let prefix: string;
  let app: RunningService;
  let client: PromiseClient<typeof TrackingServiceService>;
  let httpBase: string;
  const clock = new ManualClock(new Date('2026-11-02T10:00:00Z'));

  beforeAll(async () => {
    db = await createTestDatabase('tracking', trackingMigrations, (url) => migrateTracking(url).then(() => undefined));
    prefix = testNatsPrefix();
    const [grpcPort, httpPort] = [await freePort(), await freePort()];
    httpBase = `http://127.0.0.1:${httpPort}`;
    app = await startTracking(
      loadTrackingConfig({
        DATABASE_URL: db.url,
        NATS_URL: testInfra().natsUrl,
        NATS_PREFIX: prefix,
        TRACKING_HOST: '127.0.0.1',
        TRACKING_GRPC_PORT: String(grpcPort),
        TRACKING_HTTP_PORT: String(httpPort),
        TRACKING_PUBLIC_URL: httpBase,
        LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
      }),
      { clock },
    );
    client = createGrpcClient(TrackingServiceService, `127.0.0.1:${grpcPort}`);
  });

  afterAll(async () => {
    client?.close();
    await app?.close();
    await db?.drop();
    await deleteNatsPrefix(prefix);
  });

  async function seedCatalog(offerId = 'summer', template = 'https://shop.example/land?cid={click_id}&m={message_id}') {
    await client.upsertCampaign({ campaignId: 'camp-1', name: 'Weekly blast' });
    await client.upsertCreative({ creativeId: 'cr-1', name: 'Summer Sale 20%' });
    return client.upsertOffer({
      offerId,
      name: 'Summer Clearance',
      destinationUrlTemplate: template,
      defaultPayout: { currencyCode: 'USD', amountMicros: '24990000' },
      clickWindowDays: 30,
    });
  }

  it('upserts an offer, round-tripping int64 money, optional window and timestamps', async () => {
    const first = await seedCatalog();
    expect(first.created).toBe(true);
    expect(first.offer).toMatchObject({
      offerId: 'summer',
      defaultPayout: { currencyCode: 'USD', amountMicros: '24990000' },
      clickWindowDays: 30,
    });
    expect(first.offer!.updatedAt).toEqual(clock.now());
    const again = await client.upsertOffer({
      offerId: 'summer', name: 'Summer Clearance', destinationUrlTemplate: 'https://shop.example/?c={click_id}',
      defaultPayout: { currencyCode: 'usd', amountMicros: '0' },
    });
    expect(again.created).toBe(false);
    expect(again.offer!.clickWindowDays).toBeUndefined();
    expect(again.offer!.defaultPayout).toEqual({ currencyCode: 'USD', amountMicros: '0' });
  });

  it.each([
    ['javascript:alert(1)//{click_id}', /http or https/],
    ['//evil.example/{click_id}', /absolute URL/],
    ['https://shop.example/no-macro', /\{click_id\}/],
    ['https://user:pw@shop.example/{click_id}', /credentials/],
    ['https://shop.example/{clickid}', /unknown macro/],
  ])('rejects destination template %p with INVALID_ARGUMENT', async (template, why) => {
    const err = await client
      .upsertOffer({ offerId: 'bad', name: 'Bad', destinationUrlTemplate: template, defaultPayout: { currencyCode: 'USD', amountMicros: '1' } })
      .catch((e) => e);
    expect(err).toBeInstanceOf(GrpcCallError);
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(why);
  });

  it('registers messages idempotently, clicks redirect with the click id, and events are published', async () => {
    await seedCatalog();
    const sentAt = new Date('2026-11-02T09:00:00Z');
    const msg = { messageId: 'msg-a', contactId: 'contact-1', phoneE164: '+15551231234', campaignId: 'camp-1', creativeId: 'cr-1', offerId: 'summer', sentAt };
    const { messages } = await client.registerMessages({ messages: [msg] });
    expect(messages[0].trackedUrl).toMatch(new RegExp(`^${httpBase}/c/[0-9A-Za-z]{12}$`));
    const again = await client.registerMessages({ messages: [msg] });
    expect(again.messages[0].shortCode).toBe(messages[0].shortCode);

    const res = await fetch(messages[0].trackedUrl, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0 (iPhone)' } });
    expect(res.status).toBe(302);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const location = new URL(res.headers.get('location')!);
    expect(location.origin + location.pathname).toBe('https://shop.example/land');
    expect(location.searchParams.get('m')).toBe('msg-a');
    const clickId = location.searchParams.get('cid')!;
    expect(clickId).toMatch(/^[0-9A-Za-z]{22}$/);

    clock.advance(60_000);
    const second = await fetch(messages[0].trackedUrl, { redirect: 'manual' });
    const secondId = new URL(second.headers.get('location')!).searchParams.get('cid')!;
    expect(secondId).not.toBe(clickId);

    const { click } = await client.getClick({ clickId });
    expect(click).toMatchObject({ messageId: 'msg-a', contactId: 'contact-1', offerId: 'summer', firstClickOnMessage: true });
    expect(click!.clickedAt).toEqual(new Date('2026-11-02T10:00:00Z'));
    expect(click!.messageSentAt).toEqual(sentAt);
    expect((await client.getClick({ clickId: secondId })).click!.firstClickOnMessage).toBe(false);

    // Events arrive on the prefixed subjects, encoded as the contract's messages, each exactly once.
    const nc = await connect({ servers: testInfra().natsUrl });
    try {
      const js = jetstream(nc);
      const stream = `${prefix.toUpperCase()}_${Streams.tracking.name}`;
      const seen = await eventually(async () => {
        const got: { subject: string; data: Uint8Array }[] = [];
        const c = await js.consumers.get(stream); // ephemeral ordered consumer
        const batch = await c.fetch({ max_messages: 100, expires: 1000 });
        for await (const m of batch) got.push({ subject: m.subject, data: m.data });
        return got.filter((g) => g.subject.endsWith('ClickRecorded')).length === 2 ? got : undefined;
      });
      const sent = seen.filter((g) => g.subject === `${prefix}.${Events.MessageSent.subject}`).map((g) => MessageSent.decode(g.data));
      expect(sent).toEqual([expect.objectContaining({ messageId: 'msg-a', phoneMasked: '+1***1234', sentAt })]);
      const clicks = seen.filter((g) => g.subject.endsWith('ClickRecorded')).map((g) => ClickRecorded.decode(g.data).click!.clickId);
      expect(clicks).toEqual([clickId, secondId]);
    } finally {
      await nc.close();
    }
  });

  it('answers 404 for unknown codes, never a redirect, and does not count HEAD', async () => {
    const res = await fetch(`${httpBase}/c/ZZZZZZZZZZZZ`, { redirect: 'manual' });
    expect(res.status).toBe(404);
    expect(res.headers.get('location')).toBeNull();
    const evil = await fetch(`${httpBase}/c/%2F%2Fevil.example`, { redirect: 'manual' });
    expect(evil.status).toBe(404);
    const { messages } = await client.getMessage({ messageId: 'msg-a' }).then((r) => ({ messages: [r.message!] }));
    const head = await fetch(messages[0].trackedUrl, { method: 'HEAD', redirect: 'manual' });
    expect(head.status).toBe(204);
  });

  it('rejects a batch naming unknown catalog ids, storing none of it', async () => {
    const err = await client
      .registerMessages({
        messages: [
          { messageId: 'msg-x', contactId: 'c', phoneE164: '+15550000000', campaignId: 'camp-1', creativeId: 'cr-1', offerId: 'summer', sentAt: new Date() },
          { messageId: 'msg-y', contactId: 'c', phoneE164: '+15550000000', campaignId: 'nope', creativeId: 'cr-1', offerId: 'summer', sentAt: new Date() },
        ],
      })
      .catch((e) => e);
    expect(err.code).toBe(status.FAILED_PRECONDITION);
    expect(err.details).toMatch(/campaign_id "nope"/);
    const missing = await client.getMessage({ messageId: 'msg-x' }).catch((e) => e);
    expect(missing.code).toBe(status.NOT_FOUND);
  });

  it('reports every invalid field of a batch', async () => {
    const err = await client
      .registerMessages({ messages: [{ messageId: '', contactId: 'c', phoneE164: '555', campaignId: 'a', creativeId: 'b', offerId: 'c', sentAt: undefined }] })
      .catch((e) => e);
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/messages\[0\]\.message_id/);
    expect(err.details).toMatch(/messages\[0\]\.phone_e164/);
    expect(err.details).toMatch(/messages\[0\]\.sent_at/);
  });
});
