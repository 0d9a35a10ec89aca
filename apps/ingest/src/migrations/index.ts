import { IngestInitial1764400000000 } from './1764400000000-initial.migration';
import { IngestPartners1764500000000 } from './1764500000000-partners.migration';
import { IngestProcessedEventsPruning1765000000000 } from './1765000000000-processed-events-pruning.migration';
import { IngestOutboxRedrive1765600000000 } from './1765600000000-outbox-redrive.migration';

/** In order; each runs once per database (recorded in "ingest".migrations). */
export const ingestMigrations = [IngestInitial1764400000000, IngestPartners1764500000000, IngestProcessedEventsPruning1765000000000, IngestOutboxRedrive1765600000000];
