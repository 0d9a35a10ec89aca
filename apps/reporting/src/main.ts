import { runMain } from '@trackly/app-shell';
import { loadReportingConfig } from './reporting.config';
import { migrateReporting, startReporting } from './reporting.app';

runMain({
  service: 'reporting',
  loadConfig: () => loadReportingConfig(),
  start: (config) => startReporting(config),
  migrate: (config) => migrateReporting(config.DATABASE_URL),
});
