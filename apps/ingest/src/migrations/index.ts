import { IngestInitial1764400000000 } from './1764400000000-initial.migration';

/** In order; each runs once per database (recorded in "ingest".migrations). */
export const ingestMigrations = [IngestInitial1764400000000];
