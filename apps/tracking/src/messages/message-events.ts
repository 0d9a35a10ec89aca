import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { maskPhone } from '@trackly/kernel';
import { AppTableRelay, cutRuns, Events, Messaging, RelayedEvent, runId } from '@trackly/messaging';
import type { MessageSent } from '@trackly/contracts/tracking/v1/tracking_events';
import type { Logger } from '@trackly/logging';
import { NATS_REQUEST_ID_HEADER } from '@trackly/observability';
import { TRACKING_LOGGER } from '../tracking.tokens';

export interface MessageRow extends Record<string, unknown> {
  message_id: string;
  contact_id: string;
  phone_e164: string;
  campaign_id: string;
  creative_id: string;
  offer_id: string;
  /** sent_at as epoch milliseconds: a float parses far faster than a timestamp string, 10,000 rows at a time. */
  sent_ms: number;
  request_id: string | null;
  /** The writing transaction (one RegisterMessages call): a run never spans two. */
  xid: string;
}

/** Select list of a message row as its event needs it (the relay's and a re-drive's). */
export const MESSAGE_COLUMNS = `t.message_id, t.contact_id, t.phone_e164, t.campaign_id, t.creative_id, t.offer_id,
  date_part('epoch', t.sent_at) * 1000 AS sent_ms, t.request_id, t.xid::text AS xid`;

/**
 * Most sends in one MessagesSent (~11 KB of payload). A blast's million sends are then ~10,000 events: the broker
 * stores, delivers and takes acks for those, and each consumer records ~10,000 processed events, not a million.
 */
export const SENDS_PER_RUN = 100;

function sent(row: MessageRow): MessageSent {
  return {
    messageId: row.message_id,
    contactId: row.contact_id,
    phoneMasked: maskPhone(row.phone_e164),
    campaignId: row.campaign_id,
    creativeId: row.creative_id,
    offerId: row.offer_id,
    sentAt: new Date(row.sent_ms),
  };
}

/**
 * Message rows (in the order they were stored) as MessagesSent events, the relay's and a re-drive's: consecutive rows
 * of one transaction (one RegisterMessages call, one request id) in runs of up to SENDS_PER_RUN. The id is a digest
 * of the run's message ids, so the same run always has the same id (a republish is dropped by the stream's duplicate
 * window, a redelivery by the consumer's processed events) and a run cut differently (where a relay read or a
 * re-drive page ended) has another: consumers then rely on each send being applied once by its message id.
 */
export function messageRunEvents(rows: readonly MessageRow[]): RelayedEvent[] {
  return cutRuns(rows, SENDS_PER_RUN, (a, b) => a.xid === b.xid && a.request_id === b.request_id).map((run) => ({
    subject: Events.MessagesSent.subject,
    id: runId('sent-run', run.map((r) => r.message_id)),
    payload: Events.MessagesSent.codec.encode({ messages: run.map(sent) }).finish(),
    headers: run[0].request_id ? { [NATS_REQUEST_ID_HEADER]: run[0].request_id } : undefined,
  }));
}

/**
 * Publishes MessagesSent from the messages table (no outbox row per message): runs of one RegisterMessages call
 * (messageRunEvents), the masked number (the full one stays in tracking), the request id of the call in
 * Trackly-Request-Id. Started with the app, stopped after a final flush.
 */
@Injectable()
export class MessageEventsRelay extends AppTableRelay<MessageRow> {
  constructor(ds: DataSource, messaging: Messaging, @Inject(TRACKING_LOGGER) logger: Logger) {
    super(ds, messaging, logger, {
      schema: 'tracking',
      name: 'messages',
      table: '"tracking".messages',
      columns: MESSAGE_COLUMNS,
      timeColumn: 'created_at',
      // A blast's backlog goes out in large reads, several on the wire at once.
      batchSize: 2000,
      inFlight: 4,
      toEvents: messageRunEvents,
    });
  }
}
