/**
 * Clicks published in runs (ClicksRecorded: up to 100 clicks the relay read together per event) on real Postgres,
 * NATS and gRPC: each click of a run is stored once and, when it is a person's tap, counted once (taps, and the
 * message's engagement as `clicks`) in every report, whichever events carry it — two runs cut differently (a
 * re-drive's ids are digests of other cuts), a lone ClickRecorded (Nats-Msg-Id = the click id), a re-driven copy of
 * the same run (same event id in Trackly-Event-Id) — previews and bots of a run are stored and never counted, and
 * runs and lone clicks applied together in one transaction count the same way.
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
import { Click, ClickClass } from '@trackly/contracts/tracking/v1/tracking';
import { ReportingTestApp } from './reporting-test-app';
import { expectAppliedInOneTransaction, processedEvents } from './one-pull';
import { expectActivityRollupsEqualRebuild } from './rollup-checks';

jest.setTimeout(60_000);

const at = (iso: string) => new Date(iso);
type Dims = { campaignId: string; creativeId: string; offerId: string };
const A: Dims = { campaignId: 'camp-a', creativeId: 'cr-a', offerId: 'off-a' };
const B: Dims = { campaignId: 'camp-a', creativeId: 'cr-b', offerId: 'off-b' };
const C: Dims = { campaignId: 'camp-c', creativeId: 'cr-b', offerId: 'off-a' };
const { CLICK_CLASS_HUMAN: HUMAN, CLICK_CLASS_PREVIEW: PREVIEW, CLICK_CLASS_BOT: BOT } = ClickClass;
const tap = (clickId: string, messageId: string, d: Dims, clickedAt: string, clickClass: ClickClass = HUMAN): Click =>
  Click.fromPartial({ clickId, messageId, contactId: `c-${messageId}`, ...d, clickedAt: at(clickedAt), userAgent: 'test', clickClass });
const { REPORT_GROUPING_CREATIVE: CREATIVE, REPORT_GROUPING_OFFER: OFFER, REPORT_GROUPING_CAMPAIGN: CAMPAIGN, REPORT_GROUPING_DATE: DATE } = ReportGrouping;
const CLICKS_DURABLE = durableName('reporting', Streams.trackingClicks);

describe('reporting: clicks in runs (real Postgres, NATS, gRPC)', () => {
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
  const run = (clicks: Click[], msgID: string, eventId?: string) => publish(Events.ClicksRecorded, { clicks }, msgID, eventId);
  /** A click the relay read alone: Nats-Msg-Id = its click id. */
  const lone = (c: Click) => publish(Events.ClickRecorded, { click: c }, c.clickId);

  const report = (groupBy: ReportGrouping, fromDate: string, toDate: string, more: Partial<GetPerformanceReportRequest> = {}) =>
    t.client.getPerformanceReport({ groupBy, fromDate, toDate, timeZone: '', thenBy: 0, dateBasis: 0, filter: undefined, includeTest: false, reportingCurrency: '', ...more });
  /** [key, clicks (engagements), taps] of each row, and the total's. */
  const taps = async (groupBy: ReportGrouping, fromDate: string, toDate: string) => {
    const r = await report(groupBy, fromDate, toDate);
    return { rows: r.rows.map((x) => [x.key, x.clicks, x.taps]), total: [r.total?.clicks, r.total?.taps] };
  };
  /** Waits until the clicks stream's consumer has applied a sentinel click (so everything published before it). */
  const sentinel = async (day: string) => {
    const id = `sentinel-${randomUUID()}`;
    await lone(tap(id, id, { campaignId: 'camp-s', creativeId: 'cr-s', offerId: 'off-s' }, `${day}T23:59:00Z`));
    await eventually(async () => (await pg.query(`SELECT 1 FROM "reporting".clicks WHERE click_id = $1`, [id])).rows.length === 1, 20_000);
  };
  /** Stored clicks of [from, to) (sentinels left out): [click id, class], one row per stored fact. */
  const stored = async (from: string, to: string) =>
    (
      await pg.query(`SELECT click_id, click_class FROM "reporting".clicks WHERE clicked_at >= $1 AND clicked_at < $2 AND campaign_id <> 'camp-s' ORDER BY 1`, [
        from, to,
      ])
    ).rows.map((r: { click_id: string; click_class: string }) => [r.click_id, r.click_class]);
  const processed = (ids: string[]) => processedEvents(pg, CLICKS_DURABLE, ids);
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

  it('counts each tap of a run once, its engagements once per message, and stores its previews and bots without counting them', async () => {
    await run(
      [
        tap('a1', 'ma', A, '2026-05-01T10:00:00Z'),
        tap('a-prev', 'mb', B, '2026-05-01T10:30:00Z', PREVIEW), // before mb's tap, but nobody's tap: not the engagement
        tap('a2', 'ma', A, '2026-05-01T10:05:00Z'), // a repeat tap: a tap, not an engagement
        tap('a3', 'mb', B, '2026-05-01T11:00:00Z'),
        tap('a-bot', 'md', A, '2026-05-01T12:00:00Z', BOT),
        tap('a4', 'mc', C, '2026-05-02T09:00:00Z'),
        tap('a5', 'md', A, '2026-05-02T10:00:00Z'),
      ],
      'click-run-a',
    );
    await eventually(async () => (await taps(DATE, '2026-05-01', '2026-05-02')).total[1] === '5', 20_000);
    expect(await taps(CREATIVE, '2026-05-01', '2026-05-02')).toEqual({ rows: [['cr-a', '2', '3'], ['cr-b', '2', '2']], total: ['4', '5'] });
    expect(await taps(OFFER, '2026-05-01', '2026-05-02')).toEqual({ rows: [['off-a', '3', '4'], ['off-b', '1', '1']], total: ['4', '5'] });
    expect(await taps(CAMPAIGN, '2026-05-01', '2026-05-02')).toEqual({ rows: [['camp-a', '3', '4'], ['camp-c', '1', '1']], total: ['4', '5'] });
    expect(await taps(DATE, '2026-05-01', '2026-05-02')).toEqual({ rows: [['2026-05-01', '2', '3'], ['2026-05-02', '2', '2']], total: ['4', '5'] });
    expect(await stored('2026-05-01', '2026-05-03')).toEqual([
      ['a-bot', 'BOT'], ['a-prev', 'PREVIEW'], ['a1', 'HUMAN'], ['a2', 'HUMAN'], ['a3', 'HUMAN'], ['a4', 'HUMAN'], ['a5', 'HUMAN'],
    ]);
    await expectRollupsEqualRebuild('2026-04-20', '2026-05-10');
  });

  it('counts a click carried by two runs cut differently and by a lone ClickRecorded once', async () => {
    const b = [
      tap('b1', 'mb1', A, '2026-06-01T10:00:00Z'), tap('b2', 'mb1', A, '2026-06-01T10:00:01Z'),
      tap('b3', 'mb2', B, '2026-06-01T10:00:02Z'), tap('b4', 'mb2', B, '2026-06-01T10:00:03Z'),
    ];
    await lone(b[2]); // the relay read it alone
    await run([b[0], b[1], b[2]], 'click-run-b-live');
    await run([b[1], b[2], b[3]], 'click-run-b-redrive'); // a re-drive cut the same clicks another way: another id
    await lone(b[0]);
    await sentinel('2026-06-30');
    const ids = await processed(['b3', 'click-run-b-live', 'click-run-b-redrive', 'b1']);
    expect(ids.map((r) => r.event_id).sort()).toEqual(['b1', 'b3', 'click-run-b-live', 'click-run-b-redrive']); // all four applied
    expect(await stored('2026-06-01', '2026-06-02')).toEqual([['b1', 'HUMAN'], ['b2', 'HUMAN'], ['b3', 'HUMAN'], ['b4', 'HUMAN']]);
    expect(await taps(CREATIVE, '2026-06-01', '2026-06-01')).toEqual({ rows: [['cr-a', '1', '2'], ['cr-b', '1', '2']], total: ['2', '4'] });
    expect(await taps(OFFER, '2026-06-01', '2026-06-01')).toEqual({ rows: [['off-a', '1', '2'], ['off-b', '1', '2']], total: ['2', '4'] });
    expect(await taps(CAMPAIGN, '2026-06-01', '2026-06-01')).toEqual({ rows: [['camp-a', '2', '4']], total: ['2', '4'] });
    expect(await taps(DATE, '2026-06-01', '2026-06-01')).toEqual({ rows: [['2026-06-01', '2', '4']], total: ['2', '4'] });
    await expectRollupsEqualRebuild('2026-05-25', '2026-06-10');
  });

  it('counts a run delivered again under its own event id once (a republish, a re-driven copy, the same id past the duplicate window)', async () => {
    const c = [tap('c1', 'mc1', A, '2026-07-01T10:00:00Z'), tap('c2', 'mc2', B, '2026-07-01T10:00:01Z'), tap('c3', 'mc3', C, '2026-07-02T10:00:00Z')];
    expect((await run(c, 'click-run-c')).duplicate).toBe(false);
    await eventually(async () => (await taps(DATE, '2026-07-01', '2026-07-02')).total[1] === '3', 20_000);
    const before = await processed(['click-run-c']);
    expect(before).toHaveLength(1);
    // The relay publishing it again (the stream drops it), then a re-drive's copy: a new Nats-Msg-Id, the same event id.
    expect((await run(c, 'click-run-c')).duplicate).toBe(true);
    expect((await run(c, 'redrive:click-run-c', 'click-run-c')).duplicate).toBe(false);
    // And stored again under its own Nats-Msg-Id once the stream's duplicate window (shortened here) has passed.
    const jsm = await jetstreamManager(nc);
    const stream = `${t.prefix.toUpperCase()}_${Streams.trackingClicks.name}`;
    const config = (await jsm.streams.info(stream)).config;
    await jsm.streams.update(stream, { ...config, duplicate_window: 200_000_000 });
    try {
      await eventually(async () => !(await run(c, 'click-run-c')).duplicate, 5000);
    } finally {
      await jsm.streams.update(stream, { ...config, duplicate_window: config.duplicate_window });
    }
    await sentinel('2026-07-31');
    expect(await processed(['click-run-c', 'redrive:click-run-c'])).toEqual(before);
    expect(await stored('2026-07-01', '2026-07-03')).toEqual([['c1', 'HUMAN'], ['c2', 'HUMAN'], ['c3', 'HUMAN']]);
    expect(await taps(CREATIVE, '2026-07-01', '2026-07-02')).toEqual({ rows: [['cr-a', '1', '1'], ['cr-b', '2', '2']], total: ['3', '3'] });
    expect(await taps(DATE, '2026-07-01', '2026-07-02')).toEqual({ rows: [['2026-07-01', '2', '2'], ['2026-07-02', '1', '1']], total: ['3', '3'] });
    await expectRollupsEqualRebuild('2026-06-25', '2026-07-10');
  });

  it('applies runs and lone clicks that arrive together in one transaction, each click counted once', async () => {
    // A click whose message lock this session holds: its group waits while the next events gather behind it.
    const blocker = tap('d-blocker', 'md-blocker', A, '2026-08-01T09:00:00Z');
    const lock = `hashtext('reporting.message:' || $1::text)`;
    await pg.query(`SELECT pg_advisory_lock(${lock})`, [blocker.messageId]);
    let locked = true;
    try {
      await lone(blocker);
      await eventually(
        async () =>
          (await pg.query(`SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE d.datname = current_database() AND l.locktype = 'advisory' AND NOT l.granted`))
            .rows.length === 1,
        20_000,
      );
      // Three messages, two taps each: d1 d2 on md1 (A), d3 d4 on md2 (B), d5 d6 on md3 (A); d2 the earlier of md1's.
      const d = [1, 2, 3, 4, 5, 6].map((i) => tap(`d${i}`, `md${Math.ceil(i / 2)}`, Math.ceil(i / 2) === 2 ? B : A, `2026-08-01T10:00:0${i === 2 ? 0 : i}Z`));
      const events: [string, () => Promise<PubAck>][] = [
        ['click-run-d1', () => run([d[0], d[1], d[2]], 'click-run-d1')],
        ['d2', () => lone(d[1])],
        ['d4', () => lone(d[3])],
        ['click-run-d2', () => run([d[2], d[3], d[4]], 'click-run-d2')],
        ['d6', () => lone(d[5])],
        ['click-run-d1', () => run([d[0], d[1], d[2]], 'redrive:click-run-d1', 'click-run-d1')], // a re-driven copy in the same pull
      ];
      await expectAppliedInOneTransaction({
        pg, durable: CLICKS_DURABLE, blockerId: 'd-blocker', events,
        consumer: async () => (await jetstreamManager(nc)).consumers.info(`${t.prefix.toUpperCase()}_${Streams.trackingClicks.name}`, CLICKS_DURABLE),
        release: async () => {
          await pg.query(`SELECT pg_advisory_unlock(${lock})`, [blocker.messageId]);
          locked = false;
        },
      });
    } finally {
      if (locked) await pg.query(`SELECT pg_advisory_unlock(${lock})`, [blocker.messageId]);
    }
    expect((await stored('2026-08-01', '2026-08-02')).map(([id]) => id)).toEqual(['d-blocker', 'd1', 'd2', 'd3', 'd4', 'd5', 'd6']);
    expect(await taps(CREATIVE, '2026-08-01', '2026-08-01')).toEqual({ rows: [['cr-a', '3', '5'], ['cr-b', '1', '2']], total: ['4', '7'] });
    expect(await taps(CAMPAIGN, '2026-08-01', '2026-08-01')).toEqual({ rows: [['camp-a', '4', '7']], total: ['4', '7'] });
    // md1's engagement is d2 (the earlier tap), wherever it came from.
    const engaged = await pg.query(`SELECT DISTINCT ON (message_id) message_id, click_id FROM "reporting".clicks WHERE message_id = 'md1' ORDER BY message_id, clicked_at, click_id`);
    expect(engaged.rows).toEqual([{ message_id: 'md1', click_id: 'd2' }]);
    expect((await pg.query(`SELECT reason FROM "reporting".dead_letters`)).rows).toEqual([]);
    await expectRollupsEqualRebuild('2026-07-25', '2026-08-10');
  });
});
