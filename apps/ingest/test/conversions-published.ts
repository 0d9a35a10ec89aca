import { Client } from 'pg';
import { eventually } from '@trackly/testing';

/**
 * Waits until ConversionEventsRelay has published every committed conversion row (none with an xid past its cursor):
 * what outboxDrained proves for the outbox, for the table that is its own event source. Afterwards the stream holds
 * every ConversionReceived it will ever get for what came before.
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
