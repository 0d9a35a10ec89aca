import { AckPolicy, DeliverPolicy, JsMsg } from '@nats-io/jetstream';
import { headers, MsgHdrs, nanos } from '@nats-io/nats-core';
import { Events, Messaging, Streams } from '@trackly/messaging';
import { ackAll, DeliveryNumbers, deliveryNumbers, HeaderReader, parseAckSubject } from '../src/delivered-fast';
import { NatsPrefixes, sleep } from './msgtest';

const NAMES = ['Trackly-Event-Id', 'Nats-Msg-Id', 'Trackly-Request-Id', 'x-request-id'];

/** Headers whose encoding is given byte for byte (nats.js's own encoder normalises what it is given). */
function rawHeaders(block: string): MsgHdrs {
  const h = headers();
  return Object.assign(Object.create(Object.getPrototypeOf(h)), h, { encode: () => new TextEncoder().encode(block) });
}

describe('reading delivered messages without nats.js decoding them (real NATS JetStream)', () => {
  const nats = new NatsPrefixes();
  let m: Messaging;
  let stream: string;

  beforeAll(async () => {
    m = await nats.connect('delivered-fast');
    stream = m.streamName(Streams.tracking);
  });
  afterAll(() => nats.cleanup());

  async function publish(h: MsgHdrs | undefined, i: number): Promise<void> {
    await m.js.publish(m.subject(Events.MessageSent.subject), new Uint8Array([i]), h ? { headers: h } : undefined);
  }

  async function pull(durable: string, n: number, ackWaitMs = 30_000): Promise<JsMsg[]> {
    await m.jsm.consumers.add(stream, { durable_name: durable, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, ack_wait: nanos(ackWaitMs) });
    const consumer = await m.js.consumers.get(stream, durable);
    const out: JsMsg[] = [];
    while (out.length < n) {
      const batch = await consumer.fetch({ max_messages: n - out.length, expires: 2000 });
      for await (const msg of batch) out.push(msg);
    }
    return out;
  }

  it('reads the same header values and delivery numbers as nats.js from what the server delivers', async () => {
    const relay = headers();
    relay.set('Nats-Msg-Id', 'evt-1');
    relay.set('Trackly-Request-Id', 'req-1');
    relay.set('traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    const redriven = headers();
    redriven.set('Nats-Msg-Id', 'redrive-1');
    redriven.set('Trackly-Event-Id', 'evt-2');
    redriven.set('x-request-id', 'http-req');
    const twice = headers();
    twice.append('Trackly-Request-Id', 'first');
    twice.append('Trackly-Request-Id', 'second');
    twice.set('nats-msg-id', 'other-case');
    const sent: (MsgHdrs | undefined)[] = [
      relay,
      redriven,
      twice,
      undefined, // no header block at all
      rawHeaders('NATS/1.0\r\nNats-Msg-Id:\t spaced \t\r\nno colon here\r\nTrackly-Event-Id:a:b\r\n\r\n'),
      rawHeaders('NATS/1.0\r\nTrackly-Request-Id: café\r\nNats-Msg-Id: utf8\r\n\r\n'), // declined: the library reads it
    ];
    for (let i = 0; i < sent.length; i++) await publish(sent[i], i);
    const msgs = await pull('read', sent.length);

    const reader = new HeaderReader(NAMES);
    const numbers: DeliveryNumbers = { deliveryCount: 0, streamSeq: 0, pending: 0 };
    const read = msgs.map((msg) => [...reader.read(msg)]);
    expect(read).toEqual(msgs.map((msg) => NAMES.map((n) => msg.headers?.get(n) ?? '')));
    expect(read.slice(0, 5)).toEqual([
      ['', 'evt-1', 'req-1', ''],
      ['evt-2', 'redrive-1', '', 'http-req'],
      ['', '', 'first', ''],
      ['', '', '', ''],
      ['a:b', 'spaced', '', ''],
    ]);
    // Only the UTF-8 block went to the library: every other one was scanned.
    expect(reader.declined).toBe(1);

    for (const msg of msgs) {
      const reply = (msg as unknown as { reply: string }).reply;
      expect(parseAckSubject(new TextEncoder().encode(reply), numbers)).toBe(true);
      const fast = { ...deliveryNumbers(msg, numbers) };
      // Read without nats.js parsing the subject (it caches what it parses).
      expect((msg as unknown as { di?: unknown }).di).toBeUndefined();
      expect(fast).toEqual({ deliveryCount: msg.info.deliveryCount, streamSeq: msg.info.streamSequence, pending: msg.info.pending });
    }
    expect(msgs.map((msg) => msg.seq)).toEqual(msgs.map((_, i) => i + 1));
    ackAll(msgs);
  });

  it('acknowledges messages in one write: none comes back after the ack wait, and one already terminated is skipped', async () => {
    for (let i = 0; i < 50; i++) await publish(undefined, i);
    const durable = 'ackall';
    const ackWaitMs = 1500;
    const msgs = await pull(durable, 56, ackWaitMs); // the 6 of the test above, then these 50
    msgs[3].term();
    const acks = msgs.map((msg) => jest.spyOn(msg, 'ack'));
    expect(ackAll(msgs)).toBe(55);
    // Every one went through the one write, none through m.ack().
    for (const spy of acks) expect(spy).not.toHaveBeenCalled();
    // A second call has nothing left to acknowledge.
    expect(ackAll(msgs)).toBe(0);
    await m.nc.flush();
    await sleep(ackWaitMs + 1000);
    const info = await m.jsm.consumers.info(stream, durable);
    expect([info.num_ack_pending, info.num_redelivered, info.num_pending]).toEqual([0, 0, 0]);
    const again = await (await m.js.consumers.get(stream, durable)).fetch({ max_messages: 10, expires: 1000 });
    let redelivered = 0;
    for await (const msg of again) if (msg) redelivered++;
    expect(redelivered).toBe(0);
  });
});
