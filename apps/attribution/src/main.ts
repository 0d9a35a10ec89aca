import { runMain } from '@trackly/app-shell';
import { loadAttributionConfig } from './attribution.config';
import { migrateAttribution, startAttribution } from './attribution.app';

runMain({
  service: 'attribution',
  loadConfig: () => loadAttributionConfig(),
  start: (config) => startAttribution(config),
  migrate: (config) => migrateAttribution(config.DATABASE_URL),
});
