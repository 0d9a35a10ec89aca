/**
 * Sends published in runs (MessagesSent: up to 100 sends of one RegisterMessages call per event) on real Postgres,
 * NATS and gRPC: each send of a run counts once in every report, whichever events carry it — two runs cut differently
 * (a re-drive's ids are digests of other cuts), a legacy single MessageSent, a re-driven copy of the same run (same
 * event id in Trackly-Event-Id) — and runs and singles applied together in one transaction count the same way.
 */
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { connect } from '@nats-io/transport-node';
import { headers as natsHeaders, NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, JetStreamClient, PubAck } from '@nats-io/jetstream';
import { ManualClock } from '@trackly/kernel';
import { durableName, EVENT_ID_HEADER, Events, EventType, Streams } from '@trackly/messaging';
import { eventually, testInfra } from '@trackly/testing';
import { GetPerformanceReportRequest, ReportGrouping } from '@trackly/contracts/reporting/v1/reporting_service';
import type { MessageSent } from '@trackly/contracts/tracking/v1/tracking_events';
import { ReportingTestApp } from './reporting-test-app';
import { expectAppliedInOneTransaction, processedEvents } from './one-pull';
import { expectActivityRollupsEqualRebuild } from './rollup-checks';

jest.setTimeout(60_000);

const at = (iso: string) => new Date(iso);
type Dims = { campaignId: string; creativeId: string; offerId: string };
const A: Dims = { campaignId: 'camp-a', creativeId: 'cr-a', offerId: 'off-a' };
const B: Dims = { campaignId: 'camp-a', creativeId: 'cr-b', offerId: 'off-b' };
const C: Dims = { campaignId: 'camp-c', creativeId: 'cr-b', offerId: 'off-a' };
const send = (messageId: string, d: Dims, sentAt: string): MessageSent => ({ messageId, contactId: `c-${messageId}`, phoneMasked: '+1***0000', ...d, sentAt: at(sentAt) });
const { REPORT_GROUPING_CREATIVE: CREATIVE, REPORT_GROUPING_OFFER: OFFER, REPORT_GROUPING_CAMPAIGN: CAMPAIGN, REPORT_GROUPING_DATE: DATE } = ReportGrouping;
const TRACKING_DURABLE = durableName('reporting', Streams.tracking);

describe('reporting: sends in runs (real Postgres, NATS, gRPC)', () => {
  let t: ReportingTestApp;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let pg: Client;

  /** Publishes an event as tracking's relay (or, with `eventId`, a re-drive: Trackly-Event-Id is the original id). */
  const publish = <T>(type: EventType<T>, payload: T, msgID: string, eventId?: string): Promise<PubAck> => {
    const h = natsHeaders();
    if (eventId) h.set(EVENT_ID_HEADER, eventId);
    return js.publish(`${t.prefix}.${type.subject}`, type.codec.encode(payload).finish(), { msgID, headers: h });
  };
  const run = (sends: MessageSent[], msgID: string, eventId?: string) => publish(Events.MessagesSent, { messages: sends }, msgID, eventId);
  const single = (s: MessageSent, msgID = `sent:${s.messageId}`) => publish(Events.MessageSent, s, msgID);

  const report = (groupBy: ReportGrouping, fromDate: string, toDate: string, more: Partial<GetPerformanceReportRequest> = {}) =>
    t.client.getPerformanceReport({ groupBy, fromDate, toDate, timeZone: '', thenBy: 0, dateBasis: 0, filter: undefined, includeTest: false, reportingCurrency: '', ...more });
  /** [key, sends] of each row, and the total's sends. */
  const sends = async (groupBy: ReportGrouping, fromDate: string, toDate: string) => {
    const r = await report(groupBy, fromDate, toDate);
    return { rows: r.rows.map((x) => [x.key, x.sends]), total: r.total?.sends };
  };
  /** Waits until the stream's one consumer has applied a sentinel send (so everything published before it). */
  const sentinel = async (day: string) => {
    const id = `sentinel-${randomUUID()}`;
    await single(send(id, { campaignId: 'camp-s', creativeId: 'cr-s', offerId: 'off-s' }, `${day}T23:59:00Z`));
    await eventually(async () => (await pg.query(`SELECT 1 FROM "reporting".messages WHERE message_id = $1`, [id])).rows.length === 1, 20_000);
  };
  const stored = async (from: string, to: string) =>
    (await pg.query(`SELECT message_id FROM "reporting".messages WHERE sent_at >= $1 AND sent_at < $2 AND campaign_id <> 'camp-s' ORDER BY 1`, [from, to])).rows.map(
      (r: { message_id: string }) => r.message_id,
    );
  const processed = (ids: string[]) => processedEvents(pg, TRACKING_DURABLE, ids);
  const expectRollupsEqualRebuild = (from: string, to: string) => expectActivityRollupsEqualRebuild(pg, from, to);

  beforeAll(async () => {
    t = await ReportingTestApp.start({ clock: new ManualClock(at('2026-09-01T00:00:00Z')) });
    nc = await connect({ servers: testInfra().natsUrl });
    js = jetstream(nc);
    pg = new Client({ connectionString: t.db.url });
    await pg.connect();
  });

  afterAll(async () => {
    await pg?.end();
    await nc?.close();
    await t?.close();
  });

  it('counts each send of a run once in the creative, offer, campaign and date reports', async () => {
    await run(
      [
        send('a1', A, '2026-05-01T10:00:00Z'), send('a2', A, '2026-05-01T11:00:00Z'), send('a3', B, '2026-05-01T12:00:00Z'),
        send('a4', C, '2026-05-02T09:00:00Z'), send('a5', A, '2026-05-02T10:00:00Z'),
      ],
      'run-a',
    );
    await eventually(async () => (await sends(DATE, '2026-05-01', '2026-05-02')).total === '5', 20_000);
    expect(await sends(CREATIVE, '2026-05-01', '2026-05-02')).toEqual({ rows: [['cr-a', '3'], ['cr-b', '2']], total: '5' });
    expect(await sends(OFFER, '2026-05-01', '2026-05-02')).toEqual({ rows: [['off-a', '4'], ['off-b', '1']], total: '5' });
    expect(await sends(CAMPAIGN, '2026-05-01', '2026-05-02')).toEqual({ rows: [['camp-a', '4'], ['camp-c', '1']], total: '5' });
    expect(await sends(DATE, '2026-05-01', '2026-05-02')).toEqual({ rows: [['2026-05-01', '3'], ['2026-05-02', '2']], total: '5' });
    expect(await stored('2026-05-01', '2026-05-03')).toEqual(['a1', 'a2', 'a3', 'a4', 'a5']);
    // Each send of the run is a message of its own.
    expect(await t.client.getMessageReport({ messageId: 'a4' })).toMatchObject({ contactId: 'c-a4', campaignId: 'camp-c', creativeId: 'cr-b', sentAt: at('2026-05-02T09:00:00Z') });
    await expectRollupsEqualRebuild('2026-04-20', '2026-05-10');
  });

  it('counts a send carried by two runs cut differently and by a legacy MessageSent once', async () => {
    const b = [send('b1', A, '2026-06-01T10:00:00Z'), send('b2', A, '2026-06-01T10:00:01Z'), send('b3', B, '2026-06-01T10:00:02Z'), send('b4', B, '2026-06-01T10:00:03Z')];
    await single(b[2]); // published by an earlier version, one event per send
    await run([b[0], b[1], b[2]], 'run-b-live');
    await run([b[1], b[2], b[3]], 'run-b-redrive'); // a re-drive cut the same call's sends another way: another id
    await single(b[0]);
    await sentinel('2026-06-30');
    const ids = await processed(['sent:b3', 'run-b-live', 'run-b-redrive', 'sent:b1']);
    expect(ids.map((r) => r.event_id).sort()).toEqual(['run-b-live', 'run-b-redrive', 'sent:b1', 'sent:b3']); // all four applied
    expect(await stored('2026-06-01', '2026-06-02')).toEqual(['b1', 'b2', 'b3', 'b4']);
    expect(await sends(CREATIVE, '2026-06-01', '2026-06-01')).toEqual({ rows: [['cr-a', '2'], ['cr-b', '2']], total: '4' });
    expect(await sends(OFFER, '2026-06-01', '2026-06-01')).toEqual({ rows: [['off-a', '2'], ['off-b', '2']], total: '4' });
    expect(await sends(CAMPAIGN, '2026-06-01', '2026-06-01')).toEqual({ rows: [['camp-a', '4']], total: '4' });
    expect(await sends(DATE, '2026-06-01', '2026-06-01')).toEqual({ rows: [['2026-06-01', '4']], total: '4' });
    await expectRollupsEqualRebuild('2026-05-25', '2026-06-10');
  });

  it('counts a run delivered again under its own event id once (a republish, a re-driven copy, the same id past the duplicate window)', async () => {
    const c = [send('c1', A, '2026-07-01T10:00:00Z'), send('c2', B, '2026-07-01T10:00:01Z'), send('c3', C, '2026-07-02T10:00:00Z')];
    expect((await run(c, 'run-c')).duplicate).toBe(false);
    await eventually(async () => (await sends(DATE, '2026-07-01', '2026-07-02')).total === '3', 20_000);
    const before = await processed(['run-c']);
    expect(before).toHaveLength(1);
    // The relay publishing it again (the stream drops it), then a re-drive's copy: a new Nats-Msg-Id, the same event id.
    expect((await run(c, 'run-c')).duplicate).toBe(true);
    expect((await run(c, 'redrive:run-c', 'run-c')).duplicate).toBe(false);
    // And stored again under its own Nats-Msg-Id once the stream's duplicate window (shortened here) has passed: the
    // consumer gets the same event id a second time.
    const jsm = await jetstreamManager(nc);
    const stream = `${t.prefix.toUpperCase()}_${Streams.tracking.name}`;
    const config = (await jsm.streams.info(stream)).config;
    await jsm.streams.update(stream, { ...config, duplicate_window: 200_000_000 });
    try {
      await eventually(async () => !(await run(c, 'run-c')).duplicate, 5000);
    } finally {
      await jsm.streams.update(stream, { ...config, duplicate_window: config.duplicate_window });
    }
    await sentinel('2026-07-31');
    // Recognised as the event applied before: no record of its own, the first one untouched.
    expect(await processed(['run-c', 'redrive:run-c'])).toEqual(before);
    expect(await stored('2026-07-01', '2026-07-03')).toEqual(['c1', 'c2', 'c3']);
    expect(await sends(CREATIVE, '2026-07-01', '2026-07-02')).toEqual({ rows: [['cr-a', '1'], ['cr-b', '2']], total: '3' });
    expect(await sends(DATE, '2026-07-01', '2026-07-02')).toEqual({ rows: [['2026-07-01', '2'], ['2026-07-02', '1']], total: '3' });
    await expectRollupsEqualRebuild('2026-06-25', '2026-07-10');
  });

  it('applies runs and singles that arrive together in one transaction, each send counted once', async () => {
    // A send whose lock this session holds: its group waits while the next events gather behind it.
    const blocker = send('d-blocker', A, '2026-08-01T09:00:00Z');
    const lock = `hashtext('reporting.message:' || $1::text)`;
    await pg.query(`SELECT pg_advisory_lock(${lock})`, [blocker.messageId]);
    let locked = true;
    try {
      await single(blocker);
      await eventually(
        async () =>
          (await pg.query(`SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE d.datname = current_database() AND l.locktype = 'advisory' AND NOT l.granted`))
            .rows.length === 1,
        20_000,
      );
      const d = [1, 2, 3, 4, 5, 6].map((i) => send(`d${i}`, i % 2 ? A : B, `2026-08-01T10:00:0${i}Z`));
      const events: [string, () => Promise<PubAck>][] = [
        ['run-d1', () => run([d[0], d[1], d[2]], 'run-d1')],
        ['sent:d2', () => single(d[1])],
        ['sent:d4', () => single(d[3])],
        ['run-d2', () => run([d[2], d[3], d[4]], 'run-d2')],
        ['sent:d6', () => single(d[5])],
        ['run-d1', () => run([d[0], d[1], d[2]], 'redrive:run-d1', 'run-d1')], // a re-driven copy in the same pull
      ];
      await expectAppliedInOneTransaction({
        pg, durable: TRACKING_DURABLE, blockerId: 'sent:d-blocker', events,
        consumer: async () => (await jetstreamManager(nc)).consumers.info(`${t.prefix.toUpperCase()}_${Streams.tracking.name}`, TRACKING_DURABLE),
        release: async () => {
          await pg.query(`SELECT pg_advisory_unlock(${lock})`, [blocker.messageId]);
          locked = false;
        },
      });
    } finally {
      if (locked) await pg.query(`SELECT pg_advisory_unlock(${lock})`, [blocker.messageId]);
    }
    expect(await stored('2026-08-01', '2026-08-02')).toEqual(['d-blocker', 'd1', 'd2', 'd3', 'd4', 'd5', 'd6']);
    expect(await sends(CREATIVE, '2026-08-01', '2026-08-01')).toEqual({ rows: [['cr-a', '4'], ['cr-b', '3']], total: '7' });
    expect(await sends(OFFER, '2026-08-01', '2026-08-01')).toEqual({ rows: [['off-a', '4'], ['off-b', '3']], total: '7' });
    expect(await sends(CAMPAIGN, '2026-08-01', '2026-08-01')).toEqual({ rows: [['camp-a', '7']], total: '7' });
    expect(await sends(DATE, '2026-08-01', '2026-08-01')).toEqual({ rows: [['2026-08-01', '7']], total: '7' });
    expect((await pg.query(`SELECT reason FROM "reporting".dead_letters`)).rows).toEqual([]);
    await expectRollupsEqualRebuild('2026-07-25', '2026-08-10');
  });
});
