import { runMain } from '@trackly/app-shell';
import { loadGatewayConfig } from './gateway.config';
import { startGateway } from './gateway.app';

runMain({
  service: 'gateway',
  loadConfig: () => loadGatewayConfig(),
  start: (config) => startGateway(config),
});
