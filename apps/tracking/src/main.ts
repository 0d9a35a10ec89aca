import { runMain } from '@trackly/app-shell';
import { loadTrackingConfig } from './tracking.config';
import { migrateTracking, startTracking } from './tracking.app';

runMain({
  service: 'tracking',
  loadConfig: () => loadTrackingConfig(),
  start: (config) => startTracking(config),
  migrate: (config) => migrateTracking(config.DATABASE_URL),
});
