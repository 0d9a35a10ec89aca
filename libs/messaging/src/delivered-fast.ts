import type { JsMsg } from '@nats-io/jetstream';

/**
 * Cheap reads of what the consumer needs from a delivered JetStream message, for the hot path of a blast (profiled per
 * 100,000 events: nats.js decoding every message's whole header block ~480 ms, parsing every reply subject ~320 ms,
 * one protocol write per ack ~600 ms). Each read answers exactly what the library would (`m.headers.get(name)`, exact
 * key as ADR-4 and nats-server match it; `m.info`; `m.ack()`), and hands over to the library whenever its own scan does
 * not find a clean answer or nats.js's internals do not have the expected shape.
 */

/** The nats.js internals read here: the core message behind a JsMsg, its raw bytes and header length. */
interface CoreMsg {
  _rdata?: unknown;
  _msg?: { hdr?: unknown; reply?: unknown };
  publisher?: { sendCommand?: unknown };
}

function coreOf(m: JsMsg): CoreMsg | undefined {
  const core = (m as unknown as { msg?: CoreMsg }).msg;
  return core && typeof core === 'object' ? core : undefined;
}

/** The reply (ack) subject of a delivered message as the bytes nats.js received (it decodes them to a string on demand). */
function replyBytesOf(m: JsMsg): Uint8Array | undefined {
  const reply = coreOf(m)?._msg?.reply;
  return reply instanceof Uint8Array && reply.length > 0 ? reply : undefined;
}

const PREAMBLE = [78, 65, 84, 83, 47, 49, 46, 48, 13, 10]; // "NATS/1.0\r\n"
const CR = 13;
const LF = 10;
const COLON = 58;

/** Header names as bytes (ASCII: names are printable ASCII by the header grammar). */
export function headerNames(names: readonly string[]): Uint8Array[] {
  return names.map((n) => {
    const b = new Uint8Array(n.length);
    for (let i = 0; i < n.length; i++) {
      const c = n.charCodeAt(i);
      if (c < 33 || c > 126 || c === 58) throw new Error(`not a header name: ${n}`);
      b[i] = c;
    }
    return b;
  });
}

/**
 * The first value of each name in a raw NATS/1.0 header block of `end` bytes, as `MsgHdrsImpl.decode(block).get(name)`
 * gives it ('' when absent), written to `out`; false when the block is not one the scan vouches for (another status
 * line, a byte above 0x7f, a CR or LF that is not part of a CRLF, an invalid key, on which the library throws): the
 * caller then asks the library. Keys match exactly (case-sensitive), as the library's `get` and nats-server do.
 */
export function scanHeaders(block: Uint8Array, end: number, names: readonly Uint8Array[], out: string[]): boolean {
  if (names.length > 30) throw new Error('at most 30 header names');
  for (let k = 0; k < names.length; k++) out[k] = '';
  if (end < PREAMBLE.length || end > block.length) return false;
  for (let i = 0; i < PREAMBLE.length; i++) if (block[i] !== PREAMBLE[i]) return false;
  /** Bit k: a line of names[k] was seen (the first one wins, even with an empty value, as in the library). */
  let seen = 0;
  let s = PREAMBLE.length;
  while (s < end) {
    // One line [s, e): its key up to the first colon (none: a line the library ignores), then its value.
    let e = s;
    let colon = -1;
    let keyOk = true;
    let c = 0;
    for (; e < end; e++) {
      c = block[e];
      if (c === COLON) {
        colon = e;
        break;
      }
      if (c < 33 || c > 126) {
        if (c === CR || c === LF || c > 0x7f) break;
        keyOk = false;
      }
    }
    if (colon >= 0) for (e = colon + 1; e < end && (c = block[e]) !== CR && c !== LF && c <= 0x7f; e++);
    if (e < end) {
      if (c !== CR || e + 1 >= end || block[e + 1] !== LF) return false;
    }
    if (colon >= 0) {
      if (!keyOk) return false;
      for (let k = 0; k < names.length; k++) {
        const name = names[k];
        if (seen & (1 << k) || colon - s !== name.length) continue;
        let j = 0;
        while (j < name.length && block[s + j] === name[j]) j++;
        if (j < name.length) continue;
        seen |= 1 << k;
        let a = colon + 1;
        let b = e;
        while (a < b && isSpace(block[a])) a++;
        while (b > a && isSpace(block[b - 1])) b--;
        out[k] = ascii(block, a, b);
      }
    }
    s = e + 2;
  }
  return true;
}

/** ASCII whitespace String.prototype.trim removes (CR and LF cannot be inside a line here). */
function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

function ascii(b: Uint8Array, from: number, to: number): string {
  // Node's transport hands over Buffers: its native latin1 slice is several times faster than building the string.
  if (Buffer.isBuffer(b)) return b.toString('latin1', from, to);
  let s = '';
  for (let i = from; i < to; i++) s += String.fromCharCode(b[i]);
  return s;
}

/**
 * Reads some headers of delivered messages: `read(m)[k]` is `m.headers?.get(names[k]) ?? ''`, from a scan of the raw
 * header block (no header object, no string of the whole block), or from the library when the scan declines.
 */
export class HeaderReader {
  private readonly bytes: Uint8Array[];
  private readonly out: string[];
  /** Messages the scan declined (read by the library instead): for tests and the curious. */
  declined = 0;

  constructor(private readonly names: readonly string[]) {
    this.bytes = headerNames(names);
    this.out = names.map(() => '');
  }

  /** The values, in the order of the names. The array is reused by the next read: take what you need from it first. */
  read(m: JsMsg): readonly string[] {
    const core = coreOf(m);
    const raw = core?._rdata;
    const hdr = core?._msg?.hdr;
    if (raw instanceof Uint8Array && typeof hdr === 'number') {
      if (hdr <= 0) {
        // No header block (nats.js marks it -1): no headers, every get is ''.
        for (let k = 0; k < this.out.length; k++) this.out[k] = '';
        return this.out;
      }
      if (scanHeaders(raw, hdr, this.bytes, this.out)) return this.out;
    }
    this.declined++;
    const h = m.headers;
    for (let k = 0; k < this.names.length; k++) this.out[k] = h?.get(this.names[k]) ?? '';
    return this.out;
  }
}

/** Delivery count and stream sequence of a delivered message (what `m.info` gives, without its other fields). */
export interface DeliveryNumbers {
  deliveryCount: number;
  streamSeq: number;
  pending: number;
}

const dots = new Int32Array(12);
const ACK_PREFIX = [36, 74, 83, 46, 65, 67, 75, 46]; // "$JS.ACK."
const DOT = 46;

/**
 * Parses the numbers `m.info` would from a JetStream ack subject (`$JS.ACK.<domain>.<account>.<stream>.<consumer>.
 * <delivered>.<stream seq>.<consumer seq>.<time>.<pending>[.<token>]`, or the old 9-token form without domain and
 * account), given as its bytes, into `out`; false when the subject is not one of those or a number is not plain
 * digits (the caller then uses `m.info`, which throws on what it cannot parse).
 */
export function parseAckSubject(reply: Uint8Array, out: DeliveryNumbers): boolean {
  const len = reply.length;
  if (len < ACK_PREFIX.length) return false;
  for (let i = 0; i < ACK_PREFIX.length; i++) if (reply[i] !== ACK_PREFIX[i]) return false;
  let n = 0;
  for (let i = 0; i < len; i++) {
    if (reply[i] !== DOT) continue;
    if (n < dots.length) dots[n] = i;
    n++;
  }
  const tokens = n + 1;
  if (!(tokens === 9 || tokens >= 11)) return false;
  // Index of the delivery count's token: the old form lacks the domain and account tokens.
  const first = tokens === 9 ? 4 : 6;
  const d = digits(reply, dots[first - 1] + 1, dots[first]);
  const s = digits(reply, dots[first] + 1, dots[first + 1]);
  const p = digits(reply, dots[first + 3] + 1, first + 4 < n ? dots[first + 4] : len);
  if (d < 0 || s < 0 || p < 0) return false;
  out.deliveryCount = d;
  out.streamSeq = s;
  out.pending = p;
  return true;
}

/** The decimal number in reply[from, to), or -1 unless it is 1 to 15 digits (exact as a double). */
function digits(reply: Uint8Array, from: number, to: number): number {
  if (to <= from || to - from > 15) return -1;
  let v = 0;
  for (let i = from; i < to; i++) {
    const c = reply[i] - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/** Delivery count and stream sequence of a message: from its ack subject, or `m.info` when that does not parse. */
export function deliveryNumbers(m: JsMsg, out: DeliveryNumbers): DeliveryNumbers {
  const reply = replyBytesOf(m);
  if (reply === undefined || !parseAckSubject(reply, out)) {
    const info = m.info;
    out.deliveryCount = info.deliveryCount;
    out.streamSeq = info.streamSequence;
    out.pending = info.pending;
  }
  return out;
}

const PUB = [80, 85, 66, 32]; // "PUB "
const ACK_TAIL = [32, 52, 13, 10, 43, 65, 67, 75, 13, 10]; // " 4\r\n+ACK\r\n"

/**
 * Acknowledges each message (`+ACK` to its reply subject: explicit acks, one per message, as `m.ack()` sends them),
 * all in one command written to the connection's outbound buffer instead of one publish each. A message already
 * acknowledged (or nak'ed, term'ed) is skipped, as `m.ack()` would skip it; a message whose nats.js internals are not
 * the expected ones is acknowledged by `m.ack()`. Returns how many went through the one command.
 */
export function ackAll(msgs: readonly JsMsg[]): number {
  let proto: { sendCommand: (cmd: Uint8Array) => void } | undefined;
  const replies: Uint8Array[] = [];
  let size = 0;
  for (const m of msgs) {
    const impl = m as unknown as { didAck?: unknown };
    const p = coreOf(m)?.publisher;
    const reply = replyBytesOf(m);
    // The subject is a token of the server's MSG line, so it holds no space; the rest is what m.ack() checks.
    if (typeof impl.didAck !== 'boolean' || !p || typeof p.sendCommand !== 'function' || (proto && p !== proto) || !reply) {
      m.ack();
      continue;
    }
    if (impl.didAck) continue;
    proto = p as { sendCommand: (cmd: Uint8Array) => void };
    impl.didAck = true;
    replies.push(reply);
    size += PUB.length + reply.length + ACK_TAIL.length;
  }
  if (!proto || !replies.length) return 0;
  const cmd = new Uint8Array(size);
  let at = 0;
  for (const reply of replies) {
    cmd.set(PUB, at);
    cmd.set(reply, at + PUB.length);
    at += PUB.length + reply.length;
    cmd.set(ACK_TAIL, at);
    at += ACK_TAIL.length;
  }
  proto.sendCommand(cmd);
  return replies.length;
}
