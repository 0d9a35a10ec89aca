/**
 * Clicks published in runs (ClicksRecorded: up to 100 clicks the relay read together per event) reaching
 * attribution's clicks projection on real Postgres and NATS: every click of a run is saved, once, whichever events
 * carry it (two runs cut differently, a lone ClickRecorded, a re-driven copy of a run); a conversion parked waiting
 * for its click is decided in the transaction of the run that brings the click, with every click of that run known
 * (the contact's earlier click in the same run is the one credited); a parked conversion whose click comes in two
 * runs is decided once, with one event.
 */
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { connect } from '@nats-io/transport-node';
import { headers as natsHeaders, NatsConnection } from '@nats-io/nats-core';
import { jetstream, JetStreamClient } from '@nats-io/jetstream';
import { RunningService } from '@trackly/app-shell';
import { ManualClock, MS_PER_DAY } from '@trackly/kernel';
import { durableName, EVENT_ID_HEADER, Events, EventType, Streams } from '@trackly/messaging';
import { eventually, testInfra } from '@trackly/testing';
import { Click, ClickClass, Offer } from '@trackly/contracts/tracking/v1/tracking';
import { AttributionTestEnv, humanClick, pendingConversion } from './attribution-test-env';

jest.setTimeout(60_000);

const T0 = new Date('2026-06-01T10:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const CLICKS_DURABLE = durableName('attribution', Streams.trackingClicks);
const click = (clickId: string, ms: number, contactId = 'ann', over: Partial<Click> = {}): Click => ({
  ...humanClick(clickId, at(ms), { offerId: 'o1', contactId }),
  ...over,
});

describe('attribution: clicks in runs (real Postgres and NATS)', () => {
  const clock = new ManualClock(at(MS_PER_DAY));
  let env: AttributionTestEnv;
  let app: RunningService | undefined;
  let pg: Client;
  let nc: NatsConnection;
  let js: JetStreamClient;

  /** Publishes an event as its producer would (or, with `eventId`, a re-drive: Trackly-Event-Id is the original id). */
  const publish = async <T>(type: EventType<T>, payload: T, msgID: string, eventId?: string): Promise<void> => {
    const h = natsHeaders();
    if (eventId) h.set(EVENT_ID_HEADER, eventId);
    await js.publish(`${env.prefix}.${type.subject}`, type.codec.encode(payload).finish(), { msgID, headers: h });
  };
  const run = (clicks: Click[], msgID: string, eventId?: string) => publish(Events.ClicksRecorded, { clicks }, msgID, eventId);
  /** A click the relay read alone: Nats-Msg-Id = its click id. */
  const lone = (c: Click) => publish(Events.ClickRecorded, { click: c }, c.clickId);
  /** Waits until the clicks stream's consumer has applied a sentinel click (so everything published before it). */
  const sentinel = async () => {
    const id = `sentinel-${randomUUID()}`;
    await lone(click(id, 0, 'sentinel'));
    await eventually(async () => (await pg.query(`SELECT 1 FROM "attribution".clicks WHERE click_id = $1`, [id])).rows.length === 1, 20_000);
  };
  const saved = async (prefix: string) =>
    (
      await pg.query(
        `SELECT click_id, message_id, contact_id, offer_id, campaign_id, creative_id, clicked_at, first_click_on_message, click_class
         FROM "attribution".clicks WHERE click_id LIKE $1 ORDER BY click_id`,
        [`${prefix}%`],
      )
    ).rows;
  const processed = async (ids: string[]) =>
    (await pg.query(`SELECT event_id, xmin::text AS xid FROM "attribution".processed_events WHERE consumer = $1 AND event_id = ANY($2::text[])`, [CLICKS_DURABLE, ids]))
      .rows as { event_id: string; xid: string }[];
  const parked = async (conversionId: string) =>
    (await pg.query(`SELECT click_id FROM "attribution".parked_conversions WHERE conversion_id = $1`, [conversionId])).rows as { click_id: string }[];
  const decisions = async (conversionId: string) =>
    (await pg.query(`SELECT outcome, credited_click_id, message_id, xmin::text AS xid FROM "attribution".decisions WHERE conversion_id = $1`, [conversionId])).rows as {
      outcome: string;
      credited_click_id: string | null;
      message_id: string | null;
      xid: string;
    }[];
  /** ConversionAttributed events in attribution's outbox for the conversion. */
  const attributedEvents = async (conversionId: string) =>
    (await pg.query(`SELECT payload FROM "attribution".outbox WHERE subject = $1 ORDER BY seq`, [Events.ConversionAttributed.subject])).rows
      .map((o: { payload: Buffer }) => Events.ConversionAttributed.codec.decode(o.payload).attribution!)
      .filter((a) => a.conversionId === conversionId);
  /** Publishes a conversion naming a click attribution has not seen, and waits until it is parked for it. */
  const park = async (conversionId: string, clickId: string, ms: number) => {
    await publish(Events.ConversionReceived, { conversion: pendingConversion(conversionId, clickId, at(ms)) }, `evt-${conversionId}`);
    await eventually(async () => (await parked(conversionId)).length === 1, 20_000);
    expect(await parked(conversionId)).toEqual([{ click_id: clickId }]);
    expect(await decisions(conversionId)).toEqual([]);
  };

  beforeAll(async () => {
    env = await AttributionTestEnv.open();
    pg = env.pg;
    nc = await connect({ servers: testInfra().natsUrl });
    js = jetstream(nc);
    // A horizon far beyond the test: nothing parked is settled by the timer; the clicks' batches must do it.
    ({ app } = await env.start({ ATTRIBUTION_PARK_HORIZON_SECONDS: '3600' }, clock));
    await publish(Events.OfferUpserted, { offer: Offer.fromPartial({ offerId: 'o1', name: 'o1', clickWindowDays: 30, updatedAt: T0 }) }, 'offer-o1');
    await eventually(async () => (await pg.query(`SELECT 1 FROM "attribution".offers WHERE offer_id = 'o1'`)).rows.length === 1, 20_000);
  });

  afterAll(async () => {
    await app?.close();
    await nc?.close();
    await env?.close();
  });

  it('saves every click of a run once, whichever runs, lone events and re-driven copies carry it', async () => {
    const a = Array.from({ length: 6 }, (_, i) =>
      click(`a${i + 1}`, i * 1000, `contact-${i % 3}`, { campaignId: `camp-${i % 2}`, creativeId: `cr-${i % 3}`, firstClickOnMessage: i % 2 === 0 }),
    );
    a[4] = { ...a[4], clickClass: ClickClass.CLICK_CLASS_PREVIEW };
    await lone(a[1]); // the relay read it alone
    await run(a.slice(0, 4), 'click-run-a1');
    await run(a.slice(2, 6), 'click-run-a2'); // the same clicks cut another way (a re-drive): another id
    await run(a.slice(0, 4), 'redrive:click-run-a1', 'click-run-a1'); // a re-driven copy of the first run: the same event id
    await lone(a[5]);
    await sentinel();
    expect(await saved('a')).toEqual(
      a.map((c) => ({
        click_id: c.clickId, message_id: c.messageId, contact_id: c.contactId, offer_id: c.offerId, campaign_id: c.campaignId, creative_id: c.creativeId,
        clicked_at: c.clickedAt, first_click_on_message: c.firstClickOnMessage, click_class: c.clickClass === ClickClass.CLICK_CLASS_PREVIEW ? 'PREVIEW' : 'HUMAN',
      })),
    );
    // Each event applied under its own id; the re-driven copy was recognised as click-run-a1 (no record of its own).
    expect((await processed(['a2', 'click-run-a1', 'click-run-a2', 'redrive:click-run-a1', 'a6'])).map((r) => r.event_id).sort()).toEqual([
      'a2', 'a6', 'click-run-a1', 'click-run-a2',
    ]);
  });

  it("decides a conversion parked for its click in the run that brings the click, crediting the contact's earlier click of the same run", async () => {
    await park('late', 'p-late', 3_600_000);
    // The click the postback names is the run's last; bea's earlier tap on the offer comes in the same run.
    await run([click('p-other', 1000, 'carl'), click('p-first', 2000, 'bea'), click('p-late', 3000, 'bea')], 'click-run-p');
    const [decided] = await eventually(async () => {
      const d = await decisions('late');
      return d.length ? d : undefined;
    }, 20_000);
    expect(decided).toMatchObject({ outcome: 'ATTRIBUTED', credited_click_id: 'p-first', message_id: 'm-p-first' });
    // Decided by the run's batch, in its transaction (the processed-event record and the decision share one xid).
    const [runRecord] = await processed(['click-run-p']);
    expect(decided.xid).toBe(runRecord.xid);
    expect(await parked('late')).toEqual([]);
    expect((await attributedEvents('late')).map((e) => e.creditedClickId)).toEqual(['p-first']);
  });

  it('decides a parked conversion once, with one event, when its click comes in two runs and alone', async () => {
    await park('twice', 'q2', 3_600_000);
    const q = [click('q1', 1000, 'cleo'), click('q2', 2000, 'dina'), click('q3', 3000, 'dina')];
    await run([q[0], q[1]], 'click-run-q1');
    await run([q[1], q[2]], 'click-run-q2');
    await lone(q[1]);
    await sentinel();
    expect((await saved('q')).map((r) => [r.click_id, r.contact_id])).toEqual([['q1', 'cleo'], ['q2', 'dina'], ['q3', 'dina']]);
    const d = await decisions('twice');
    expect(d).toEqual([expect.objectContaining({ outcome: 'ATTRIBUTED', credited_click_id: 'q2', message_id: 'm-q2' })]);
    const [first] = await processed(['click-run-q1']);
    expect(d[0].xid).toBe(first.xid);
    expect(await parked('twice')).toEqual([]);
    expect((await attributedEvents('twice')).map((e) => e.creditedClickId)).toEqual(['q2']);
    expect((await pg.query(`SELECT reason FROM "attribution".dead_letters`)).rows).toEqual([]);
  });
});
