import { connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Metadata, status } from '@grpc/grpc-js';
import { GrpcCallError, PromiseClient } from '@trackly/grpc';
import { ManualClock } from '@trackly/kernel';
import { Events, Streams } from '@trackly/messaging';
import { eventually, TestDatabase, testInfra } from '@trackly/testing';
import { TrackingServiceService } from '@trackly/contracts/tracking/v1/tracking_service';
import { ClickRecorded, ClicksRecorded, MessagesSent } from '@trackly/contracts/tracking/v1/tracking_events';
import { Click, ClickClass } from '@trackly/contracts/tracking/v1/tracking';
import { Client } from 'pg';
import { createHash } from 'node:crypto';
import { CLASSIFIER_VERSION } from '../src/domain/click-classifier';
import { startTrackingForTest, startTrackingOn, TrackingTestApp } from './tracking-test-app';


const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1';
const IMESSAGE = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0';
const BROWSER = { 'user-agent': IPHONE, 'accept-language': 'en-US,en;q=0.9' };

/** The id the contract gives a run of clicks: base64url sha256 of its click ids, each followed by "\n". */
const clickRunId = (ids: string[]) => `click-run:${createHash('sha256').update(ids.map((id) => `${id}\n`).join('')).digest('base64url')}`;

/** A click as the clicks stream carries it: alone in a ClickRecorded, or one of a ClicksRecorded run. */
interface CarriedClick {
  click: Click;
  subject: 'ClickRecorded' | 'ClicksRecorded';
  msgId?: string;
  requestId?: string;
  /** The click ids of the event that carried it, in order (just its own for a ClickRecorded). */
  event: string[];
}

/**
 * The clicks a message of the clicks stream carries, flattened (a ClickRecorded's click, each click of a
 * ClicksRecorded), or undefined for another subject. The server predates filter_subjects lists, so specs read the
 * whole stream and pick the subjects here.
 */
function carriedClicks(prefix: string, m: { subject: string; data: Uint8Array; headers?: { get(k: string): string } }): CarriedClick[] | undefined {
  const msgId = m.headers?.get('Nats-Msg-Id') || undefined;
  const requestId = m.headers?.get('Trackly-Request-Id') || undefined;
  if (m.subject === `${prefix}.${Events.ClickRecorded.subject}`) {
    const { click } = ClickRecorded.decode(m.data);
    if (!click) throw new Error(`ClickRecorded ${msgId} without a click`);
    return [{ click, subject: 'ClickRecorded', msgId, requestId, event: [click.clickId] }];
  }
  if (m.subject === `${prefix}.${Events.ClicksRecorded.subject}`) {
    const { clicks } = ClicksRecorded.decode(m.data);
    const event = clicks.map((c) => c.clickId);
    return clicks.map((click) => ({ click, subject: 'ClicksRecorded', msgId, requestId, event }));
  }
  return undefined;
}

describe('tracking service (real Postgres, NATS, gRPC, HTTP)', () => {
  let db: TestDatabase;
  let pg: Client;
  let prefix: string;
  let t: TrackingTestApp;
  let client: PromiseClient<typeof TrackingServiceService>;
  let httpBase: string;
  const clock = new ManualClock(new Date('2026-11-02T10:00:00Z'));

  beforeAll(async () => {
    t = await startTrackingForTest({}, clock);
    ({ db, pg, prefix, client, base: httpBase } = t);
  });

  /** The message's counts as GetMessage derives them from its clicks. */
  const messageRow = async (messageId: string) => {
    const res = await client.getMessage({ messageId });
    return { click_count: Number(res.humanClicks), first_clicked_at: res.firstClickedAt ?? null };
  };

  afterAll(async () => {
    await t?.close(); // drains HTTP, gRPC and the outbox: a few seconds on a loaded box
  }, 30_000);

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
      // Sends on the tracking stream, taps on a stream of their own.
      const seen = await eventually(async () => {
        const got: { subject: string; data: Uint8Array }[] = [];
        const taps: CarriedClick[] = [];
        for (const s of [Streams.tracking, Streams.trackingClicks]) {
          const c = await js.consumers.get(`${prefix.toUpperCase()}_${s.name}`); // ephemeral ordered consumer
          const batch = await c.fetch({ max_messages: 100, expires: 1000 });
          for await (const m of batch) {
            got.push({ subject: m.subject, data: m.data });
            taps.push(...(carriedClicks(prefix, m) ?? []));
            if (m.info.pending === 0) break;
          }
        }
        // Sends and taps come from two relays (their tables): wait for both.
        return taps.length >= 2 && got.some((g) => g.subject.endsWith('.MessagesSent')) ? { got, taps } : undefined;
      }, 30_000, 100);
      // The send in a run of its own (one call, one message); no per-message MessageSent any more.
      const runs = seen.got.filter((g) => g.subject === `${prefix}.${Events.MessagesSent.subject}`).map((g) => MessagesSent.decode(g.data).messages);
      expect(runs).toEqual([[expect.objectContaining({ messageId: 'msg-a', phoneMasked: '+1***1234', sentAt })]]);
      expect(seen.got.filter((g) => g.subject === `${prefix}.${Events.MessageSent.subject}`)).toEqual([]);
      // Both taps, each once and in order: two ClickRecorded (each its click id as Nats-Msg-Id), or one run of the two
      // when the relay read them together; nothing else on the clicks stream.
      expect(seen.taps.map((g) => g.click.clickId)).toEqual([clickId, secondId]);
      for (const g of seen.taps) expect(g.msgId).toBe(g.subject === 'ClickRecorded' ? g.click.clickId : clickRunId([clickId, secondId]));
      expect((await client.getClick({ clickId })).click).toEqual(seen.taps[0].click);
    } finally {
      await nc.close();
    }
  });

  it('answers 404 for unknown codes, never a redirect; HEAD is kept as a BOT hit and never counted', async () => {
    const res = await fetch(`${httpBase}/c/ZZZZZZZZZZZZ`, { redirect: 'manual' });
    expect(res.status).toBe(404);
    expect(res.headers.get('location')).toBeNull();
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-robots-tag')).toBe('noindex, nofollow');
    expect(await res.text()).toBe('This link does not exist or has expired.\n');
    const evil = await fetch(`${httpBase}/c/%2F%2Fevil.example`, { redirect: 'manual' });
    expect(evil.status).toBe(404);
    const { message } = await client.getMessage({ messageId: 'msg-a' });
    const before = await messageRow('msg-a');
    const head = await fetch(message!.trackedUrl, { method: 'HEAD', redirect: 'manual', headers: { 'user-agent': IPHONE } });
    expect(head.status).toBe(302);
    const click = (await client.getClick({ clickId: new URL(head.headers.get('location')!).searchParams.get('cid')! })).click!;
    expect(click).toMatchObject({ clickClass: ClickClass.CLICK_CLASS_BOT, classificationReason: 'HEAD request (link checker)', firstClickOnMessage: false });
    expect(await messageRow('msg-a')).toEqual(before);
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
  /**
   * The clicks on the clicks stream, flattened from both subjects (a ClickRecorded's click, each click of a
   * ClicksRecorded run), in stream order; read once `wanted` holds for their click ids.
   */
  async function clickEvents(wanted: (ids: string[]) => boolean) {
    const nc = await connect({ servers: testInfra().natsUrl });
    try {
      const js = jetstream(nc);
      const stream = `${prefix.toUpperCase()}_${Streams.trackingClicks.name}`;
      return await eventually(async () => {
        // The whole stream (the server predates filter_subjects lists): carriedClicks picks the click subjects.
        const c = await js.consumers.get(stream);
        const got: CarriedClick[] = [];
        const batch = await c.fetch({ max_messages: 10_000, expires: 2000 });
        for await (const m of batch) {
          got.push(...(carriedClicks(prefix, m) ?? []));
          if (m.info.pending === 0) break;
        }
        return wanted(got.map((g) => g.click.clickId)) ? got : undefined;
      }, 20_000, 200);
    } finally {
      await nc.close();
    }
  }

  const register = async (messageId: string, sentAt: Date) =>
    (await client.registerMessages({ messages: [{ messageId, contactId: `c-${messageId}`, phoneE164: '+15551231234', campaignId: 'camp-1', creativeId: 'cr-1', offerId: 'summer', sentAt }] })).messages[0];
  const cid = (res: Response) => new URL(res.headers.get('location')!).searchParams.get('cid')!;

  it('keeps every hit with its class; a preview seconds after delivery never becomes the first click', async () => {
    await seedCatalog();
    clock.set('2026-11-03T08:00:00Z');
    const msg = await register('msg-preview', clock.now());
    const tap = async (advanceMs: number, headers: Record<string, string>) => {
      clock.advance(advanceMs);
      const res = await fetch(msg.trackedUrl, { redirect: 'manual', headers });
      expect(res.status).toBe(302); // previews are redirected too, so the card renders
      expect(new URL(res.headers.get('location')!).host).toBe('shop.example');
      return (await client.getClick({ clickId: cid(res) })).click!;
    };
    const imessage = await tap(2_000, { 'user-agent': IMESSAGE });
    const early = await tap(1_000, { 'user-agent': IPHONE }); // 3 s after the send, no Accept-Language
    const person = await tap(60_000, BROWSER);
    const firstHumanAt = clock.now();
    const again = await tap(60_000, BROWSER);

    expect(imessage).toMatchObject({ clickClass: ClickClass.CLICK_CLASS_PREVIEW, firstClickOnMessage: false, classifierVersion: CLASSIFIER_VERSION });
    expect(imessage.classificationReason).toMatch(/iMessage.*facebookexternalhit/);
    expect(early).toMatchObject({ clickClass: ClickClass.CLICK_CLASS_PREVIEW, firstClickOnMessage: false });
    expect(early.classificationReason).toMatch(/3\.0 s after the send without Accept-Language/);
    expect(person).toMatchObject({ clickClass: ClickClass.CLICK_CLASS_HUMAN, firstClickOnMessage: true, classificationReason: 'browser user agent' });
    expect(again).toMatchObject({ clickClass: ClickClass.CLICK_CLASS_HUMAN, firstClickOnMessage: false });
    expect(await messageRow('msg-preview')).toEqual({ click_count: 2, first_clicked_at: firstHumanAt });

    const ids = [imessage, early, person, again].map((c) => c.clickId);
    const events = await clickEvents((got) => ids.every((id) => got.includes(id)));
    const mine = events.filter((e) => ids.includes(e.click.clickId)).map((e) => [e.click.clickClass, e.click.firstClickOnMessage]);
    expect(mine).toEqual([
      [ClickClass.CLICK_CLASS_PREVIEW, false],
      [ClickClass.CLICK_CLASS_PREVIEW, false],
      [ClickClass.CLICK_CLASS_HUMAN, true],
      [ClickClass.CLICK_CLASS_HUMAN, false],
    ]);
  }, 30_000);

  describe('open-redirect attempts', () => {
    let code: string;
    beforeAll(async () => {
      await seedCatalog();
      code = (await register('msg-redirect', new Date('2026-11-01T00:00:00Z'))).shortCode;
    });

    it.each([
      ['a destination in the query', (c: string) => `/c/${c}?url=https://evil.example&next=%2F%2Fevil.example&cid=evil`],
      ['CRLF in a query parameter', (c: string) => `/c/${c}?x=%0d%0aSet-Cookie:%20a=b%0d%0aLocation:%20https://evil.example`],
      ['an encoded scheme in a parameter', (c: string) => `/c/${c}?u=javascript%3Aalert(1)&r=%68ttps%3A%2F%2Fevil.example`],
    ])('ignores %s: always the offer URL with our own click id', async (_what, path) => {
      const res = await fetch(`${httpBase}${path(code)}`, { redirect: 'manual', headers: BROWSER });
      expect(res.status).toBe(302);
      const location = new URL(res.headers.get('location')!);
      expect(location.origin + location.pathname).toBe('https://shop.example/land');
      expect(location.searchParams.get('cid')).toMatch(/^[0-9A-Za-z]{22}$/);
      expect(res.headers.get('set-cookie')).toBeNull();
      expect(res.headers.get('x-robots-tag')).toBe('noindex, nofollow');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('cache-control')).toBe('no-store');
    });

    it.each([
      ['CRLF in the code', (c: string) => `/c/${c}%0d%0aLocation:%20https://evil.example`],
      ['an encoded URL as the code', () => '/c/https%3A%2F%2Fevil.example'],
      ['a double-encoded //evil', () => '/c/%252F%252Fevil.example'],
      ['//evil after the prefix', () => '/c//evil.example'],
      ['a javascript: code', () => '/c/javascript:alert(1)'],
      ['full-width look-alike characters', (c: string) => `/c/${[...c].map((ch) => String.fromCodePoint(ch.codePointAt(0)! + 0xfee0)).join('')}`],
      ['a dotless-i look-alike appended', (c: string) => `/c/${c}\u0131`],
      ['a code with a path after it', (c: string) => `/c/${c}/https://evil.example`],
    ])('answers %s with a plain 404', async (_what, path) => {
      const res = await fetch(`${httpBase}${path(code)}`, { redirect: 'manual', headers: BROWSER });
      expect(res.status).toBe(404);
      expect(res.headers.get('location')).toBeNull();
    });

    it('stores nothing for refused requests', async () => {
      const { rows } = await pg.query(`SELECT count(*)::int AS n FROM "tracking".clicks WHERE user_agent = $1 AND message_id = 'msg-redirect'`, [IPHONE]);
      expect(rows[0].n).toBe(3); // the three redirects above, no more
    });
  });

  it('reads the new template on the next click after an offer upsert (cache invalidated)', async () => {
    await seedCatalog();
    const msg = await register('msg-cache', new Date('2026-11-01T00:00:00Z'));
    const before = await fetch(msg.trackedUrl, { redirect: 'manual', headers: BROWSER });
    expect(new URL(before.headers.get('location')!).host).toBe('shop.example');
    await seedCatalog('summer', 'https://other.example/go?c={click_id}');
    const after = await fetch(msg.trackedUrl, { redirect: 'manual', headers: BROWSER });
    const location = new URL(after.headers.get('location')!);
    expect(location.origin + location.pathname).toBe('https://other.example/go');
    expect(location.searchParams.get('c')).toMatch(/^[0-9A-Za-z]{22}$/);
    await seedCatalog();
  });

  it('group commit: 1,000 concurrent clicks give 1,000 rows before their 302s, 1,000 events, one first click per message', async () => {
    await seedCatalog();
    clock.set('2026-11-05T12:00:00Z');
    const sentAt = new Date('2026-11-05T11:00:00Z');
    const hot = await register('msg-hot', sentAt);
    const { messages: spread } = await client.registerMessages({
      messages: Array.from({ length: 100 }, (_, i) => ({ messageId: `msg-g-${i}`, contactId: `g-${i}`, phoneE164: '+15551231234', campaignId: 'camp-1', creativeId: 'cr-1', offerId: 'summer', sentAt })),
    });
    const clickOutbox = `SELECT count(*)::int AS n FROM "tracking".outbox WHERE subject = '${Events.ClickRecorded.subject}'`;
    // Half on one message (first-click race), half over 100 messages; every device its own user agent and request id.
    const urls = Array.from({ length: 1000 }, (_, i) => (i % 2 ? hot.trackedUrl : spread[i % 100].trackedUrl));
    const responses = await Promise.all(
      urls.map((u, i) => fetch(u, { redirect: 'manual', headers: { ...BROWSER, 'user-agent': `${IPHONE} device/${i}`, 'x-request-id': `gc-${i}` } })),
    );
    expect(responses.map((r) => r.status)).toEqual(urls.map(() => 302));
    expect(responses.map((r) => r.headers.get('x-request-id'))).toEqual(urls.map((_, i) => `gc-${i}`));
    const ids = responses.map(cid);
    expect(new Set(ids).size).toBe(1000);

    // Durable before the answers, read right after the 302s without waiting: each row is its own event's source
    // (stamped with its transaction id and its request id), and nothing else was written: no outbox row, no counter.
    const rows = await pg.query(
      `SELECT message_id, count(*)::int AS n, bool_and(click_class = 'HUMAN') AS human, bool_and(xid IS NOT NULL) AS sourced
       FROM "tracking".clicks WHERE click_id = ANY($1) GROUP BY message_id`,
      [ids],
    );
    expect(rows.rows.reduce((a, r) => a + r.n, 0)).toBe(1000);
    for (const r of rows.rows) expect({ m: r.message_id, human: r.human, sourced: r.sourced }).toEqual({ m: r.message_id, human: true, sourced: true });
    expect(rows.rows.find((r) => r.message_id === 'msg-hot').n).toBe(500);
    expect((await pg.query(clickOutbox)).rows[0].n).toBe(0);
    expect((await pg.query(`SELECT click_count FROM "tracking".messages WHERE message_id = 'msg-hot'`)).rows[0].click_count).toBe(0);
    const requestIds = await pg.query(`SELECT click_id, request_id FROM "tracking".clicks WHERE click_id = ANY($1)`, [ids]);
    const requestOf = new Map(requestIds.rows.map((r) => [r.click_id, r.request_id]));
    expect(ids.map((id) => requestOf.get(id))).toEqual(urls.map((_, i) => `gc-${i}`));
    // Shared transactions, not one per click: how many share depends on how fast the load arrives (a loaded machine
    // sends fewer at once), so the spec asks only that clicks did share transactions.
    const txs = await pg.query(
      `SELECT count(*)::int AS n, max(per)::int AS largest FROM (SELECT count(*) AS per FROM "tracking".clicks WHERE click_id = ANY($1) GROUP BY xid::text) t`,
      [ids],
    );
    expect(txs.rows[0].n).toBeLessThan(ids.length);
    expect(txs.rows[0].largest).toBeGreaterThan(1);
    expect(await messageRow('msg-hot')).toEqual({ click_count: 500, first_clicked_at: clock.now() });
    const counts = await pg.query(`SELECT count(*)::int AS n FROM "tracking".clicks WHERE message_id LIKE 'msg-g-%' AND click_class = 'HUMAN'`);
    expect(counts.rows[0].n).toBe(500);

    // Every click published once: alone as its ClickRecorded (Nats-Msg-Id = its click id, carrying its own request's
    // id), or in a ClicksRecorded run of up to 100 (Nats-Msg-Id = the digest of the run's click ids, no request id: the
    // rows keep it, checked above). Clicks that shared transactions were read together: some runs. One first click
    // per message.
    const events = await clickEvents((got) => { const s = new Set(got); return ids.every((id) => s.has(id)); });
    const ours = events.filter((e) => ids.includes(e.click.clickId));
    expect(ours).toHaveLength(1000);
    expect(new Set(ours.map((e) => e.click.clickId)).size).toBe(1000);
    const alone = ours.filter((e) => e.subject === 'ClickRecorded');
    const inRuns = ours.filter((e) => e.subject === 'ClicksRecorded');
    expect(alone.every((e) => e.msgId === e.click.clickId)).toBe(true);
    expect(alone.every((e) => e.requestId === `gc-${ids.indexOf(e.click.clickId)}`)).toBe(true);
    expect(inRuns.length).toBeGreaterThan(0);
    expect(inRuns.every((e) => e.event.length >= 2 && e.event.length <= 100 && e.msgId === clickRunId(e.event) && e.requestId === undefined)).toBe(true);
    const firsts = new Map<string, number>();
    for (const e of ours) if (e.click.firstClickOnMessage) firsts.set(e.click.messageId, (firsts.get(e.click.messageId) ?? 0) + 1);
    expect(firsts.size).toBe(51); // msg-hot and the 50 spread messages the even requests went to
    expect([...firsts.values()].every((n) => n === 1)).toBe(true);
    // GetClick derives the same flag as the event carries.
    const hotFirst = ours.find((e) => e.click.messageId === 'msg-hot' && e.click.firstClickOnMessage)!;
    expect((await client.getClick({ clickId: hotFirst.click.clickId })).click!.firstClickOnMessage).toBe(true);
    const hotLater = ours.find((e) => e.click.messageId === 'msg-hot' && !e.click.firstClickOnMessage)!;
    expect((await client.getClick({ clickId: hotLater.click.clickId })).click!.firstClickOnMessage).toBe(false);
  }, 60_000);
  it('registers 10,000 messages in one statement, each row a send of one MessagesSent run, published once', async () => {
    await seedCatalog();
    const sentAt = new Date('2026-11-06T09:00:00.123Z');
    const batch = Array.from({ length: 10_000 }, (_, i) => ({
      messageId: `bulk-${i}`, contactId: `bulk-c-${i}`, phoneE164: `+1555${String(1_000_000 + i).slice(-7)}`,
      campaignId: 'camp-1', creativeId: 'cr-1', offerId: 'summer', sentAt: i % 2 ? sentAt : new Date(sentAt.getTime() + i),
    }));
    const outboxSent = `SELECT count(*)::int AS n FROM "tracking".outbox WHERE subject = '${Events.MessageSent.subject}'`;
    const outboxBefore = (await pg.query(outboxSent)).rows[0].n;
    const md = new Metadata();
    md.set('x-request-id', 'bulk-register');
    const { messages } = await client.registerMessages({ messages: batch }, { deadlineMs: 30_000, metadata: md });
    expect(messages).toHaveLength(10_000);
    expect(messages.map((m) => m.messageId)).toEqual(batch.map((b) => b.messageId)); // request order
    expect(new Set(messages.map((m) => m.shortCode)).size).toBe(10_000);
    expect(messages[7]).toEqual({ ...batch[7], shortCode: expect.stringMatching(/^[0-9A-Za-z]{12}$/), trackedUrl: `${httpBase}/c/${messages[7].shortCode}` });
    // Its speed is measured by `npm run bench:register`, not asserted here.
    // Stored as answered (sent_at to the millisecond), each row its event's source; no outbox row.
    const stored = await pg.query(
      `SELECT message_id, short_code, sent_at, xid IS NOT NULL AS sourced, request_id FROM "tracking".messages WHERE message_id LIKE 'bulk-%'`,
    );
    const byId = new Map(stored.rows.map((r) => [r.message_id, r]));
    expect(messages.every((m) => byId.get(m.messageId)?.short_code === m.shortCode)).toBe(true);
    expect(batch.every((b) => byId.get(b.messageId)!.sent_at.getTime() === b.sentAt.getTime())).toBe(true);
    expect(stored.rows.every((r) => r.sourced && r.request_id === 'bulk-register')).toBe(true);
    expect((await pg.query(outboxSent)).rows[0].n).toBe(outboxBefore);
    // Again: nothing new stored or published, the same links returned.
    const again = await client.registerMessages({ messages: batch }, { deadlineMs: 30_000 });
    expect(again.messages.map((m) => m.shortCode)).toEqual(messages.map((m) => m.shortCode));
    // Runs of up to 100 sends on the stream (MessagesSent), together carrying each message exactly once, each run with
    // Nats-Msg-Id "sent-run:<digest>" and the call's request id; no per-message MessageSent.
    const nc = await connect({ servers: testInfra().natsUrl });
    try {
      const js = jetstream(nc);
      type Run = { msgId?: string; requestId?: string; ids: string[] };
      const subjects = [`${prefix}.${Events.MessagesSent.subject}`, `${prefix}.${Events.MessageSent.subject}`];
      const seen = await eventually(async () => {
        // The whole stream (the server predates filter_subjects lists): catalog events are skipped below.
        const c = await js.consumers.get(`${prefix.toUpperCase()}_${Streams.tracking.name}`);
        const runs: Run[] = [];
        const singles: string[] = [];
        const sends = new Map<string, { n: number; sentAt?: Date; phone: string }>();
        const fetched = await c.fetch({ max_messages: 20_000, expires: 2000 });
        for await (const m of fetched) {
          if (m.subject === subjects[1]) singles.push(m.headers?.get('Nats-Msg-Id') ?? '');
          else if (m.subject === subjects[0]) {
            const { messages: carried } = MessagesSent.decode(m.data);
            if (carried.some((e) => e.messageId.startsWith('bulk-'))) {
              runs.push({ msgId: m.headers?.get('Nats-Msg-Id'), requestId: m.headers?.get('Trackly-Request-Id'), ids: carried.map((e) => e.messageId) });
              for (const e of carried) {
                const prev = sends.get(e.messageId);
                sends.set(e.messageId, { n: (prev?.n ?? 0) + 1, sentAt: e.sentAt, phone: e.phoneMasked });
              }
            }
          }
          if (m.info.pending === 0) break;
        }
        return sends.size >= 10_000 ? { runs, singles, sends } : undefined;
      }, 30_000, 200);
      const { runs, singles, sends } = seen;
      expect(singles).toEqual([]);
      // Exactly the 10,000 messages, each once, and no other send in a run of this call.
      expect(sends.size).toBe(10_000);
      expect([...sends.values()].every((v) => v.n === 1)).toBe(true);
      expect(runs.flatMap((r) => r.ids).sort()).toEqual(batch.map((b) => b.messageId).sort());
      // Runs of at most 100 sends, and filled: one call (one transaction, one request id), so only the size and the
      // end of a relay read (2,000 rows, so at most 5 ends inside the call's 10,000) cut them. Each id the digest of its
      // sends, each followed by "\n".
      expect(runs.every((r) => r.ids.length >= 1 && r.ids.length <= 100)).toBe(true);
      expect(runs.length).toBeGreaterThanOrEqual(100);
      expect(runs.length).toBeLessThanOrEqual(105);
      expect(new Set(runs.map((r) => r.msgId)).size).toBe(runs.length);
      expect(runs.every((r) => r.msgId === `sent-run:${createHash('sha256').update(r.ids.map((id) => `${id}\n`).join('')).digest('base64url')}`)).toBe(true);
      expect(runs.every((r) => r.requestId === 'bulk-register')).toBe(true);
      expect(sends.get('bulk-42')).toEqual({ n: 1, sentAt: batch[42].sentAt, phone: '+1***0042' });
      expect(sends.get('bulk-43')).toEqual({ n: 1, sentAt: batch[43].sentAt, phone: '+1***0043' });
    } finally {
      await nc.close();
    }
  }, 60_000);

  it('registers nothing of a batch whose catalog check fails, in the same statement', async () => {
    await seedCatalog();
    const err = await client
      .registerMessages({
        messages: [
          { messageId: 'cat-1', contactId: 'c', phoneE164: '+15550000000', campaignId: 'camp-1', creativeId: 'nope-cr', offerId: 'nope-offer', sentAt: new Date() },
        ],
      })
      .catch((e) => e);
    expect(err.code).toBe(status.FAILED_PRECONDITION);
    expect(err.details).toBe('unknown creative_id "nope-cr", offer_id "nope-offer": upsert it first');
    expect((await pg.query(`SELECT count(*)::int AS n FROM "tracking".messages WHERE message_id = 'cat-1'`)).rows[0].n).toBe(0);
  });

  it('group commit off: a tap on a link not cached is recorded from its message row in one statement, classified with its send time', async () => {
    await seedCatalog();
    const { app: replica, httpPort } = await startTrackingOn(db.url, prefix, { TRACKING_GROUP_COMMIT: 'false' }, clock);
    try {
      const base = `http://127.0.0.1:${httpPort}`;
      clock.set('2026-11-06T09:00:00Z');
      const old = await register('msg-cold-old', new Date('2026-11-06T08:00:00Z'));
      const fresh = await register('msg-cold-fresh', clock.now());
      clock.advance(2_000);
      const tap = (m: { shortCode: string }, headers: Record<string, string>) => fetch(`${base}/c/${m.shortCode}`, { redirect: 'manual', headers });
      // Sent an hour ago: written by the statement that found the message (the offer's template read after it, this
      // replica's first).
      const person = await tap(old, BROWSER);
      // Sent 2 s ago, no Accept-Language: the statement writes nothing; the link is read, and the tap classified with
      // its real send time and written after, as a preview.
      const preview = await tap(fresh, { 'user-agent': IPHONE });
      const unknown = await tap({ shortCode: 'Zz9Zz9Zz9Zz9' }, BROWSER);
      expect([person.status, preview.status, unknown.status]).toEqual([302, 302, 404]);
      expect(new URL(person.headers.get('location')!).searchParams.get('m')).toBe('msg-cold-old');
      expect((await client.getClick({ clickId: cid(person) })).click).toMatchObject({
        messageId: 'msg-cold-old', clickClass: ClickClass.CLICK_CLASS_HUMAN, firstClickOnMessage: true, classificationReason: 'browser user agent',
      });
      const p = (await client.getClick({ clickId: cid(preview) })).click!;
      expect(p).toMatchObject({ messageId: 'msg-cold-fresh', clickClass: ClickClass.CLICK_CLASS_PREVIEW, firstClickOnMessage: false });
      expect(p.classificationReason).toMatch(/2\.0 s after the send without Accept-Language/);
      const rows = await pg.query(`SELECT message_id, count(*)::int AS n FROM "tracking".clicks WHERE message_id LIKE 'msg-cold-%' GROUP BY 1 ORDER BY 1`);
      expect(rows.rows).toEqual([{ message_id: 'msg-cold-fresh', n: 1 }, { message_id: 'msg-cold-old', n: 1 }]);
      // Now cached: the next tap on the fresh link takes the cached path, still with its send time.
      const cached = await tap(fresh, BROWSER);
      expect((await client.getClick({ clickId: cid(cached) })).click).toMatchObject({ clickClass: ClickClass.CLICK_CLASS_HUMAN, firstClickOnMessage: true });
      // The old link was cached by its first tap with the statement's bound as its send time: a later tap without
      // Accept-Language is still a person's (an hour after the send), and the redirect is the same.
      const again = await tap(old, { 'user-agent': IPHONE });
      expect(again.headers.get('location')!.replace(cid(again), '')).toBe(person.headers.get('location')!.replace(cid(person), ''));
      expect((await client.getClick({ clickId: cid(again) })).click).toMatchObject({ clickClass: ClickClass.CLICK_CLASS_HUMAN, firstClickOnMessage: false });
    } finally {
      await replica.close();
    }
  }, 60_000);

  it('group commit on: concurrent taps on links not cached are recorded together from their message rows, each with its send time', async () => {
    await seedCatalog();
    const { app: replica, httpPort } = await startTrackingOn(db.url, prefix, { TRACKING_GROUP_COMMIT: 'true' }, clock);
    try {
      const base = `http://127.0.0.1:${httpPort}`;
      clock.set('2026-11-06T10:00:00Z');
      const olds = [];
      for (let i = 0; i < 6; i++) olds.push(await register(`msg-coldb-old-${i}`, new Date('2026-11-06T09:00:00Z')));
      const fresh = await register('msg-coldb-fresh', clock.now());
      clock.advance(2_000);
      const tap = (code: string, headers: Record<string, string>) => fetch(`${base}/c/${code}`, { redirect: 'manual', headers });
      // All at once, so they share cold batches: six old links (the first one twice), a fresh one without
      // Accept-Language (not written by the batch; read, then recorded with its real send time) and an unknown code.
      const [unknown, preview, ...people] = await Promise.all([
        tap('Zz9Zz9Zz9Zz8', BROWSER),
        tap(fresh.shortCode, { 'user-agent': IPHONE }),
        ...[...olds, olds[0]].map((m) => tap(m.shortCode, BROWSER)),
      ]);
      expect([unknown.status, preview.status, ...people.map((r) => r.status)]).toEqual([404, 302, ...people.map(() => 302)]);
      expect(people.map((r) => new URL(r.headers.get('location')!).searchParams.get('m'))).toEqual([...olds, olds[0]].map((m) => m.messageId));
      const p = (await client.getClick({ clickId: cid(preview) })).click!;
      expect(p).toMatchObject({ messageId: 'msg-coldb-fresh', clickClass: ClickClass.CLICK_CLASS_PREVIEW, firstClickOnMessage: false });
      expect(p.classificationReason).toMatch(/2\.0 s after the send without Accept-Language/);
      for (const r of people) {
        expect((await client.getClick({ clickId: cid(r) })).click).toMatchObject({ clickClass: ClickClass.CLICK_CLASS_HUMAN, classificationReason: 'browser user agent' });
      }
      // One row per answered tap, none for the unknown code; the twice-tapped link has one first click.
      const rows = await pg.query(`SELECT message_id, count(*)::int AS n FROM "tracking".clicks WHERE message_id LIKE 'msg-coldb-%' GROUP BY 1 ORDER BY 1`);
      expect(rows.rows).toEqual([
        ...olds.map((m, i) => ({ message_id: m.messageId, n: i === 0 ? 2 : 1 })),
        { message_id: 'msg-coldb-fresh', n: 1 },
      ].sort((a, b) => a.message_id.localeCompare(b.message_id)));
      const twice = await Promise.all([people[0], people[6]].map(async (r) => (await client.getClick({ clickId: cid(r) })).click!.firstClickOnMessage));
      expect(twice.filter(Boolean)).toHaveLength(1);
      // Now cached: the next tap on the fresh link takes the cached path, with its send time.
      const cached = await tap(fresh.shortCode, BROWSER);
      expect((await client.getClick({ clickId: cid(cached) })).click).toMatchObject({ clickClass: ClickClass.CLICK_CLASS_HUMAN, firstClickOnMessage: true });
    } finally {
      await replica.close();
    }
  }, 60_000);

  it('two replicas, one with group commit off, racing on one message: still exactly one first click', async () => {
    await seedCatalog();
    const { app: replica, httpPort } = await startTrackingOn(db.url, prefix, { TRACKING_GROUP_COMMIT: 'false' }, clock);
    try {
      const msg = await register('msg-race', new Date('2026-11-05T11:00:00Z'));
      const paths = Array.from({ length: 100 }, (_, i) => `${i % 2 ? httpBase : `http://127.0.0.1:${httpPort}`}/c/${msg.shortCode}`);
      const responses = await Promise.all(
        paths.map((u, i) => fetch(u, { redirect: 'manual', headers: { ...BROWSER, 'user-agent': `${IPHONE} racer/${i}` } })),
      );
      expect(responses.map((r) => r.status)).toEqual(paths.map(() => 302));
      const ids = responses.map(cid);
      expect((await messageRow('msg-race')).click_count).toBe(100);
      // Both replicas relay from the same table, one at a time: every click once, exactly one of them the first.
      const events = (await clickEvents((got) => { const s = new Set(got); return ids.every((id) => s.has(id)); })).filter((e) => e.click.messageId === 'msg-race');
      expect(events).toHaveLength(100);
      expect(events.filter((e) => e.click.firstClickOnMessage)).toHaveLength(1);
    } finally {
      await replica.close();
    }
  }, 60_000);
});
