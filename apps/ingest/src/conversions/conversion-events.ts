import { Inject, Injectable } from '@nestjs/common';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { DataSource } from 'typeorm';
import type { Logger } from '@trackly/logging';
import { AppTableRelay, Events, Messaging, RelayedEvent, TableRedriveSource } from '@trackly/messaging';
import type { Conversion } from '@trackly/contracts/ingest/v1/ingest';
// Events.ConversionReceived's codec, typed with its writer parameter.
import { ConversionReceived } from '@trackly/contracts/ingest/v1/ingest_events';
import { INGEST_LOGGER } from '../ingest.tokens';

/** What the relay reads of a conversion row: its id and its ConversionReceived as announced when it was inserted. */
export interface ConversionEventRow extends Record<string, unknown> {
  id: string;
  received_event: Buffer;
  event_headers: Record<string, string> | null;
}

export const CONVERSION_EVENT_COLUMNS = 't.id, t.received_event, t.event_headers';

/** The row's columns that make it an event source (migration 1765800000500), as an INSERT writes them. */
export interface ConversionEventColumns {
  /** Encoded ConversionReceived of the row as inserted. */
  payload: Buffer;
  /** JSON text of its headers (request id, trace context). */
  headers: string;
}

/** The ConversionReceived a new row announces, encoded for its `received_event` column. */
export function conversionEventColumns(conversion: Conversion, headers: Record<string, string>): ConversionEventColumns {
  const bytes = ConversionReceived.encode({ conversion }, writer).finish();
  // finish() hands back a copy of its own: a Buffer over it, not a second copy.
  return { payload: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), headers: JSON.stringify(headers) };
}

/** One writer for every event (encoding is synchronous; finish() resets it): its buffer is grown once, not per event. */
const writer = new BinaryWriter();

/** A conversion row as its ConversionReceived (the relay's and a re-drive's: the same id, the same payload). */
export function conversionEvent(row: ConversionEventRow): RelayedEvent {
  return { subject: Events.ConversionReceived.subject, id: row.id, payload: row.received_event, headers: row.event_headers ?? undefined };
}

/**
 * Publishes ConversionReceived from the conversions table (no outbox row per conversion), as tracking publishes its
 * clicks: rows in (xid, seq) order behind the snapshot's xmin, Nats-Msg-Id = the conversion's row id, the payload and
 * headers stored with the row at insert. Started with the app; stopped after a final flush by PostbackIntake once the
 * last queued postbacks are written (what commits after that is published by the next relay to run).
 */
@Injectable()
export class ConversionEventsRelay extends AppTableRelay<ConversionEventRow> {
  constructor(ds: DataSource, messaging: Messaging, @Inject(INGEST_LOGGER) logger: Logger) {
    super(ds, messaging, logger, {
      schema: 'ingest',
      name: 'conversions',
      table: '"ingest".conversions',
      columns: CONVERSION_EVENT_COLUMNS,
      timeColumn: 'received_at',
      // Commits of a few tens of ms share one read, one publish write and one ack subscription: under a burst a pass
      // every 5 ms (one per batch of postbacks) cost a SELECT and a socket write to NATS each.
      pollMs: 100,
      lingerMs: 25,
      toEvents: (rows) => rows.map((row) => conversionEvent(row)),
    });
  }
}

/** Conversions published by the relay, re-driven from their rows (by received_at); older ones re-drive from the outbox. */
export function conversionRedriveSource(ds: DataSource, messaging: Messaging): TableRedriveSource<ConversionEventRow> {
  return new TableRedriveSource<ConversionEventRow>({
    ds,
    messaging,
    schema: 'ingest',
    relay: 'conversions',
    subject: Events.ConversionReceived.subject,
    table: '"ingest".conversions',
    columns: CONVERSION_EVENT_COLUMNS,
    timeColumn: 'received_at',
    toEvents: (rows) => rows.map((row) => conversionEvent(row)),
  });
}
