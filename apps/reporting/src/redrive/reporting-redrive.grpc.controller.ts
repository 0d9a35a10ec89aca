import { Controller } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Events, RedriveGrpcController } from '@trackly/messaging';

const ROLLUPS = ['activity', 'revenue', 'cohort_activity', 'cohort_revenue'].flatMap((r) => [`${r}_rollup`, `${r}_total_rollup`]);

/**
 * Reporting publishes nothing, so it has nothing to re-drive; for the drift check it counts what its facts hold
 * (sends, taps, conversions received, credited and unattributed), per UTC day of each entity's own time. All of it is
 * a read model, rebuilt by `npm run rebuild -- --service=reporting` (docs/operations.md): facts, rollups, catalog
 * names, the applied corrections and adjustments, and every processed-event record. The FX rates are what people
 * entered: they stay.
 */
@Controller()
export class ReportingRedriveGrpcController extends RedriveGrpcController {
  constructor(ds: DataSource) {
    super(ds, {
      service: 'reporting',
      publishes: [],
      sources: [],
      produced: [],
      applied: [
        { subject: Events.MessageSent.subject, table: '"reporting".messages', timeColumn: 'sent_at' },
        { subject: Events.ClickRecorded.subject, table: '"reporting".clicks', timeColumn: 'clicked_at' },
        { subject: Events.ConversionReceived.subject, table: '"reporting".received_conversions', timeColumn: 'occurred_at' },
        { subject: Events.ConversionAttributed.subject, table: '"reporting".credited_conversions', timeColumn: 'occurred_at' },
        { subject: Events.ConversionUnattributed.subject, table: '"reporting".unattributed_conversions', timeColumn: 'occurred_at' },
      ],
      readModel: {
        schema: 'reporting',
        reset: [
          ...['names', 'messages', 'clicks', 'received_conversions', 'credited_conversions', 'unattributed_conversions', 'applied_changes'].map((table) => ({ table })),
          ...ROLLUPS.map((table) => ({ table })),
          { table: 'processed_events' },
        ],
        keep: ['fx_rates', 'outbox', 'dead_letters', 'migrations'],
      },
    });
  }
}
