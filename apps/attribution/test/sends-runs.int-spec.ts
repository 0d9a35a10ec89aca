/**
 * Sends published in runs (MessagesSent: up to 100 sends of one RegisterMessages call per event) reaching
 * attribution's sends projection on real Postgres and NATS: every send of a run is saved, once, whichever events
 * carry it (two runs cut differently, a legacy MessageSent, a re-driven copy of a run), also when runs and singles
 * with repeats share one transaction large enough for the plain-insert-first path; a view-through decision finds a
 * send that came in a run.
 */
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { connect } from '@nats-io/transport-node';
import { headers as natsHeaders, NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, JetStreamClient } from '@nats-io/jetstream';
import { RunningService } from '@trackly/app-shell';
import { ManualClock, MS_PER_DAY } from '@trackly/kernel';
import { durableName, EVENT_ID_HEADER, Events, EventType, Streams } from '@trackly/messaging';
import { eventually, testInfra } from '@trackly/testing';
import { Conversion } from '@trackly/contracts/ingest/v1/ingest';
import { Offer } from '@trackly/contracts/tracking/v1/tracking';
import type { MessageSent } from '@trackly/contracts/tracking/v1/tracking_events';
import { AttributionTestEnv, pendingConversion } from './attribution-test-env';

jest.setTimeout(60_000);

const T0 = new Date('2026-06-01T10:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const TRACKING_DURABLE = durableName('attribution', Streams.tracking);
const send = (id: string, ms: number, over: Partial<MessageSent> = {}): MessageSent => ({
  messageId: id, contactId: `c-${id}`, phoneMasked: '', campaignId: 'camp', creativeId: 'cr', offerId: 'o1', sentAt: at(ms), ...over,
});

describe('attribution: sends in runs (real Postgres and NATS)', () => {
  const clock = new ManualClock(at(MS_PER_DAY));
  let env: AttributionTestEnv;
  let app: RunningService | undefined;
  let pg: Client;
  let nc: NatsConnection;
  let js: JetStreamClient;

  /** Publishes an event as tracking's relay (or, with `eventId`, a re-drive: Trackly-Event-Id is the original id). */
  const publish = async <T>(type: EventType<T>, payload: T, msgID: string, eventId?: string): Promise<void> => {
    const h = natsHeaders();
    if (eventId) h.set(EVENT_ID_HEADER, eventId);
    await js.publish(`${env.prefix}.${type.subject}`, type.codec.encode(payload).finish(), { msgID, headers: h });
  };
  const run = (sends: MessageSent[], msgID: string, eventId?: string) => publish(Events.MessagesSent, { messages: sends }, msgID, eventId);
  const single = (s: MessageSent, msgID = `sent:${s.messageId}`) => publish(Events.MessageSent, s, msgID);
  /** Waits until the tracking stream's one consumer has applied a sentinel send (so everything published before it). */
  const sentinel = async () => {
    const id = `sentinel-${randomUUID()}`;
    await single(send(id, 0, { contactId: 'sentinel' }));
    await eventually(async () => (await pg.query(`SELECT 1 FROM "attribution".sends WHERE message_id = $1`, [id])).rows.length === 1, 20_000);
  };
  const saved = async (prefix: string) =>
    (
      await pg.query(`SELECT message_id, contact_id, offer_id, campaign_id, creative_id, sent_at FROM "attribution".sends WHERE message_id LIKE $1 ORDER BY message_id`, [
        `${prefix}%`,
      ])
    ).rows as { message_id: string; contact_id: string; offer_id: string; campaign_id: string; creative_id: string; sent_at: Date }[];
  const processed = async (ids: string[]) =>
    (await pg.query(`SELECT event_id, processed_at FROM "attribution".processed_events WHERE consumer = $1 AND event_id = ANY($2::text[])`, [TRACKING_DURABLE, ids]))
      .rows as { event_id: string; processed_at: Date }[];

  beforeAll(async () => {
    env = await AttributionTestEnv.open();
    pg = env.pg;
    nc = await connect({ servers: testInfra().natsUrl });
    js = jetstream(nc);
    ({ app } = await env.start({ ATTRIBUTION_PARK_HORIZON_SECONDS: '3600' }, clock));
  });

  afterAll(async () => {
    await app?.close();
    await nc?.close();
    await env?.close();
  });

  it('saves every send of a run once, whichever runs, legacy events and re-driven copies carry it', async () => {
    const s = Array.from({ length: 8 }, (_, i) => send(`a${i + 1}`, i * 1000, { campaignId: `camp-${i % 2}`, creativeId: `cr-${i % 3}`, offerId: `o-${i % 2}` }));
    await single(s[1]); // an earlier version's event, one per send
    await run(s.slice(0, 5), 'run-a1');
    await run(s.slice(3, 7), 'run-a2'); // the same call's sends cut another way (a re-drive): another id
    await run(s.slice(0, 5), 'redrive:run-a1', 'run-a1'); // a re-driven copy of the first run: the same event id
    await single(s[7]);
    await sentinel();
    expect(await saved('a')).toEqual(
      s.map((x) => ({ message_id: x.messageId, contact_id: x.contactId, offer_id: x.offerId, campaign_id: x.campaignId, creative_id: x.creativeId, sent_at: x.sentAt })),
    );
    // Each event applied under its own id; the re-driven copy was recognised as run-a1 (no record of its own).
    expect((await processed(['sent:a2', 'run-a1', 'run-a2', 'redrive:run-a1', 'sent:a8'])).map((r) => r.event_id).sort()).toEqual([
      'run-a1', 'run-a2', 'sent:a2', 'sent:a8',
    ]);
  });

  it('applies runs and singles with repeats that arrive together in one transaction, each send saved once, the first write standing', async () => {
    await single(send('b-000', 0, { contactId: 'first' })); // stored before, under another event
    await sentinel();
    // A session holding SHARE on sends: the next send's group waits on its insert while the events behind it gather.
    const locker = new Client({ connectionString: env.db.url });
    await locker.connect();
    let locked = false;
    try {
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE "attribution".sends IN SHARE MODE`);
      locked = true;
      await single(send('b-blocker', 0));
      await eventually(async () => (await pg.query(`SELECT 1 FROM pg_locks WHERE relation = '"attribution".sends'::regclass AND NOT granted`)).rows.length > 0, 20_000);
      // 120 sends in runs of 40 cut two ways, singles, a re-driven copy, a send stored before: 182 carried, 120 new.
      const b = Array.from({ length: 120 }, (_, i) => send(`b-${String(i).padStart(3, '0')}`, 60_000 + i));
      const events: [string, () => Promise<void>][] = [
        ['run-b1', () => run(b.slice(0, 40), 'run-b1')],
        ['run-b2', () => run(b.slice(20, 60), 'run-b2')],
        ['sent:b-010', () => single(b[10])],
        ['run-b3', () => run(b.slice(60, 100), 'run-b3')],
        ['run-b4', () => run(b.slice(90, 120), 'run-b4')],
        ['sent:b-119', () => single(b[119])],
        ['run-b1', () => run(b.slice(0, 40), 'redrive:run-b1', 'run-b1')],
      ];
      for (const [, p] of events) await p();
      const jsm = await jetstreamManager(nc);
      await eventually(async () => {
        const info = await jsm.consumers.info(`${env.prefix.toUpperCase()}_${Streams.tracking.name}`, TRACKING_DURABLE);
        return info.num_pending === 0 && info.num_ack_pending === 1 + events.length;
      }, 20_000);
      await locker.query('COMMIT');
      locked = false;
      const ids = [...new Set(events.map(([id]) => id))];
      const rows = await eventually(async () => {
        const r = await processed(ids);
        return r.length === ids.length ? r : undefined;
      }, 20_000);
      // One transaction (processed_at is its start) for the six events, after the blocker's.
      expect(new Set(rows.map((r) => r.processed_at.toISOString())).size).toBe(1);
      const [blocker] = await processed(['sent:b-blocker']);
      expect(blocker.processed_at.getTime()).toBeLessThan(rows[0].processed_at.getTime());
      const stored = await saved('b-');
      expect(stored.map((r) => r.message_id)).toEqual(['b-000', ...b.slice(1).map((x) => x.messageId), 'b-blocker']);
      expect(stored[0].contact_id).toBe('first');
      expect(stored[119]).toEqual({ message_id: 'b-119', contact_id: 'c-b-119', offer_id: 'o1', campaign_id: 'camp', creative_id: 'cr', sent_at: at(60_119) });
      expect((await pg.query(`SELECT reason FROM "attribution".dead_letters`)).rows).toEqual([]);
    } finally {
      if (locked) await locker.query('ROLLBACK');
      await locker.end();
    }
  });

  it('finds sends that came in a run for a view-through decision', async () => {
    await publish(Events.OfferUpserted, { offer: Offer.fromPartial({ offerId: 'o-view', name: 'o-view', viewThroughWindowDays: 3, updatedAt: T0 }) }, 'offer-view');
    await run(
      [send('v-other', 0, { contactId: 'bea', offerId: 'o-view' }), send('v-seen', 1000, { contactId: 'bea', offerId: 'o-view', campaignId: 'camp-v', creativeId: 'cr-v' })],
      'run-view',
    );
    // After the offer and the run on the tracking stream, so the view is known when it is decided.
    await eventually(async () => (await pg.query(`SELECT 1 FROM "attribution".sends WHERE message_id = 'v-seen'`)).rows.length > 0, 20_000);
    const viewed = Conversion.fromPartial({ ...pendingConversion('view', '', at(3_600_000)), messageId: 'v-seen' });
    await publish(Events.ConversionReceived, { conversion: viewed }, 'evt-view');
    const row = await eventually(async () => (await pg.query(`SELECT * FROM "attribution".decisions WHERE conversion_id = 'view'`)).rows[0], 20_000);
    // The postback names the run's second send; credit goes to the first send to the contact for the offer, the run's
    // first: both were found.
    expect(row).toMatchObject({ outcome: 'ATTRIBUTED', type: 'VIEW_THROUGH', message_id: 'v-other', campaign_id: 'camp', creative_id: 'cr', offer_id: 'o-view' });
    expect(row.explanation).toMatch(/names message v-seen/);
  });
});
