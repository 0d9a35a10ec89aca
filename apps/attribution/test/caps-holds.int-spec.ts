/**
 * Caps and holds end to end on real Postgres, NATS and gRPC: SetOfferRules/GetOfferRules (validated, with an
 * OfferRulesChanged event), a daily cap counted in the offer's time zone across live batches (refused: OVER_CAP),
 * a hold period released by the hold sweeper with AttributionCorrected unless the conversion was adjusted
 * meanwhile, re-attribution applying rules set later, and ConversionParked / ConversionSettled for a parked one.
 */
import { Client } from 'pg';
import { createGrpcClient, PromiseClient } from '@trackly/grpc';
import { RunningService } from '@trackly/app-shell';
import { ManualClock, MS_PER_DAY } from '@trackly/kernel';
import { Events, EventType } from '@trackly/messaging';
import { eventually } from '@trackly/testing';
import { AttributionServiceService } from '@trackly/contracts/attribution/v1/attribution_service';
import { CapPeriod, OverCapAction } from '@trackly/contracts/attribution/v1/attribution';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { AttributionTestEnv, humanClick, pendingConversion } from './attribution-test-env';

jest.setTimeout(60_000);

// 23:30 in New York on March 1st is 04:30 UTC on March 2nd: the cap's day is New York's.
const T0 = new Date('2026-03-02T04:30:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

describe('caps and holds', () => {
  const clock = new ManualClock(at(3_600_000));
  let env: AttributionTestEnv;
  let pg: Client;
  let app: RunningService;
  let attribution: PromiseClient<typeof AttributionServiceService>;

  const publish = <T>(type: EventType<T>, payload: T, msgID: string) => env.publish(type, payload, msgID);
  const click = (clickId: string, offerId: string, contactId: string, ms: number) => humanClick(clickId, at(ms), { offerId, contactId });
  const conversion = (conversionId: string, clickId: string, ms: number, status = ConversionStatus.CONVERSION_STATUS_APPROVED) =>
    pendingConversion(conversionId, clickId, at(ms), { status });
  const decision = (id: string) => pg.query(`SELECT * FROM "attribution".decisions WHERE conversion_id = $1`, [id]).then((r) => r.rows[0]);
  const outboxOf = async <T>(type: EventType<T>) =>
    (await pg.query(`SELECT payload FROM "attribution".outbox WHERE subject = $1 ORDER BY seq`, [type.subject])).rows.map((r) => type.codec.decode(r.payload));

  beforeAll(async () => {
    env = await AttributionTestEnv.open();
    pg = env.pg;
    const started = await env.start({ ATTRIBUTION_PARK_HORIZON_SECONDS: '60', ATTRIBUTION_HOLD_SWEEP_SECONDS: '1' }, clock);
    app = started.app;
    attribution = createGrpcClient(AttributionServiceService, started.grpcUrl);
  });

  afterAll(async () => {
    attribution?.close();
    await app?.close();
    await env?.close();
  });

  it('sets and reads rules, refusing bad ones field by field, and publishes OfferRulesChanged', async () => {
    await expect(
      attribution.setOfferRules({ rules: { offerId: 'o-cap', timeZone: 'Mars/Olympus', caps: [{ period: CapPeriod.CAP_PERIOD_UNSPECIFIED, partnerId: '', maxConversions: 0, maxPayout: undefined }], overCapAction: 0, holdDays: 0, updatedAt: undefined } }),
    ).rejects.toMatchObject({ code: 3, message: expect.stringMatching(/time_zone[\s\S]*period/) });
    const set = await attribution.setOfferRules({
      rules: { offerId: 'o-cap', timeZone: 'America/New_York', caps: [{ period: CapPeriod.CAP_PERIOD_DAY, partnerId: '', maxConversions: 2, maxPayout: undefined }], overCapAction: OverCapAction.OVER_CAP_ACTION_REFUSE, holdDays: 0, updatedAt: undefined },
    });
    expect(set.rules).toMatchObject({ offerId: 'o-cap', timeZone: 'America/New_York', updatedAt: clock.now() });
    expect((await attribution.getOfferRules({ offerId: 'o-cap' })).rules).toEqual(set.rules);
    expect((await attribution.getOfferRules({ offerId: 'o-none' })).rules).toMatchObject({ caps: [], holdDays: 0 });
    expect((await outboxOf(Events.OfferRulesChanged)).map((e) => e.rules?.offerId)).toEqual(['o-cap']);
  });

  it("refuses conversions over a daily cap counted in the offer's time zone, across batches", async () => {
    for (const [k, contact] of [['c1', 'ann'], ['c2', 'bob'], ['c3', 'cy'], ['c4', 'dee']]) await publish(Events.ClickRecorded, { click: click(k, 'o-cap', contact, 0) }, `click-${k}`);
    await eventually(async () => (await pg.query(`SELECT count(*)::int AS n FROM "attribution".clicks`)).rows[0].n === 4, 15_000);
    // 23:40 and 23:50 on March 1st in New York, then 00:10 on March 2nd: a new day, whatever UTC says.
    await publish(Events.ConversionReceived, { conversion: conversion('x1', 'c1', 600_000) }, 'x1');
    await eventually(() => decision('x1'), 15_000);
    await publish(Events.ConversionReceived, { conversion: conversion('x2', 'c2', 1_200_000) }, 'x2');
    await publish(Events.ConversionReceived, { conversion: conversion('x3', 'c3', 1_500_000) }, 'x3');
    await publish(Events.ConversionReceived, { conversion: conversion('x4', 'c4', 2_400_000) }, 'x4');
    await eventually(() => decision('x4'), 15_000);
    const rows = (await pg.query(`SELECT conversion_id, outcome, reason FROM "attribution".decisions WHERE conversion_id LIKE 'x%' ORDER BY conversion_id`)).rows;
    expect(rows.map((r) => `${r.conversion_id}:${r.reason ?? r.outcome}`)).toEqual(['x1:ATTRIBUTED', 'x2:ATTRIBUTED', 'x3:OVER_CAP', 'x4:ATTRIBUTED']);
    expect((await attribution.explainConversion({ partnerId: 'tune', conversionId: 'x3' })).attribution!.explanation).toMatch(/daily cap of 2 conversions for offer o-cap is reached for the day starting 2026-03-01 \(America\/New_York\)/);
  });

  it('holds credited conversions N days, then the sweeper approves them unless adjusted meanwhile', async () => {
    await attribution.setOfferRules({ rules: { offerId: 'o-hold', timeZone: '', caps: [], overCapAction: 0, holdDays: 1, updatedAt: undefined } });
    await publish(Events.ClickRecorded, { click: click('h1', 'o-hold', 'eve', 0) }, 'click-h1');
    await publish(Events.ClickRecorded, { click: click('h2', 'o-hold', 'fay', 0) }, 'click-h2');
    await eventually(async () => (await pg.query(`SELECT 1 FROM "attribution".clicks WHERE click_id = 'h2'`)).rows.length > 0, 15_000);
    await publish(Events.ConversionReceived, { conversion: conversion('y1', 'h1', 600_000) }, 'y1');
    await publish(Events.ConversionReceived, { conversion: conversion('y2', 'h2', 600_000) }, 'y2');
    const held = await eventually(() => decision('y2'), 15_000);
    expect(held).toMatchObject({ outcome: 'ATTRIBUTED', status: 'PENDING', hold_until: at(600_000 + MS_PER_DAY) });
    // y2 reversed by the partner meanwhile: the partner's word stands.
    await publish(Events.ConversionAdjusted, { conversion: conversion('y2', 'h2', 600_000, ConversionStatus.CONVERSION_STATUS_REVERSED), adjustmentId: 'adj-y2', cause: 'reversal', previousStatus: ConversionStatus.CONVERSION_STATUS_APPROVED, previousPayout: undefined }, 'adj-y2');
    await eventually(async () => (await decision('y2')).status === 'REVERSED', 15_000);
    clock.set(at(600_000 + MS_PER_DAY));
    const released = await eventually(async () => ((await decision('y1')).status === 'APPROVED' ? decision('y1') : undefined), 15_000);
    expect(released).toMatchObject({ revision: 1, hold_until: at(600_000 + MS_PER_DAY) });
    expect((await decision('y2')).status).toBe('REVERSED');
    const corrected = (await outboxOf(Events.AttributionCorrected)).filter((e) => e.cause === 'hold-released');
    expect(corrected.map((e) => [e.current?.conversionId, e.previous?.status, e.current?.status])).toEqual([['y1', ConversionStatus.CONVERSION_STATUS_PENDING, ConversionStatus.CONVERSION_STATUS_APPROVED]]);
  });

  it('re-attribution applies rules set after the decisions', async () => {
    await attribution.setOfferRules({
      rules: { offerId: 'o-cap', timeZone: 'America/New_York', caps: [{ period: CapPeriod.CAP_PERIOD_DAY, partnerId: '', maxConversions: 1, maxPayout: undefined }], overCapAction: OverCapAction.OVER_CAP_ACTION_HOLD, holdDays: 0, updatedAt: undefined },
    });
    const res = await attribution.reattribute({ occurredFrom: undefined, occurredTo: undefined, offerId: 'o-cap', dryRun: false, limit: 0 });
    expect(res.changed).toBeGreaterThan(0);
    // Re-decided in order: x1 keeps the day's one credit, x2 and x3 are credited and held over the cap.
    expect(await decision('x2')).toMatchObject({ outcome: 'ATTRIBUTED', over_cap: true, status: 'PENDING' });
    expect(await decision('x3')).toMatchObject({ outcome: 'ATTRIBUTED', over_cap: true, status: 'PENDING' });
    expect(await decision('x1')).toMatchObject({ outcome: 'ATTRIBUTED', over_cap: false });
    expect((await attribution.getAttribution({ partnerId: 'tune', conversionId: 'x2' })).attribution).toMatchObject({ overCap: true });
  });

  it('publishes ConversionParked and, when the click arrives, ConversionSettled', async () => {
    await publish(Events.ConversionReceived, { conversion: conversion('z1', 'late-1', 600_000) }, 'z1');
    await eventually(async () => (await outboxOf(Events.ConversionParked)).length === 1, 15_000);
    await publish(Events.ClickRecorded, { click: click('late-1', 'o-other', 'gus', 0) }, 'click-late-1');
    const settled = await eventually(async () => (await outboxOf(Events.ConversionSettled))[0], 15_000);
    expect(settled).toMatchObject({ expired: false, attribution: { conversionId: 'z1', creditedClickId: 'late-1' } });
    expect((await outboxOf(Events.ConversionParked))[0]).toMatchObject({ conversionId: 'z1', clickId: 'late-1' });
  });
});
