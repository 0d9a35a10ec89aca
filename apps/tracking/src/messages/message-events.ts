import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { maskPhone } from '@trackly/kernel';
import { AppTableRelay, Events, Messaging, RelayedEvent } from '@trackly/messaging';
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
}

/** Select list of a message row as its event needs it (the relay's and a re-drive's). */
export const MESSAGE_COLUMNS = `t.message_id, t.contact_id, t.phone_e164, t.campaign_id, t.creative_id, t.offer_id,
  date_part('epoch', t.sent_at) * 1000 AS sent_ms, t.request_id`;

/** A message row as its MessageSent event (the relay's and a re-drive's: the same id, the same payload). */
export function messageEvent(row: MessageRow): RelayedEvent {
  return {
    subject: Events.MessageSent.subject,
    id: `sent:${row.message_id}`,
    payload: Events.MessageSent.codec
      .encode({
        messageId: row.message_id,
        contactId: row.contact_id,
        phoneMasked: maskPhone(row.phone_e164),
        campaignId: row.campaign_id,
        creativeId: row.creative_id,
        offerId: row.offer_id,
        sentAt: new Date(row.sent_ms),
      })
      .finish(),
    headers: row.request_id ? { [NATS_REQUEST_ID_HEADER]: row.request_id } : undefined,
  };
}

/**
 * Publishes MessageSent from the messages table (no outbox row per message): Nats-Msg-Id = "sent:" + the message
 * id (stable, and apart from any other event's id), the masked number (the full one stays in tracking), the request
 * id of the RegisterMessages call in Trackly-Request-Id. Started with the app, stopped after a final flush.
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
      toEvent: messageEvent,
    });
  }
}
