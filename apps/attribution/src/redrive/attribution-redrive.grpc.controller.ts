import { Controller } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { durableName, Events, Messaging, OutboxRedriveSource, RedriveGrpcController, Streams } from '@trackly/messaging';

/**
 * Attribution's re-drive (its outbox: decisions and corrections) and, for the drift check, what it produced (one
 * decision per conversion, by outcome) and what its projections applied (sends, taps, and conversions: decided or
 * parked). Its read model for a rebuild is the projections of tracking (offers, sends, taps) with the processed-event
 * records of the two durables that feed them; decisions, parked conversions, corrections and offer rules are its own
 * truth and stay.
 */
@Controller()
export class AttributionRedriveGrpcController extends RedriveGrpcController {
  constructor(ds: DataSource, messaging: Messaging) {
    super(ds, {
      service: 'attribution',
      publishes: [Events.ConversionAttributed, Events.ConversionUnattributed, Events.AttributionCorrected].map((e) => e.subject),
      sources: [new OutboxRedriveSource(ds, messaging, 'attribution')],
      produced: [
        { subject: Events.ConversionAttributed.subject, table: '"attribution".decisions', timeColumn: 'occurred_at', where: `t.outcome = 'ATTRIBUTED'` },
        { subject: Events.ConversionUnattributed.subject, table: '"attribution".decisions', timeColumn: 'occurred_at', where: `t.outcome = 'UNATTRIBUTED'` },
      ],
      applied: [
        { subject: Events.MessageSent.subject, table: '"attribution".sends', timeColumn: 'sent_at' },
        { subject: Events.ClickRecorded.subject, table: '"attribution".clicks', timeColumn: 'clicked_at' },
        {
          subject: Events.ConversionReceived.subject,
          table: `(SELECT occurred_at FROM "attribution".decisions UNION ALL SELECT p.occurred_at FROM "attribution".parked_conversions p
                   WHERE NOT EXISTS (SELECT 1 FROM "attribution".decisions d WHERE d.partner_id = p.partner_id AND d.conversion_id = p.conversion_id))`,
          timeColumn: 'occurred_at',
        },
      ],
      readModel: {
        schema: 'attribution',
        reset: [
          { table: 'offers' },
          { table: 'sends' },
          { table: 'clicks' },
          { table: 'processed_events', consumers: [durableName('attribution', Streams.tracking), durableName('attribution', Streams.trackingClicks)] },
        ],
        keep: ['decisions', 'parked_conversions', 'corrections', 'offer_rules', 'outbox', 'dead_letters', 'migrations'],
      },
    });
  }
}
