import { createHash } from 'node:crypto';
import { Events, runId } from '@trackly/messaging';
import { ClickRecorded, ClicksRecorded } from '@trackly/contracts/tracking/v1/tracking_events';
import { ClickClass } from '@trackly/contracts/tracking/v1/tracking';
import { CLICKS_PER_RUN, clickFromRow, clickRunEvents, ClickRow } from './click-events';

const CLICKED_MS = Date.parse('2026-11-06T09:00:00.123Z');
const SENT_MS = Date.parse('2026-11-06T08:00:00.456Z');
const UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1';

function row(i: number, over: Partial<ClickRow> = {}): ClickRow {
  return {
    click_id: `click-${i}`,
    message_id: `m-${i % 7}`,
    contact_id: `c-${i % 7}`,
    offer_id: 'summer',
    campaign_id: 'camp-1',
    creative_id: 'cr-1',
    clicked_ms: CLICKED_MS + i,
    user_agent: `${UA} device/${i}`,
    click_class: 'HUMAN',
    classification_reason: 'browser user agent',
    classifier_version: 'v3',
    request_id: `req-${i}`,
    message_sent_ms: SENT_MS,
    first_click_on_message: i < 7,
    ...over,
  };
}

const rows = (n: number, over: (i: number) => Partial<ClickRow> = () => ({})) => Array.from({ length: n }, (_, i) => row(i, over(i)));
/** The click ids each event carries, in order, whichever subject carries them. */
const carried = (events: ReturnType<typeof clickRunEvents>) =>
  events.map((e) =>
    e.subject === Events.ClicksRecorded.subject ? ClicksRecorded.decode(e.payload).clicks.map((c) => c.clickId) : [ClickRecorded.decode(e.payload).click!.clickId],
  );
const hex = (events: ReturnType<typeof clickRunEvents>) => events.map((e) => Buffer.from(e.payload).toString('hex'));

describe('clickRunEvents', () => {
  it('publishes nothing for no rows', () => {
    expect(clickRunEvents([])).toEqual([]);
  });

  it('publishes a click read alone as its ClickRecorded: Nats-Msg-Id = the click id, its request id in Trackly-Request-Id', () => {
    const alone = row(5, { request_id: 'tap-req-5' });
    const events = clickRunEvents([alone]);
    expect(events).toHaveLength(1);
    const [event] = events;
    expect(event.subject).toBe(Events.ClickRecorded.subject);
    expect(Events.ClickRecorded.subject).toBe('trackly.tracking.v1.ClickRecorded');
    expect(event.id).toBe('click-5');
    expect(event.headers).toEqual({ 'Trackly-Request-Id': 'tap-req-5' });
    expect(ClickRecorded.decode(event.payload)).toEqual({ click: clickFromRow(alone) });
  });

  it('sends no request id header for a click alone whose row has none', () => {
    const [event] = clickRunEvents([row(0, { request_id: null })]);
    expect(event.subject).toBe(Events.ClickRecorded.subject);
    expect(event.headers).toBeUndefined();
  });

  it('publishes 2 clicks read together as one ClicksRecorded, id the run digest of their click ids, no headers', () => {
    const input = rows(2);
    const events = clickRunEvents(input);
    expect(events).toHaveLength(1);
    const [event] = events;
    expect(event.subject).toBe(Events.ClicksRecorded.subject);
    expect(Events.ClicksRecorded.subject).toBe('trackly.tracking.v1.ClicksRecorded');
    expect(Events.ClicksRecorded.stream).toBe(Events.ClickRecorded.stream);
    expect(event.id).toBe(runId('click-run', ['click-0', 'click-1']));
    // Spelled out: base64url sha256 of the click ids, each followed by "\n".
    expect(event.id).toBe(`click-run:${createHash('sha256').update('click-0\nclick-1\n').digest('base64url')}`);
    expect(event.headers).toBeUndefined();
    expect(ClicksRecorded.decode(event.payload).clicks).toEqual(input.map(clickFromRow));
  });

  it('carries every field of each click of a run, exactly as a ClickRecorded would', () => {
    const input = [
      row(0, { click_class: 'PREVIEW', classification_reason: 'link preview: iMessage', first_click_on_message: false }),
      row(1, { click_class: 'BOT', message_sent_ms: null, first_click_on_message: false, offer_id: 'winter', campaign_id: 'camp-9', creative_id: 'cr-9' }),
      row(2, { clicked_ms: 1_700_000_000_999, classifier_version: 'v4' }),
    ];
    const [event] = clickRunEvents(input);
    const { clicks } = Events.ClicksRecorded.codec.decode(event.payload);
    expect(clicks).toEqual([
      {
        clickId: 'click-0', messageId: 'm-0', contactId: 'c-0', offerId: 'summer', campaignId: 'camp-1', creativeId: 'cr-1',
        clickedAt: new Date(CLICKED_MS), firstClickOnMessage: false, userAgent: `${UA} device/0`, messageSentAt: new Date(SENT_MS),
        clickClass: ClickClass.CLICK_CLASS_PREVIEW, classificationReason: 'link preview: iMessage', classifierVersion: 'v3',
      },
      {
        clickId: 'click-1', messageId: 'm-1', contactId: 'c-1', offerId: 'winter', campaignId: 'camp-9', creativeId: 'cr-9',
        clickedAt: new Date(CLICKED_MS + 1), firstClickOnMessage: false, userAgent: `${UA} device/1`, messageSentAt: undefined,
        clickClass: ClickClass.CLICK_CLASS_BOT, classificationReason: 'browser user agent', classifierVersion: 'v3',
      },
      {
        clickId: 'click-2', messageId: 'm-2', contactId: 'c-2', offerId: 'summer', campaignId: 'camp-1', creativeId: 'cr-1',
        clickedAt: new Date(1_700_000_000_999), firstClickOnMessage: true, userAgent: `${UA} device/2`, messageSentAt: new Date(SENT_MS),
        clickClass: ClickClass.CLICK_CLASS_HUMAN, classificationReason: 'browser user agent', classifierVersion: 'v4',
      },
    ]);
    // Each click of the run is the Click its ClickRecorded would carry, byte for byte.
    for (const r of input) {
      const alone = ClickRecorded.decode(clickRunEvents([r])[0].payload).click!;
      expect(clicks.find((c) => c.clickId === r.click_id)).toEqual(alone);
    }
  });

  it('publishes up to CLICKS_PER_RUN clicks as one ClicksRecorded', () => {
    expect(CLICKS_PER_RUN).toBe(100);
    for (const n of [2, 3, 99, 100]) {
      const input = rows(n);
      const events = clickRunEvents(input);
      expect(events.map((e) => e.subject)).toEqual([Events.ClicksRecorded.subject]);
      expect(events[0].id).toBe(runId('click-run', input.map((r) => r.click_id)));
      expect(ClicksRecorded.decode(events[0].payload).clicks).toEqual(input.map(clickFromRow));
    }
  });

  it('cuts 250 clicks into runs of 100, 100 and 50, in the order of the rows', () => {
    const input = rows(250);
    const events = clickRunEvents(input);
    expect(events.map((e) => e.subject)).toEqual([Events.ClicksRecorded.subject, Events.ClicksRecorded.subject, Events.ClicksRecorded.subject]);
    expect(carried(events).map((r) => r.length)).toEqual([100, 100, 50]);
    expect(carried(events).flat()).toEqual(input.map((r) => r.click_id));
    expect(events.map((e) => e.id)).toEqual([
      runId('click-run', input.slice(0, 100).map((r) => r.click_id)),
      runId('click-run', input.slice(100, 200).map((r) => r.click_id)),
      runId('click-run', input.slice(200).map((r) => r.click_id)),
    ]);
    expect(events.flatMap((e) => ClicksRecorded.decode(e.payload).clicks)).toEqual(input.map(clickFromRow));
  });

  it('publishes the click left over after full runs alone, as its ClickRecorded with its request id', () => {
    const input = rows(101);
    const events = clickRunEvents(input);
    expect(events.map((e) => e.subject)).toEqual([Events.ClicksRecorded.subject, Events.ClickRecorded.subject]);
    expect(carried(events).map((r) => r.length)).toEqual([100, 1]);
    expect(events[1]).toMatchObject({ id: 'click-100', headers: { 'Trackly-Request-Id': 'req-100' } });
  });

  it('does not cut runs on the request id, the message or the transaction: only on size', () => {
    const input = rows(6, (i) => ({ request_id: i % 2 ? null : `other-${i}`, message_id: `m-${i}` }));
    expect(carried(clickRunEvents(input))).toEqual([input.map((r) => r.click_id)]);
  });

  it('is stable: copies of the same rows give the same ids and payloads (a republish is a duplicate)', () => {
    const input = rows(150);
    const events = clickRunEvents(input);
    const again = clickRunEvents(input.map((r) => ({ ...r })));
    expect(again.map((e) => e.id)).toEqual(events.map((e) => e.id));
    expect(hex(again)).toEqual(hex(events));
  });

  it('gives a run cut otherwise another id', () => {
    const input = rows(150);
    const live = clickRunEvents(input).map((e) => e.id);
    const shorter = clickRunEvents(input.slice(0, 99))[0].id;
    const shifted = clickRunEvents(input.slice(1, 101))[0].id;
    const reordered = clickRunEvents([input[1], input[0], ...input.slice(2, 100)])[0].id;
    expect(new Set([...live, shorter, shifted, reordered]).size).toBe(5);
    // No run id is ever a click id: a run and a click alone never collide in the duplicate window.
    expect(live.every((id) => id.startsWith('click-run:'))).toBe(true);
  });
});
