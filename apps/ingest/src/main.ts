import { runMain } from '@trackly/app-shell';
import { loadIngestConfig } from './ingest.config';
import { migrateIngest, startIngest } from './ingest.app';

runMain({
  service: 'ingest',
  loadConfig: () => loadIngestConfig(),
  start: (config) => startIngest(config),
  migrate: (config) => migrateIngest(config.DATABASE_URL),
});
