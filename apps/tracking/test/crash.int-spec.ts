/**
 * A click's 302 is answered only after its row committed, and the row is its ClickRecorded event's source, so
 * killing the edge right after the answers loses nothing: the built tracking app (a real child process, group commit
 * on, and off: each tap's own INSERT on the edge's own connections) answers 1,000 concurrent clicks, is killed with SIGKILL at once, and every click is in the table; after a
 * restart every click is on the stream, alone in a ClickRecorded or in a ClicksRecorded run (rows past the relay's
 * cursor are published by the next relay; rows published but not yet passed by the saved cursor go out again, dropped
 * by the stream's duplicate window when cut into the same events, else carried again, the same click byte for byte).
 */
import { createHash } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { createGrpcClient } from '@trackly/grpc';
import { Events, Streams } from '@trackly/messaging';
import { ChildApp, eventually, testInfra } from '@trackly/testing';
import { TrackingServiceService } from '@trackly/contracts/tracking/v1/tracking_service';
import { ClickRecorded, ClicksRecorded } from '@trackly/contracts/tracking/v1/tracking_events';
import { Click } from '@trackly/contracts/tracking/v1/tracking';
import { trackingMigrations } from '../src/migrations';
import { migrateTracking } from '../src/tracking.app';

jest.setTimeout(240_000);

const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1';
const N = 1000;

describe.each(['true', 'false'])('tracking (group commit %s) killed with SIGKILL right after answering 1,000 clicks', (groupCommit) => {
  let app: ChildApp;
  const count = (sql: string, params: unknown[] = []) => app.count(sql, params);

  beforeAll(async () => {
    app = await ChildApp.create({
      app: 'tracking',
      migrations: trackingMigrations,
      migrate: migrateTracking,
      env: {
        TRACKING_GROUP_COMMIT: groupCommit,
        // Every request comes from this one address: the repeat-pattern rule would call it a scanner.
        TRACKING_BOT_REPEAT_CODES: '0',
      },
    });
  });

  afterAll(() => app?.close());

  it('has every click row at the kill and every click on the stream after the restart, no event id twice', async () => {
    const first = await app.start();
    const client = createGrpcClient(TrackingServiceService, first.grpc!, { deadlineMs: 30_000 });
    let links: string[];
    try {
      await client.upsertCampaign({ campaignId: 'camp', name: 'Blast' });
      await client.upsertCreative({ creativeId: 'cr', name: 'Creative' });
      await client.upsertOffer({
        offerId: 'offer', name: 'Offer', destinationUrlTemplate: 'https://shop.example/land?cid={click_id}',
        defaultPayout: { currencyCode: 'USD', amountMicros: '1000000' },
      });
      // Sent an hour ago (this process's clock is the real one): taps now are people, not link previews.
      const sentAt = new Date(Date.now() - 3_600_000);
      const { messages } = await client.registerMessages({
        messages: Array.from({ length: 100 }, (_, i) => ({ messageId: `m-${i}`, contactId: `c-${i}`, phoneE164: '+15551231234', campaignId: 'camp', creativeId: 'cr', offerId: 'offer', sentAt })),
      });
      links = messages.map((m) => m.trackedUrl);
    } finally {
      client.close();
    }
    // The MessageSent rows are published before the blast, so nothing else is in flight at the kill.
    await app.outboxDrained(30_000);

    const responses = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        fetch(links[i % links.length], { redirect: 'manual', headers: { 'user-agent': `${IPHONE} device/${i}`, 'accept-language': 'en-US' } }),
      ),
    );
    await app.kill(first);
    expect(responses.map((r) => r.status)).toEqual(responses.map(() => 302));
    const ids = responses.map((r) => new URL(r.headers.get('location')!).searchParams.get('cid')!);
    expect(new Set(ids).size).toBe(N);

    // Every answered click is durable, as its event's source (xid set), although the process died right after answering.
    expect(await count(`SELECT count(*) AS n FROM "tracking".clicks WHERE click_id = ANY($1) AND click_class = 'HUMAN' AND xid IS NOT NULL`, [ids])).toBe(N);
    await app.start();
    // The restarted relay moves its cursor past the last click (by (xid, seq)).
    await eventually(
      () =>
        count(
          `SELECT count(*) AS n FROM "tracking".clicks AS t, "tracking".table_relay_cursors AS c
           WHERE c.relay = 'clicks' AND (t.xid, t.seq) > (c.xid, c.seq)`,
        ).then((n) => n === 0),
      60_000,
      100,
    );

    // Every click on the stream: alone in a ClickRecorded or in a ClicksRecorded run (the server predates
    // filter_subjects lists: the whole clicks stream is read, both subjects flattened, anything else fails).
    const nc = await connect({ servers: testInfra().natsUrl });
    try {
      const js = jetstream(nc);
      const jsm = await jetstreamManager(nc);
      const stream = `${app.prefix.toUpperCase()}_${Streams.trackingClicks.name}`;
      const single = `${app.prefix}.${Events.ClickRecorded.subject}`;
      const runs = `${app.prefix}.${Events.ClicksRecorded.subject}`;
      const expected = (await jsm.streams.info(stream)).state.messages;
      expect(expected).toBeGreaterThan(0);
      const consumer = await js.consumers.get(stream);
      // Each click's copies on the stream: the subject that carried it and the click's encoding.
      const copies = new Map<string, { subject: string; bytes: string }[]>();
      const msgIds: string[] = [];
      let read = 0;
      while (read < expected) {
        const batch = await consumer.fetch({ max_messages: 500, expires: 2000 });
        for await (const m of batch) {
          read++;
          let carried: Click[];
          if (m.subject === single) carried = [ClickRecorded.decode(m.data).click!];
          else if (m.subject === runs) carried = ClicksRecorded.decode(m.data).clicks;
          else throw new Error(`unexpected subject ${m.subject} on ${stream}`);
          const carriedIds = carried.map((c) => c.clickId);
          msgIds.push(m.headers?.get('Nats-Msg-Id') ?? '');
          // A click alone has its click id as Nats-Msg-Id, a run the digest of its click ids (each followed by "\n").
          expect(m.headers?.get('Nats-Msg-Id')).toBe(
            m.subject === single ? carriedIds[0] : `click-run:${createHash('sha256').update(carriedIds.map((id) => `${id}\n`).join('')).digest('base64url')}`,
          );
          if (m.subject === runs) expect(carriedIds.length).toBeGreaterThanOrEqual(2);
          for (const c of carried) {
            const list = copies.get(c.clickId) ?? [];
            list.push({ subject: m.subject.slice(m.subject.lastIndexOf('.') + 1), bytes: Buffer.from(Click.encode(c).finish()).toString('hex') });
            copies.set(c.clickId, list);
          }
        }
      }
      expect([...copies.keys()].sort()).toEqual([...ids].sort());
      // Wherever a click is carried again, it is the same click, byte for byte.
      expect([...copies.values()].filter((l) => new Set(l.map((c) => c.bytes)).size > 1)).toEqual([]);
      // A republish of the same event is dropped by the stream's duplicate window: no id twice. A click may still be
      // carried twice, in a run the restarted relay cut otherwise (it re-reads from its last saved cursor and sees
      // more rows at once than the reads before the kill); consumers apply it once by its click id.
      expect(msgIds.length).toBe(new Set(msgIds).size);
    } finally {
      await nc.close();
    }
  });
});
