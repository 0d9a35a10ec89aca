import { createHash } from 'node:crypto';
import { Events } from '@trackly/messaging';
import { MessagesSent } from '@trackly/contracts/tracking/v1/tracking_events';
import { MessageRow, messageRunEvents, SENDS_PER_RUN } from './message-events';

const SENT_MS = Date.parse('2026-11-06T09:00:00.123Z');

function row(i: number, over: Partial<MessageRow> = {}): MessageRow {
  return {
    message_id: `m-${i}`,
    contact_id: `c-${i}`,
    phone_e164: `+1555${String(1_000_000 + i).slice(-7)}`,
    campaign_id: 'camp-1',
    creative_id: 'cr-1',
    offer_id: 'summer',
    sent_ms: SENT_MS + i,
    request_id: 'req-1',
    xid: '1001',
    ...over,
  };
}

const rows = (n: number, over: (i: number) => Partial<MessageRow> = () => ({})) => Array.from({ length: n }, (_, i) => row(i, over(i)));
/** The message ids each event carries, in order. */
const runIds = (events: ReturnType<typeof messageRunEvents>) => events.map((e) => MessagesSent.decode(e.payload).messages.map((m) => m.messageId));
/** The id the contract gives a run: base64url sha256 of its message ids, each followed by "\n". */
const expectedId = (ids: string[]) => `sent-run:${createHash('sha256').update(ids.map((id) => `${id}\n`).join('')).digest('base64url')}`;

describe('messageRunEvents', () => {
  it('publishes nothing for no rows', () => {
    expect(messageRunEvents([])).toEqual([]);
  });

  it('cuts runs at SENDS_PER_RUN sends, in the order of the rows', () => {
    expect(SENDS_PER_RUN).toBe(100);
    const input = rows(250);
    const events = messageRunEvents(input);
    expect(runIds(events).map((r) => r.length)).toEqual([100, 100, 50]);
    expect(runIds(events).flat()).toEqual(input.map((r) => r.message_id));
    expect(events.every((e) => e.subject === Events.MessagesSent.subject)).toBe(true);
    expect(Events.MessagesSent.subject).toBe('trackly.tracking.v1.MessagesSent');
  });

  it('fills a run of exactly SENDS_PER_RUN and starts a new one at the next send', () => {
    expect(runIds(messageRunEvents(rows(100))).map((r) => r.length)).toEqual([100]);
    expect(runIds(messageRunEvents(rows(101))).map((r) => r.length)).toEqual([100, 1]);
  });

  it('never lets a run span two transactions', () => {
    // Same request id on both sides: the xid alone cuts.
    const input = rows(10, (i) => ({ xid: i < 3 ? '1001' : i < 7 ? '1002' : '1001' }));
    expect(runIds(messageRunEvents(input))).toEqual([
      ['m-0', 'm-1', 'm-2'],
      ['m-3', 'm-4', 'm-5', 'm-6'],
      ['m-7', 'm-8', 'm-9'],
    ]);
  });

  it('never lets a run span two request ids, nor a request id and none', () => {
    const input = rows(6, (i) => ({ request_id: i < 2 ? 'req-a' : i < 4 ? null : 'req-b' }));
    const events = messageRunEvents(input);
    expect(runIds(events)).toEqual([['m-0', 'm-1'], ['m-2', 'm-3'], ['m-4', 'm-5']]);
    expect(events.map((e) => e.headers)).toEqual([{ 'Trackly-Request-Id': 'req-a' }, undefined, { 'Trackly-Request-Id': 'req-b' }]);
  });

  it('cuts at a transaction change inside a full run and restarts the count there', () => {
    const input = rows(230, (i) => ({ xid: i < 150 ? '7' : '8' }));
    expect(runIds(messageRunEvents(input)).map((r) => r.length)).toEqual([100, 50, 80]);
  });

  it('gives a run the digest of its message ids, stable for the same rows', () => {
    const input = rows(150);
    const events = messageRunEvents(input);
    expect(events.map((e) => e.id)).toEqual([
      expectedId(input.slice(0, 100).map((r) => r.message_id)),
      expectedId(input.slice(100).map((r) => r.message_id)),
    ]);
    expect(events[0].id).toMatch(/^sent-run:[A-Za-z0-9_-]{43}$/);
    // Rebuilt from copies of the same rows (a republish after a restart): the same ids and payloads.
    const again = messageRunEvents(input.map((r) => ({ ...r })));
    expect(again.map((e) => e.id)).toEqual(events.map((e) => e.id));
    expect(again.map((e) => Buffer.from(e.payload).toString('hex'))).toEqual(events.map((e) => Buffer.from(e.payload).toString('hex')));
  });

  it('gives a run cut differently another id', () => {
    const input = rows(150);
    const live = messageRunEvents(input).map((e) => e.id);
    // One send more or fewer, or the same sends in another order: another run, another id.
    const shorter = messageRunEvents(input.slice(0, 99))[0].id;
    const shifted = messageRunEvents(input.slice(1, 101))[0].id;
    const reordered = messageRunEvents([input[1], input[0], ...input.slice(2, 100)])[0].id;
    expect(new Set([...live, shorter, shifted, reordered]).size).toBe(5);
    // Each id is terminated in the digest: ["ab", "c"] and ["a", "bc"] are different runs.
    const ab = messageRunEvents([row(0, { message_id: 'ab' }), row(1, { message_id: 'c' })])[0].id;
    const bc = messageRunEvents([row(0, { message_id: 'a' }), row(1, { message_id: 'bc' })])[0].id;
    expect(ab).not.toBe(bc);
  });

  it('carries each send as its MessageSent: masked phone, sent time from sent_ms, catalog ids', () => {
    const input = [
      row(42, { campaign_id: 'camp-9', creative_id: 'cr-9', offer_id: 'winter' }),
      row(43, { phone_e164: '+447700900123', sent_ms: Date.parse('2026-11-06T09:00:00Z') }),
    ];
    const [event] = messageRunEvents(input);
    const decoded = Events.MessagesSent.codec.decode(event.payload);
    expect(decoded).toEqual(MessagesSent.decode(event.payload));
    expect(decoded.messages).toEqual([
      {
        messageId: 'm-42', contactId: 'c-42', phoneMasked: '+1***0042',
        campaignId: 'camp-9', creativeId: 'cr-9', offerId: 'winter', sentAt: new Date(SENT_MS + 42),
      },
      {
        messageId: 'm-43', contactId: 'c-43', phoneMasked: '+4***0123',
        campaignId: 'camp-1', creativeId: 'cr-1', offerId: 'summer', sentAt: new Date('2026-11-06T09:00:00Z'),
      },
    ]);
    // The full number never leaves tracking.
    expect(Buffer.from(event.payload).toString('latin1')).not.toContain('5551000042');
    expect(Buffer.from(event.payload).toString('latin1')).not.toContain('447700900123');
  });

  it('keeps the millisecond of sent_ms and puts the request id in Trackly-Request-Id', () => {
    const [event] = messageRunEvents([row(0, { sent_ms: 1_700_000_000_999, request_id: 'bulk-register' })]);
    expect(MessagesSent.decode(event.payload).messages[0].sentAt).toEqual(new Date(1_700_000_000_999));
    expect(event.headers).toEqual({ 'Trackly-Request-Id': 'bulk-register' });
  });

  it('sends no request id header when the row has none', () => {
    const [event] = messageRunEvents([row(0, { request_id: null })]);
    expect(event.headers).toBeUndefined();
  });
});
