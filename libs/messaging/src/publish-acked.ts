import { createInbox, headers as natsHeaders, type Msg } from '@nats-io/nats-core';
import { Messaging } from './messaging';

/** One event as a relay publishes it. */
export interface RelayedEvent {
  /** Subject without the environment prefix, e.g. trackly.tracking.v1.ClickRecorded. */
  subject: string;
  /** Nats-Msg-Id: stable for the row (a republish must carry the same id). */
  id: string;
  payload: Uint8Array;
  headers?: Record<string, string>;
}

/**
 * Publishes a batch to JetStream, in order on the one connection, and resolves once every message is acknowledged
 * (stored, or recognised as a duplicate by its Nats-Msg-Id); rejects on the first refusal or after `timeoutMs`. The
 * acks come back on one inbox subscription per batch, reply subject `<inbox>.<i>`, rather than through js.publish():
 * that makes a request object, a timer, a promise and an Error with a stack trace for every message, which was most
 * of a relay's CPU per event at blast rates.
 */
export function publishAcked(m: Messaging, events: readonly RelayedEvent[], timeoutMs: number): Promise<void> {
  const inbox = createInbox();
  return new Promise<void>((resolve, reject) => {
    let left = events.length;
    let done = false;
    const acked = new Uint8Array(events.length);
    const finish = (error?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sub.unsubscribe();
      if (error) reject(error);
      else resolve();
    };
    const sub = m.nc.subscribe(`${inbox}.*`, {
      callback: (err: Error | null, msg: Msg) => {
        if (err) return finish(err);
        const problem = pubAckProblem(msg);
        if (problem) return finish(new Error(`JetStream refused an event: ${problem}`));
        const i = Number(msg.subject.slice(inbox.length + 1));
        if (!acked[i]) {
          acked[i] = 1;
          if (--left === 0) finish();
        }
      },
    });
    const timer = setTimeout(() => finish(new Error(`${left} of ${events.length} events not acknowledged within ${timeoutMs} ms`)), timeoutMs);
    try {
      for (let i = 0; i < events.length; i++) {
        const e = events[i];
        const h = natsHeaders();
        h.set('Nats-Msg-Id', e.id);
        if (e.headers) for (const k in e.headers) h.set(k, e.headers[k]);
        m.nc.publish(m.subject(e.subject), e.payload, { reply: `${inbox}.${i}`, headers: h });
      }
      if (!events.length) finish();
    } catch (e) {
      finish(e as Error);
    }
  });
}

const UTF8 = new TextDecoder();

/** Why a JetStream reply is not a positive publish ack (no stream for the subject, an API error), or undefined. */
function pubAckProblem(msg: Msg): string | undefined {
  if (!msg.data.length) {
    const code = msg.headers?.code;
    return code === 503 ? 'no stream takes the subject (no responders)' : `empty reply${code ? ` (status ${code})` : ''}`;
  }
  try {
    const ack = JSON.parse(UTF8.decode(msg.data)) as { stream?: string; error?: { description?: string; code?: number } };
    if (ack.error) return `${ack.error.description ?? 'error'} (${ack.error.code ?? '?'})`;
    return ack.stream ? undefined : 'reply is not a publish ack';
  } catch {
    return 'reply is not JSON';
  }
}
