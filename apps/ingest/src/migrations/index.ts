import { IngestInitial1764400000000 } from './1764400000000-initial.migration';
import { IngestPartners1764500000000 } from './1764500000000-partners.migration';
import { IngestProcessedEventsPruning1765000000000 } from './1765000000000-processed-events-pruning.migration';
import { IngestPayoutAbsent1765200000000 } from './1765200000000-payout-absent.migration';
import { IngestMessageId1765200000001 } from './1765200000001-message-id.migration';
import { IngestTestConversions1765200000002 } from './1765200000002-test-conversions.migration';
import { IngestPartnerTimeZone1765200000003 } from './1765200000003-partner-time-zone.migration';
import { IngestOutboxRedrive1765600000000 } from './1765600000000-outbox-redrive.migration';
import { IngestPostbackArchivePartitioned1765710000000 } from './1765710000000-postback-archive-partitioned.migration';
import { IngestConversionsEventSource1765800000500 } from './1765800000500-conversions-event-source.migration';
import { IngestPostbackBatchGuard1766000000000 } from './1766000000000-postback-batch-guard.migration';
import { IngestArchiveConversionRefUnchecked1766000000001 } from './1766000000001-archive-conversion-ref-unchecked.migration';

/** In order; each runs once per database (recorded in "ingest".migrations). */
export const ingestMigrations = [
  IngestInitial1764400000000,
  IngestPartners1764500000000,
  IngestProcessedEventsPruning1765000000000,
  IngestPayoutAbsent1765200000000,
  IngestMessageId1765200000001,
  IngestTestConversions1765200000002,
  IngestPartnerTimeZone1765200000003,
  IngestOutboxRedrive1765600000000,
  IngestPostbackArchivePartitioned1765710000000,
  IngestConversionsEventSource1765800000500,
  IngestPostbackBatchGuard1766000000000,
  IngestArchiveConversionRefUnchecked1766000000001,
];
