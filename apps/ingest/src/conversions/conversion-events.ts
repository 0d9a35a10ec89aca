import { Inject, Injectable } from '@nestjs/common';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { DataSource } from 'typeorm';
import type { Logger } from '@trackly/logging';
import { AppTableRelay, cutRuns, Events, Messaging, RelayedEvent, runId, TableRedriveSource } from '@trackly/messaging';
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
  return { payload: conversionEventPayload(conversion), headers: JSON.stringify(headers) };
}

/** A new conversion's ConversionReceived, encoded. */
export function conversionEventPayload(conversion: Conversion): Buffer {
  const bytes = ConversionReceived.encode({ conversion }, writer).finish();
  // finish() hands back a copy of its own: a Buffer over it, not a second copy.
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** One writer for every event (encoding is synchronous; finish() resets it): its buffer is grown once, not per event. */
const writer = new BinaryWriter();

/** A conversion row as its ConversionReceived (a conversion read alone; see conversionRunEvents). */
export function conversionEvent(row: ConversionEventRow): RelayedEvent {
  return { subject: Events.ConversionReceived.subject, id: row.id, payload: row.received_event, headers: row.event_headers ?? undefined };
}

/**
 * Most conversions in one ConversionsReceived (~50 KB of payload with a partner's raw parameters each). Under a burst
 * the relay reads conversions by the dozen or hundred; each run is one message for the broker to store and deliver,
 * one ack and one processed event per consumer, where one per conversion was ~a fifth of the postback edge's CPU
 * (the relay's publishing and nats-server's share of it, measured with the relay stopped).
 */
export const CONVERSIONS_PER_RUN = 100;

/**
 * Conversion rows (in the order they were stored) as events, the relay's and a re-drive's: a conversion read alone
 * is a ConversionReceived as before (Nats-Msg-Id = its row id, its request's headers), conversions read together are
 * runs of up to CONVERSIONS_PER_RUN in ConversionsReceived (id = digest of the row ids; the requests' headers stay in
 * the rows). A run's payload is its rows' stored ConversionReceived bytes one after another: field 1 of
 * ConversionsReceived has ConversionReceived's number and type, so nothing is decoded or encoded again. Consumers
 * apply each conversion once by its key whatever event carries it.
 */
export function conversionRunEvents(rows: readonly ConversionEventRow[]): RelayedEvent[] {
  return cutRuns(rows, CONVERSIONS_PER_RUN).map((run) =>
    run.length === 1
      ? conversionEvent(run[0])
      : {
          subject: Events.ConversionsReceived.subject,
          id: runId('conversion-run', run.map((r) => r.id)),
          payload: Buffer.concat(run.map((r) => r.received_event)),
        },
  );
}

/**
 * Publishes ConversionReceived and ConversionsReceived (conversionRunEvents) from the conversions table (no outbox
 * row per conversion), as tracking publishes its clicks: rows in (xid, seq) order behind the snapshot's xmin, Nats-Msg-Id = the conversion's row id, the payload and
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
      toEvents: conversionRunEvents,
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
    toEvents: conversionRunEvents,
  });
}
