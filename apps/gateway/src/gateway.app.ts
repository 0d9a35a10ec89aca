import { Clock, systemClock } from '@trackly/kernel';
import { RunningService, startServiceApp } from '@trackly/grpc';
import { createLogger } from '@trackly/logging';
import { GatewayConfig } from './gateway.config';
import { GatewayModule } from './gateway.module';

/** Starts the gateway: the dashboards' HTTP/JSON API over the services' gRPC APIs. */
export async function startGateway(config: GatewayConfig, deps: { clock?: Clock } = {}): Promise<RunningService> {
  const logger = createLogger('gateway', config.LOG_LEVEL);
  if (config.GATEWAY_API_KEYS.length === 0) {
    logger.warn('GATEWAY_API_KEYS is empty: /api is open to anyone who can reach this port; set keys outside local development');
  }
  const running = await startServiceApp(GatewayModule.register(config, deps.clock ?? systemClock), {
    logger,
    http: { host: config.GATEWAY_HOST, port: config.GATEWAY_HTTP_PORT },
  });
  logger.info(
    {
      http: config.GATEWAY_HTTP_PORT,
      reporting: config.REPORTING_GRPC_URL,
      ingest: config.INGEST_GRPC_URL,
      attribution: config.ATTRIBUTION_GRPC_URL,
      tracking: config.TRACKING_GRPC_URL,
      apiKeys: config.GATEWAY_API_KEYS.length,
    },
    `gateway ready: http://${config.GATEWAY_HOST}:${config.GATEWAY_HTTP_PORT}/api`,
  );
  return running;
}
