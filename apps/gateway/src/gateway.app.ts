import { Clock, systemClock } from '@trackly/kernel';
import { RunningService, startServiceApp } from '@trackly/grpc';
import { createLogger } from '@trackly/logging';
import { GatewayConfig } from './gateway.config';
import { GatewayModule } from './gateway.module';

/** Starts the gateway: the dashboards' HTTP/JSON API over the services' gRPC APIs. */
export async function startGateway(config: GatewayConfig, deps: { clock?: Clock } = {}): Promise<RunningService> {
  const logger = createLogger('gateway', config.LOG_LEVEL);
  // Production refuses to start without keys (loadGatewayConfig); development may run open, loudly.
  if (config.GATEWAY_API_KEYS.length === 0) {
    logger.warn('no API keys configured (GATEWAY_API_KEYS / GATEWAY_API_KEYS_FILE): /api is open to anyone who can reach this port; development only');
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
      apiKeys: config.GATEWAY_API_KEYS.map((k) => k.name),
      grpcAuth: config.GRPC_AUTH_MODE,
    },
    `gateway ready: http://${config.GATEWAY_HOST}:${config.GATEWAY_HTTP_PORT}/api`,
  );
  return running;
}
