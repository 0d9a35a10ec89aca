import { Controller } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Events, Messaging, OutboxRedriveSource, RedriveGrpcController } from '@trackly/messaging';
import { conversionRedriveSource } from '../conversions/conversion-events';

/**
 * Ingest's re-drive (the conversions published from their own rows, and its outbox, kept OUTBOX_RETENTION_DAYS) and
 * its per-day conversions for the drift check. It has no read model to rebuild: its conversions and archive are the
 * truth.
 */
@Controller()
export class IngestRedriveGrpcController extends RedriveGrpcController {
  constructor(ds: DataSource, messaging: Messaging) {
    super(ds, {
      service: 'ingest',
      publishes: [Events.ConversionReceived, Events.ConversionAdjusted].map((e) => e.subject),
      // Conversions published from their rows first, so they go out before their adjustments (outbox: adjustments,
      // refusals, and conversions from before the table was their source or imported).
      sources: [conversionRedriveSource(ds, messaging), new OutboxRedriveSource(ds, messaging, 'ingest')],
      produced: [{ subject: Events.ConversionReceived.subject, table: '"ingest".conversions', timeColumn: 'occurred_at' }],
      applied: [],
    });
  }
}
