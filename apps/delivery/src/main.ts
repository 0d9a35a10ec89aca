import { runMain } from '@trackly/app-shell';
import { loadDeliveryConfig } from './delivery.config';
import { migrateDelivery, startDelivery } from './delivery.app';

runMain({
  service: 'delivery',
  loadConfig: () => loadDeliveryConfig(),
  start: (config) => startDelivery(config),
  migrate: (config) => migrateDelivery(config.DATABASE_URL),
});
