import { headers, MsgHdrsImpl } from '@nats-io/nats-core';
import { DeliveryNumbers, headerNames, parseAckSubject, scanHeaders } from './delivered-fast';

const NAMES = ['Trackly-Event-Id', 'Nats-Msg-Id', 'Trackly-Request-Id', 'x-request-id'];
const BYTES = headerNames(NAMES);
const enc = (s: string) => new TextEncoder().encode(s);

/** What the consumer read before: the library's decode, then get(name) ('' when absent). */
function library(block: Uint8Array): string[] {
  const h = MsgHdrsImpl.decode(block);
  return NAMES.map((n) => h.get(n));
}

/** The scan's answer, or 'declined'. */
function scan(block: Uint8Array, end = block.length): string[] | 'declined' {
  const out: string[] = [];
  return scanHeaders(block, end, BYTES, out) ? out : 'declined';
}

describe('scanHeaders: the headers the consumer reads, from the raw NATS/1.0 block', () => {
  it.each([
    ['what the relay publishes', () => {
      const h = headers();
      h.set('Nats-Msg-Id', '0193a0c4-5e7f-7b1a-9c3d-2f1e0a9b8c7d');
      h.set('Trackly-Request-Id', 'req-1');
      h.set('traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
      return h;
    }],
    ['a re-driven event (Trackly-Event-Id and a Nats-Msg-Id of its own)', () => {
      const h = headers();
      h.set('Nats-Msg-Id', 'redrive-9');
      h.set('Trackly-Event-Id', 'evt-1');
      return h;
    }],
    ['a key given twice: its first value', () => {
      const h = headers();
      h.append('Nats-Msg-Id', 'first');
      h.append('Nats-Msg-Id', 'second');
      return h;
    }],
    ['another case of a key is another key (exact, as the library and nats-server match)', () => {
      const h = headers();
      h.set('nats-msg-id', 'lower');
      h.set('TRACKLY-EVENT-ID', 'upper');
      h.set('X-Request-Id', 'canonical');
      return h;
    }],
    ['an empty first value (the next name is used instead by the consumer)', () => {
      const h = headers();
      h.set('Trackly-Event-Id', '');
      h.set('Nats-Msg-Id', 'm-1');
      return h;
    }],
    ['names that are prefixes or extensions of the wanted ones', () => {
      const h = headers();
      h.set('Nats-Msg-Id-Original', 'no');
      h.set('Nats-Msg-I', 'no');
      h.set('XNats-Msg-Id', 'no');
      h.set('Nats-Msg-Id', 'yes');
      return h;
    }],
    ['a value with colons and inner spaces', () => {
      const h = headers();
      h.set('Trackly-Request-Id', 'a:b: c  d');
      return h;
    }],
    ['no headers but a status (the library keeps it out of the keys)', () => headers(503, 'No Responders')],
    ['an empty header set', () => headers()],
  ])('%s: the same values as nats.js decoding encoded headers', (_what, make) => {
    const block = (make() as MsgHdrsImpl).encode();
    const fast = scan(block);
    if (fast === 'declined') {
      // Only a block the scan cannot vouch for is declined: a status line here.
      expect(new TextDecoder().decode(block).startsWith('NATS/1.0\r\n')).toBe(false);
      return;
    }
    expect(fast).toEqual(library(block));
  });

  it.each([
    ['spaces and tabs around a value', 'NATS/1.0\r\nNats-Msg-Id: \t m-1 \t \r\n\r\n', ['', 'm-1', '', '']],
    ['no space after the colon', 'NATS/1.0\r\nNats-Msg-Id:m-1\r\n\r\n', ['', 'm-1', '', '']],
    ['a line without a colon is ignored', 'NATS/1.0\r\nnonsense line\r\nNats-Msg-Id: m-1\r\n\r\n', ['', 'm-1', '', '']],
    ['a space before the colon makes another (invalid) key', 'NATS/1.0\r\nNats-Msg-Id : m-1\r\n\r\n', 'declined'],
    ['an empty key', 'NATS/1.0\r\n: m-1\r\nNats-Msg-Id: m-2\r\n\r\n', ['', 'm-2', '', '']],
    ['no blank line at the end', 'NATS/1.0\r\nNats-Msg-Id: m-1', ['', 'm-1', '', '']],
    ['a lone LF', 'NATS/1.0\r\nNats-Msg-Id: m-1\nTrackly-Event-Id: e\r\n\r\n', 'declined'],
    ['a lone CR', 'NATS/1.0\r\nNats-Msg-Id: m\r-1\r\n\r\n', 'declined'],
    ['a CR as the last byte', 'NATS/1.0\r\nNats-Msg-Id: m-1\r', 'declined'],
    ['a UTF-8 value', 'NATS/1.0\r\nTrackly-Request-Id: café\r\nNats-Msg-Id: m-1\r\n\r\n', 'declined'],
    ['a status line', 'NATS/1.0 100 Idle Heartbeat\r\nNats-Msg-Id: m-1\r\n\r\n', 'declined'],
    ['another version', 'NATS/1.1\r\nNats-Msg-Id: m-1\r\n\r\n', 'declined'],
    ['a key with a control character', 'NATS/1.0\r\nNats\u0001: x\r\nNats-Msg-Id: m-1\r\n\r\n', 'declined'],
    ['a NUL inside a value is kept', 'NATS/1.0\r\nNats-Msg-Id: m\u00001\r\n\r\n', ['', 'm\u00001', '', '']],
  ])('raw block, %s', (_what, raw, expected) => {
    const block = enc(raw);
    expect(scan(block)).toEqual(expected);
    if (expected !== 'declined') expect(expected).toEqual(library(block));
  });

  it('reads only the header bytes it is given (the payload follows them in the same buffer)', () => {
    const h = headers();
    h.set('Nats-Msg-Id', 'm-1');
    const block = (h as MsgHdrsImpl).encode();
    const after = enc('Trackly-Event-Id: x\r\n');
    const withPayload = new Uint8Array(block.length + after.length);
    withPayload.set(block);
    withPayload.set(after, block.length);
    expect(scan(withPayload, block.length)).toEqual(['', 'm-1', '', '']);
    expect(scan(withPayload, withPayload.length + 1)).toBe('declined');
  });

  it('agrees with the library on random blocks whenever it answers, and declines every block the library rejects', () => {
    // A fixed seed: the same blocks on every run.
    let seed = 14;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const keys = [...NAMES, 'nats-msg-id', 'Nats-Msg-Id ', ' Nats-Msg-Id', 'Nats-Msg', 'traceparent', '', 'Bad Key', 'Trackly-Event-Idx'];
    const pieces = ['a', 'Z', '0', '-', ':', ' ', '\t', '\r\n', '\n', '\r', 'é', '\u0000', 'evt-42'];
    let answered = 0;
    let declinedOnlyWhereTheLibraryThrows = 0;
    for (let i = 0; i < 5000; i++) {
      let raw = rnd(20) === 0 ? 'NATS/1.0 503\r\n' : 'NATS/1.0\r\n';
      const lines = rnd(6);
      for (let l = 0; l < lines; l++) {
        let value = '';
        for (let c = rnd(5); c > 0; c--) value += pieces[rnd(pieces.length)];
        raw += rnd(8) === 0 ? `${value}\r\n` : `${keys[rnd(keys.length)]}:${value}\r\n`;
      }
      if (rnd(4)) raw += '\r\n';
      const block = enc(raw);
      let lib: string[] | 'throws';
      try {
        lib = library(block);
      } catch {
        lib = 'throws';
      }
      const fast = scan(block);
      // Node's transport delivers Buffers (read through another path): the same answer.
      expect(scan(Buffer.from(block))).toEqual(fast);
      if (fast === 'declined') {
        if (lib === 'throws') declinedOnlyWhereTheLibraryThrows++;
        continue;
      }
      answered++;
      expect([raw, fast]).toEqual([raw, lib]);
    }
    // The cases are mixed enough to exercise both sides.
    expect(answered).toBeGreaterThan(1000);
    expect(declinedOnlyWhereTheLibraryThrows).toBeGreaterThan(100);
  });

  it('refuses a name that is not a header name', () => {
    expect(() => headerNames(['Bad Name'])).toThrow();
    expect(() => headerNames(['a:b'])).toThrow();
  });
});

describe('parseAckSubject: the numbers of m.info from the ack subject\'s bytes', () => {
  const out = (): DeliveryNumbers => ({ deliveryCount: 0, streamSeq: 0, pending: 0 });

  it('reads the current form (domain "_", account hash, a trailing token)', () => {
    const o = out();
    expect(parseAckSubject(enc('$JS.ACK._.ABCDEF.TRACKLY_TRACKING_V1.reporting-trackly-tracking-v1.3.10452.998.1765000000123456789.4711.kK9s'), o)).toBe(true);
    expect(o).toEqual({ deliveryCount: 3, streamSeq: 10452, pending: 4711 });
  });

  it('reads the form without the trailing token, and one with a domain', () => {
    const o = out();
    expect(parseAckSubject(enc('$JS.ACK.hub.ABCDEF.S.C.1.7.7.1765000000123456789.0'), o)).toBe(true);
    expect(o).toEqual({ deliveryCount: 1, streamSeq: 7, pending: 0 });
  });

  it('reads the old 9-token form (no domain, no account)', () => {
    const o = out();
    expect(parseAckSubject(enc('$JS.ACK.S.C.2.123456789012.5.1765000000123456789.12'), o)).toBe(true);
    expect(o).toEqual({ deliveryCount: 2, streamSeq: 123456789012, pending: 12 });
  });

  it.each([
    ['not an ack subject', '_INBOX.abc.def'],
    ['10 tokens (neither form)', '$JS.ACK.S.C.1.7.7.1765000000123456789.0.9'],
    ['too few tokens', '$JS.ACK.S.C.1.7.7'],
    ['another prefix', '$JS.NAK._.A.S.C.1.7.7.1.0'],
    ['a number that is not plain digits', '$JS.ACK._.A.S.C.1.7x.7.1.0'],
    ['an empty number', '$JS.ACK._.A.S.C..7.7.1.0'],
    ['a number beyond exact doubles', '$JS.ACK._.A.S.C.1.12345678901234567.7.1.0'],
  ])('declines %s (the caller asks m.info)', (_what, subject) => {
    expect(parseAckSubject(enc(subject), out())).toBe(false);
  });
});
