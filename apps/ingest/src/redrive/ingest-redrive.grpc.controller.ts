import { Controller } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Events, Messaging, OutboxRedriveSource, RedriveGrpcController } from '@trackly/messaging';

/**
 * Ingest's re-drive (its outbox, kept OUTBOX_RETENTION_DAYS) and its per-day conversions for the drift check. It has
 * no read model to rebuild: its conversions and archive are the truth.
 */
@Controller()
export class IngestRedriveGrpcController extends RedriveGrpcController {
  constructor(ds: DataSource, messaging: Messaging) {
    super(ds, {
      service: 'ingest',
      publishes: [Events.ConversionReceived, Events.ConversionAdjusted].map((e) => e.subject),
      sources: [new OutboxRedriveSource(ds, messaging, 'ingest')],
      produced: [{ subject: Events.ConversionReceived.subject, table: '"ingest".conversions', timeColumn: 'occurred_at' }],
      applied: [],
    });
  }
}
