/**
 * Live conversions a batch at a time, on real Postgres and NATS: a backlog published while attribution is stopped
 * reaches its consumers as one pull, and the batch's edge cases hold — the same conversion twice in the batch (two
 * event ids), an event already applied (its processed-event record exists), a poison event in the middle, a twin
 * credited earlier in the same batch, a conversion whose click is only further down the clicks stream (parked if its
 * batch runs first, then settled by the clicks batch) — with one decision and one event per conversion, in order.
 */
import { Client } from 'pg';
import { RunningService } from '@trackly/app-shell';
import { ManualClock, MS_PER_DAY } from '@trackly/kernel';
import { Events, EventType, Streams } from '@trackly/messaging';
import { eventually } from '@trackly/testing';
import { Conversion } from '@trackly/contracts/ingest/v1/ingest';
import { Click, Offer } from '@trackly/contracts/tracking/v1/tracking';
import { AttributionTestEnv, humanClick, pendingConversion } from './attribution-test-env';

jest.setTimeout(60_000);

const T0 = new Date('2026-06-01T10:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
/** Attribution's durable consumer of ingest's stream (MessagingModule names it service-stream). */
const INGEST_DURABLE = `attribution-${Streams.ingest.name.toLowerCase().replace(/_/g, '-')}`;

describe('attribution consumers, a batch at a time', () => {
  const clock = new ManualClock(at(MS_PER_DAY));
  let env: AttributionTestEnv;
  let pg: Client;
  let app: RunningService | undefined;

  async function start() {
    // Long enough that nothing parked is settled by the timer during the test: the clicks batch must do it.
    ({ app } = await env.start({ ATTRIBUTION_PARK_HORIZON_SECONDS: '3600' }, clock));
  }

  const publish = <T>(type: EventType<T>, payload: T, msgID: string) => env.publish(type, payload, msgID);
  const click = (clickId: string, ms: number): Click => humanClick(clickId, at(ms), { offerId: 'o1', contactId: 'ann' });
  const conversion = (conversionId: string, clickId: string, ms: number, micros = '5000000'): Conversion => pendingConversion(conversionId, clickId, at(ms), { micros });

  beforeAll(async () => {
    env = await AttributionTestEnv.open();
    pg = env.pg;
    // A first start creates the streams and the durable consumers; then the backlog builds while it is stopped.
    await start();
    await app!.close();
    app = undefined;
  });

  afterAll(async () => {
    await app?.close();
    await env?.close();
  });

  it('applies a backlog with repeats, an applied event, a poison event and twins: one decision and one event per conversion', async () => {
    await publish(Events.OfferUpserted, { offer: Offer.fromPartial({ offerId: 'o1', name: 'o1', clickWindowDays: 30, updatedAt: T0 }) }, 'offer-1');
    await publish(Events.ClickRecorded, { click: click('k1', 0) }, 'click-k1');
    await publish(Events.ClickRecorded, { click: click('k2', 60_000) }, 'click-k2');
    // The offer and the clicks the conversions name are projected before their backlog builds: the consumers of the
    // three streams start together, so a conversion could otherwise run ahead of its click, park, and be settled by
    // the clicks batch in another order than the stream's.
    await start();
    await eventually(async () => {
      const { rows } = await pg.query(`SELECT (SELECT count(*)::int FROM "attribution".clicks) AS clicks, (SELECT count(*)::int FROM "attribution".offers) AS offers`);
      return rows[0].clicks === 2 && rows[0].offers === 1 ? true : undefined;
    }, 30_000);
    await app!.close();
    app = undefined;

    const sale = conversion('sale', 'k2', 3_600_000);
    await publish(Events.ConversionReceived, { conversion: sale }, 'evt-sale-1');
    await publish(Events.ConversionReceived, { conversion: sale }, 'evt-sale-2'); // the same conversion again, another event id
    await publish(Events.ConversionReceived, { conversion: conversion('twin', 'k2', 3_600_000 + 400) }, 'evt-twin'); // same sale, new dedupe key
    await publish(Events.ConversionReceived, { conversion: undefined }, 'evt-poison'); // a poison event in the middle
    await publish(Events.ConversionReceived, { conversion: conversion('applied', 'k1', 7_200_000) }, 'evt-applied');
    await publish(Events.ConversionReceived, { conversion: conversion('early', 'k3', 7_200_000, '7000000') }, 'evt-early'); // click not seen yet
    await publish(Events.ConversionReceived, { conversion: conversion('other', 'k1', 10_800_000, '9000000') }, 'evt-other');
    await publish(Events.ClickRecorded, { click: click('k3', 3_000_000) }, 'click-k3'); // on the clicks stream: its own batch
    // evt-applied was applied before (say, by a replica that committed and died before acking): only acknowledged now.
    expect((await pg.query(`SELECT 1 FROM "attribution".processed_events WHERE consumer = $1`, [INGEST_DURABLE])).rows).toEqual([]); // the backlog is whole
    await pg.query(`INSERT INTO "attribution".processed_events (consumer, event_id) VALUES ($1, 'evt-applied')`, [INGEST_DURABLE]);

    await start();
    const decided = await eventually(async () => {
      const rows = (await pg.query(`SELECT conversion_id, outcome, reason, credited_click_id FROM "attribution".decisions ORDER BY conversion_id`)).rows;
      return rows.length === 4 ? rows : undefined;
    }, 30_000);
    expect(decided).toEqual([
      { conversion_id: 'early', outcome: 'ATTRIBUTED', reason: null, credited_click_id: 'k1' },
      { conversion_id: 'other', outcome: 'ATTRIBUTED', reason: null, credited_click_id: 'k1' },
      { conversion_id: 'sale', outcome: 'ATTRIBUTED', reason: null, credited_click_id: 'k1' },
      { conversion_id: 'twin', outcome: 'UNATTRIBUTED', reason: 'DUPLICATE', credited_click_id: null },
    ]);
    // The applied event was not applied again; the poison one is waiting for redelivery or the dead letters.
    expect((await pg.query(`SELECT 1 FROM "attribution".decisions WHERE conversion_id = 'applied'`)).rows).toHaveLength(0);
    expect((await pg.query(`SELECT 1 FROM "attribution".parked_conversions`)).rows).toHaveLength(0);
    // One event per decision, in the order the decisions were made (the parked one last, when its click came).
    // Decisions only: under load a conversion can park until its click's event arrives (ConversionParked, then
    // ConversionSettled share the outbox).
    const outbox = (
      await pg.query(`SELECT subject, payload FROM "attribution".outbox WHERE subject = ANY($1::text[]) ORDER BY seq`, [
        [Events.ConversionAttributed.subject, Events.ConversionUnattributed.subject],
      ])
    ).rows;
    const ids = outbox.map((o) =>
      (o.subject === Events.ConversionAttributed.subject ? Events.ConversionAttributed : Events.ConversionUnattributed).codec.decode(o.payload).attribution!.conversionId,
    );
    expect([...ids].sort()).toEqual(['early', 'other', 'sale', 'twin']);
    expect(ids.indexOf('sale')).toBeLessThan(ids.indexOf('twin'));
    expect(ids.indexOf('twin')).toBeLessThan(ids.indexOf('other'));
  });

  it("credits view-through from a postback's message id, applies the offer's default payout, keeps test and source", async () => {
    await publish(
      Events.OfferUpserted,
      { offer: Offer.fromPartial({ offerId: 'o2', name: 'o2', viewThroughWindowDays: 3, defaultPayout: { currencyCode: 'USD', amountMicros: '12000000' }, updatedAt: T0 }) },
      'offer-2',
    );
    await publish(Events.MessageSent, { messageId: 'm-view', contactId: 'bea', offerId: 'o2', campaignId: 'camp', creativeId: 'cr', sentAt: at(0), phoneMasked: '' }, 'sent-m-view');
    const viewed = Conversion.fromPartial({
      ...conversion('view', '', 3_600_000), messageId: 'm-view', payout: { currencyCode: 'USD', amountMicros: '0' }, payoutAbsent: true, test: true,
    });
    // After the offer and the send on the tracking stream, so the view is known when it is decided.
    await eventually(async () => (await pg.query(`SELECT 1 FROM "attribution".sends WHERE message_id = 'm-view'`)).rows.length > 0, 15_000);
    await publish(Events.ConversionReceived, { conversion: viewed }, 'evt-view');
    const row = await eventually(async () => (await pg.query(`SELECT * FROM "attribution".decisions WHERE conversion_id = 'view'`)).rows[0], 15_000);
    expect(row).toMatchObject({
      outcome: 'ATTRIBUTED', type: 'VIEW_THROUGH', message_id: 'm-view', payout_micros: '12000000', currency: 'USD',
      payout_defaulted: true, test: true, source: 'INGEST',
    });
    expect(row.explanation).toMatch(/default payout of 12(\.0+)? USD applies/);
  });
});
