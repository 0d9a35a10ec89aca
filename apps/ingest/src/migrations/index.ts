import { IngestInitial1764400000000 } from './1764400000000-initial.migration';
import { IngestPartners1764500000000 } from './1764500000000-partners.migration';

/** In order; each runs once per database (recorded in "ingest".migrations). */
export const ingestMigrations = [IngestInitial1764400000000, IngestPartners1764500000000];
