import { createHash } from 'node:crypto';
import { Events, runId } from '@trackly/messaging';
import { AttributionState, Conversion } from '@trackly/contracts/ingest/v1/ingest';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { ConversionReceived, ConversionsReceived } from '@trackly/contracts/ingest/v1/ingest_events';
import { ConversionEventRow, conversionEventColumns, conversionRunEvents, CONVERSIONS_PER_RUN } from './conversion-events';

function conversion(i: number): Conversion {
  return {
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    partnerId: 'impact',
    conversionId: `conv-${'x'.repeat(i * 40)}-${i}`,
    clickId: i % 2 ? `clk${i}` : '',
    payout: { currencyCode: 'EUR', amountMicros: String(1_990_000 * i) },
    status: ConversionStatus.CONVERSION_STATUS_APPROVED,
    occurredAt: new Date(1_765_000_000_123 + i),
    receivedAt: new Date(1_765_000_001_456 + i),
    attributionState: AttributionState.ATTRIBUTION_STATE_PENDING,
    attributionReason: '',
    creditedMessageId: '',
    messageId: i % 3 ? '' : `msg-é-${i}`,
    payoutAbsent: i % 2 === 0,
    test: i === 2,
  };
}

describe('conversionEventColumns (one shared writer)', () => {
  it('encodes each ConversionReceived exactly as the event codec does, and later events leave earlier payloads alone', () => {
    const made = [0, 1, 2, 3, 7, 1].map((i) => ({ i, columns: conversionEventColumns(conversion(i), { 'Trackly-Request-Id': `r${i}` }) }));
    for (const { i, columns } of made) {
      const expected = Buffer.from(Events.ConversionReceived.codec.encode({ conversion: conversion(i) }).finish());
      expect(columns.payload.equals(expected)).toBe(true);
      expect(Events.ConversionReceived.codec.decode(columns.payload).conversion).toEqual(conversion(i));
      expect(JSON.parse(columns.headers)).toEqual({ 'Trackly-Request-Id': `r${i}` });
    }
  });
});

/** A conversion row as the relay reads it: its id, its ConversionReceived as inserted, its request's headers. */
function row(c: Conversion, headers: Record<string, string> | null = { 'Trackly-Request-Id': `req-${c.id.slice(-4)}` }): ConversionEventRow {
  return { id: c.id, received_event: conversionEventColumns(c, headers ?? {}).payload, event_headers: headers };
}

const rows = (n: number) => Array.from({ length: n }, (_, i) => row(conversion(i)));
/** The conversions each event carries, in order, whichever subject carries them. */
const carried = (events: ReturnType<typeof conversionRunEvents>): Conversion[][] =>
  events.map((e) =>
    e.subject === Events.ConversionsReceived.subject
      ? Events.ConversionsReceived.codec.decode(e.payload).conversions
      : [Events.ConversionReceived.codec.decode(e.payload).conversion!],
  );
const hex = (events: ReturnType<typeof conversionRunEvents>) => events.map((e) => Buffer.from(e.payload).toString('hex'));
const stored = (r: ConversionEventRow) => Events.ConversionReceived.codec.decode(r.received_event).conversion!;

describe('conversionRunEvents', () => {
  // The wire contract the run's payload rests on: the relay joins stored ConversionReceived bytes unread, which is a
  // ConversionsReceived only while `conversion` is ConversionReceived's one field and has the number and type of
  // ConversionsReceived's `conversions`. A field added to either message fails here, before a run carries it wrongly.
  it('relies on ConversionReceived being exactly field 1 of a ConversionsReceived (one field each, same bytes)', () => {
    expect(Object.keys(ConversionReceived.fromPartial({}))).toEqual(['conversion']);
    expect(Object.keys(ConversionsReceived.fromPartial({}))).toEqual(['conversions']);
    const one = Buffer.from(Events.ConversionReceived.codec.encode({ conversion: conversion(3) }).finish());
    expect(Buffer.from(Events.ConversionsReceived.codec.encode({ conversions: [conversion(3)] }).finish()).equals(one)).toBe(true);
  });

  it('publishes nothing for no rows', () => {
    expect(conversionRunEvents([])).toEqual([]);
  });

  it('publishes a conversion read alone as its ConversionReceived: Nats-Msg-Id = the row id, its request\'s headers', () => {
    const alone = row(conversion(5), { 'Trackly-Request-Id': 'pb-req-5', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
    const events = conversionRunEvents([alone]);
    expect(events).toHaveLength(1);
    const [event] = events;
    expect(event.subject).toBe(Events.ConversionReceived.subject);
    expect(Events.ConversionReceived.subject).toBe('trackly.ingest.v1.ConversionReceived');
    expect(event.id).toBe(conversion(5).id);
    expect(event.headers).toEqual({ 'Trackly-Request-Id': 'pb-req-5', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
    // The bytes stored with the row at insert, as they are.
    expect(Buffer.from(event.payload).equals(alone.received_event)).toBe(true);
    expect(Events.ConversionReceived.codec.decode(event.payload)).toEqual({ conversion: conversion(5) });
  });

  it('sends no headers for a conversion alone whose row has none', () => {
    const [event] = conversionRunEvents([row(conversion(1), null)]);
    expect(event.subject).toBe(Events.ConversionReceived.subject);
    expect(event.headers).toBeUndefined();
  });

  it('publishes 2 conversions read together as one ConversionsReceived, id the run digest of their row ids, no headers', () => {
    const input = rows(2);
    const events = conversionRunEvents(input);
    expect(events).toHaveLength(1);
    const [event] = events;
    expect(event.subject).toBe(Events.ConversionsReceived.subject);
    expect(Events.ConversionsReceived.subject).toBe('trackly.ingest.v1.ConversionsReceived');
    expect(Events.ConversionsReceived.stream).toBe(Events.ConversionReceived.stream);
    expect(event.id).toBe(runId('conversion-run', input.map((r) => r.id)));
    // Spelled out: base64url sha256 of the row ids, each followed by "\n".
    expect(event.id).toBe(`conversion-run:${createHash('sha256').update(`${input[0].id}\n${input[1].id}\n`).digest('base64url')}`);
    expect(event.headers).toBeUndefined();
    expect(Events.ConversionsReceived.codec.decode(event.payload)).toEqual({ conversions: [conversion(0), conversion(1)] });
  });

  it('publishes up to CONVERSIONS_PER_RUN conversions as one ConversionsReceived carrying exactly them, in order', () => {
    expect(CONVERSIONS_PER_RUN).toBe(100);
    for (const n of [2, 3, 50, 99, 100]) {
      const input = rows(n);
      const events = conversionRunEvents(input);
      expect(events.map((e) => e.subject)).toEqual([Events.ConversionsReceived.subject]);
      expect(events[0].id).toBe(runId('conversion-run', input.map((r) => r.id)));
      expect(events[0].headers).toBeUndefined();
      expect(Events.ConversionsReceived.codec.decode(events[0].payload).conversions).toEqual(input.map((_, i) => conversion(i)));
    }
  });

  it('cuts 250 conversions into runs of 100, 100 and 50, in the order of the rows', () => {
    const input = rows(250);
    const events = conversionRunEvents(input);
    expect(events.map((e) => e.subject)).toEqual(Array(3).fill(Events.ConversionsReceived.subject));
    expect(carried(events).map((r) => r.length)).toEqual([100, 100, 50]);
    expect(carried(events).flat()).toEqual(input.map(stored));
    expect(carried(events).flat().map((c) => c.id)).toEqual(input.map((r) => r.id));
    expect(events.map((e) => e.id)).toEqual([
      runId('conversion-run', input.slice(0, 100).map((r) => r.id)),
      runId('conversion-run', input.slice(100, 200).map((r) => r.id)),
      runId('conversion-run', input.slice(200).map((r) => r.id)),
    ]);
    expect(events.every((e) => e.headers === undefined)).toBe(true);
  });

  it('publishes the conversion left over after full runs alone, as its ConversionReceived with its headers', () => {
    const input = rows(101);
    const events = conversionRunEvents(input);
    expect(events.map((e) => e.subject)).toEqual([Events.ConversionsReceived.subject, Events.ConversionReceived.subject]);
    expect(carried(events).map((r) => r.length)).toEqual([100, 1]);
    expect(events[1]).toMatchObject({ id: input[100].id, headers: input[100].event_headers });
  });

  it('carries every field of fully populated conversions: the rows\' stored bytes joined decode to exactly them', () => {
    const full = (i: number, over: Partial<Conversion>): Conversion => ({
      id: `10000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      partnerId: `partner-${i}`,
      conversionId: `tx-${i}:goal-${i}`,
      clickId: `Ab3dEf9hIj2LmN0pQr5t${i}`,
      payout: { currencyCode: 'EUR', amountMicros: `${19_990_000 + i}` },
      status: ConversionStatus.CONVERSION_STATUS_PENDING,
      occurredAt: new Date(1_765_000_000_123 + i),
      receivedAt: new Date(1_765_000_001_456 + i),
      attributionState: AttributionState.ATTRIBUTION_STATE_UNATTRIBUTED,
      attributionReason: 'UNKNOWN_CLICK_ID',
      creditedMessageId: `msg-credited-${i}`,
      messageId: `msg-é-${i}`,
      payoutAbsent: true,
      test: true,
      ...over,
    });
    const conversions = [
      full(0, {}),
      // Optional flags set false are present too (explicit presence), and survive the join as false, not absent.
      full(1, { payoutAbsent: false, test: false, status: ConversionStatus.CONVERSION_STATUS_REVERSED, attributionState: AttributionState.ATTRIBUTION_STATE_ATTRIBUTED }),
      full(2, { payoutAbsent: true, test: false, payout: { currencyCode: 'USD', amountMicros: '9223372036854775807' } }),
      full(3, { payoutAbsent: false, test: true, status: ConversionStatus.CONVERSION_STATUS_REJECTED }),
    ];
    const input = conversions.map((c) => row(c));
    const [event, ...rest] = conversionRunEvents(input);
    expect(rest).toEqual([]);
    expect(Buffer.from(event.payload).equals(Buffer.concat(input.map((r) => r.received_event)))).toBe(true);
    const decoded = Events.ConversionsReceived.codec.decode(event.payload).conversions;
    expect(decoded).toEqual(conversions);
    // Each conversion of the run is the Conversion its ConversionReceived would carry, and re-encodes to the same bytes.
    expect(decoded).toEqual(input.map(stored));
    expect(Buffer.from(Events.ConversionsReceived.codec.encode({ conversions: decoded }).finish()).equals(Buffer.from(event.payload))).toBe(true);
  });

  it('does not cut runs on the rows\' headers (another request, none at all): only on size', () => {
    const input = [row(conversion(0), null), row(conversion(1), { 'Trackly-Request-Id': 'a' }), row(conversion(2), { 'Trackly-Request-Id': 'b' }), row(conversion(3))];
    expect(carried(conversionRunEvents(input)).map((r) => r.map((c) => c.id))).toEqual([input.map((r) => r.id)]);
  });

  it('is stable: copies of the same rows give the same ids and payloads (a republish is a duplicate)', () => {
    const input = rows(150);
    const events = conversionRunEvents(input);
    const again = conversionRunEvents(input.map((r) => ({ ...r, received_event: Buffer.from(r.received_event), event_headers: r.event_headers && { ...r.event_headers } })));
    expect(again.map((e) => e.id)).toEqual(events.map((e) => e.id));
    expect(hex(again)).toEqual(hex(events));
    expect(again.map((e) => [e.subject, e.headers])).toEqual(events.map((e) => [e.subject, e.headers]));
  });

  it('gives a run cut otherwise another id, and never a row\'s id', () => {
    const input = rows(150);
    const live = conversionRunEvents(input).map((e) => e.id);
    const shorter = conversionRunEvents(input.slice(0, 99))[0].id;
    const shifted = conversionRunEvents(input.slice(1, 101))[0].id;
    const reordered = conversionRunEvents([input[1], input[0], ...input.slice(2, 100)])[0].id;
    expect(new Set([...live, shorter, shifted, reordered]).size).toBe(5);
    // A run and a conversion alone never collide in the duplicate window.
    expect([...live, shorter, shifted, reordered].every((id) => id.startsWith('conversion-run:'))).toBe(true);
  });
});
