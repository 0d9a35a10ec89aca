import { createHash } from 'node:crypto';
import { Client } from 'pg';
import { Events } from '@trackly/messaging';
import { eventually } from '@trackly/testing';
import type { Conversion } from '@trackly/contracts/ingest/v1/ingest';
import { ConversionReceived, ConversionsReceived } from '@trackly/contracts/ingest/v1/ingest_events';

/**
 * Waits until ConversionEventsRelay has published every committed conversion row (none with an xid past its cursor):
 * what outboxDrained proves for the outbox, for the table that is its own event source. Afterwards the stream holds
 * every ConversionReceived and ConversionsReceived it will ever get for what came before.
 */
export async function conversionsPublished(databaseUrl: string, timeoutMs = 10_000): Promise<void> {
  const c = new Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    await eventually(async () => (await c.query(CONVERSIONS_BEHIND_RELAY)).rows[0].n === 0, timeoutMs);
  } finally {
    await c.end();
  }
}

/** Conversion rows that are event sources and not yet published (past the relay's cursor, or no cursor yet). */
export const CONVERSIONS_BEHIND_RELAY = `SELECT count(*)::int AS n FROM "ingest".conversions AS t
  LEFT JOIN "ingest".table_relay_cursors AS c ON c.relay = 'conversions'
  WHERE t.xid IS NOT NULL AND (c.relay IS NULL OR (t.xid, t.seq) > (c.xid, c.seq))`;

/**
 * The id the contract gives a run of conversions: base64url sha256 of its row ids, each followed by "\n" (spelled out
 * here, not runId, so a change to either side shows).
 */
export const conversionRunId = (ids: readonly string[]): string =>
  `conversion-run:${createHash('sha256').update(ids.map((id) => `${id}\n`).join('')).digest('base64url')}`;

/** A conversion as the ingest stream carries it: alone in a ConversionReceived, or one of a ConversionsReceived run. */
export interface CarriedConversion {
  conversion: Conversion;
  subject: 'ConversionReceived' | 'ConversionsReceived';
  msgId?: string;
  requestId?: string;
  /** The conversion (row) ids of the event that carried it, in order (just its own for a ConversionReceived). */
  event: string[];
}

/** What carriedConversions reads of a JetStream message. */
export interface StreamMessage {
  subject: string;
  data: Uint8Array;
  headers?: { get(k: string): string };
}

/**
 * The conversions a message of the ingest stream carries, flattened (a ConversionReceived's conversion, each
 * conversion of a ConversionsReceived run), or undefined for another subject (refusals, adjustments, partners share
 * the stream). `prefix` is the spec's NATS prefix.
 */
export function carriedConversions(prefix: string, m: StreamMessage): CarriedConversion[] | undefined {
  const msgId = m.headers?.get('Nats-Msg-Id') || undefined;
  const requestId = m.headers?.get('Trackly-Request-Id') || undefined;
  if (m.subject === `${prefix}.${Events.ConversionReceived.subject}`) {
    const { conversion } = ConversionReceived.decode(m.data);
    if (!conversion) throw new Error(`ConversionReceived ${msgId} without a conversion`);
    return [{ conversion, subject: 'ConversionReceived', msgId, requestId, event: [conversion.id] }];
  }
  if (m.subject === `${prefix}.${Events.ConversionsReceived.subject}`) {
    const { conversions } = ConversionsReceived.decode(m.data);
    const event = conversions.map((c) => c.id);
    return conversions.map((conversion) => ({ conversion, subject: 'ConversionsReceived', msgId, requestId, event }));
  }
  return undefined;
}

/**
 * Where carried conversions' events are not as ConversionEventsRelay makes them (empty when all are): a conversion
 * alone has its row id as Nats-Msg-Id; a run holds 2 to 100 conversions, has conversionRunId of their ids and no
 * request id (the requests' headers stay in the rows).
 */
export function notAsRelayed(carried: readonly CarriedConversion[]): string[] {
  const problems: string[] = [];
  for (const c of carried) {
    const id = c.conversion.id;
    if (c.subject === 'ConversionReceived') {
      if (c.msgId !== id) problems.push(`${id}: ConversionReceived with Nats-Msg-Id ${c.msgId}`);
    } else {
      if (c.event.length < 2 || c.event.length > 100) problems.push(`${id}: in a run of ${c.event.length}`);
      if (c.msgId !== conversionRunId(c.event)) problems.push(`${id}: run with Nats-Msg-Id ${c.msgId}`);
      if (c.requestId !== undefined) problems.push(`${id}: run with request id ${c.requestId}`);
    }
  }
  return problems;
}
