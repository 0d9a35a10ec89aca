import { Controller } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Events, Messaging, OutboxRedriveSource, RedriveGrpcController, TableRedriveSource } from '@trackly/messaging';
import { CLICK_COLUMNS, CLICK_JOINS, clickRunEvents, ClickRow } from '../clicks/click-events';
import { MESSAGE_COLUMNS, messageRunEvents, MessageRow } from '../messages/message-events';

/**
 * Tracking's re-drive: catalog events from the outbox first (consumers need the offer before its sends), then sends
 * (messages rows, by created_at), then taps (clicks rows, by clicked_at), each rebuilt as its relay builds it.
 * Old rows written before the tables became event sources re-drive from the outbox, as long as it keeps them.
 * Tracking has no read model to rebuild: its tables are the truth.
 */
@Controller()
export class TrackingRedriveGrpcController extends RedriveGrpcController {
  constructor(ds: DataSource, messaging: Messaging) {
    super(ds, {
      service: 'tracking',
      publishes: [Events.OfferUpserted, Events.CreativeUpserted, Events.CampaignUpserted, Events.MessageSent, Events.ClickRecorded].map((e) => e.subject),
      sources: [
        new OutboxRedriveSource(ds, messaging, 'tracking'),
        new TableRedriveSource<MessageRow>({
          ds, messaging, schema: 'tracking', relay: 'messages', subject: Events.MessageSent.subject,
          table: '"tracking".messages', columns: MESSAGE_COLUMNS, timeColumn: 'created_at', toEvents: messageRunEvents,
        }),
        new TableRedriveSource<ClickRow>({
          ds, messaging, schema: 'tracking', relay: 'clicks', subject: Events.ClickRecorded.subject,
          table: '"tracking".clicks', columns: CLICK_COLUMNS, joins: CLICK_JOINS, timeColumn: 'clicked_at', toEvents: clickRunEvents,
        }),
      ],
      produced: [
        { subject: Events.MessageSent.subject, table: '"tracking".messages', timeColumn: 'sent_at' },
        { subject: Events.ClickRecorded.subject, table: '"tracking".clicks', timeColumn: 'clicked_at' },
      ],
      applied: [],
    });
  }
}
