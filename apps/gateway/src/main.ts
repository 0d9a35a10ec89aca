import { runMain } from '@trackly/grpc';
import { loadGatewayConfig } from './gateway.config';
import { startGateway } from './gateway.app';

runMain({
  service: 'gateway',
  loadConfig: () => loadGatewayConfig(),
  start: (config) => startGateway(config),
});
