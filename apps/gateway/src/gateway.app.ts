import type { Server } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { Clock, systemClock } from '@trackly/kernel';
import { RunningService, startServiceApp } from '@trackly/app-shell';
import { createLogger } from '@trackly/logging';
import { ConsoleAssets } from './console/console-assets';
import { GatewayConfig } from './gateway.config';
import { GatewayModule } from './gateway.module';

/** Starts the gateway: the console and its HTTP/JSON API over the services' gRPC APIs. */
export async function startGateway(config: GatewayConfig, deps: { clock?: Clock } = {}): Promise<RunningService> {
  const logger = createLogger('gateway', config.LOG_LEVEL);
  // Production refuses to start without keys (loadGatewayConfig); development may run open, loudly.
  if (config.GATEWAY_API_KEYS.length === 0) {
    logger.warn('no API keys configured (GATEWAY_API_KEYS / GATEWAY_API_KEYS_FILE): /api is open to anyone who can reach this port; development only');
  }
  const maxUrl = config.GATEWAY_MAX_URL_BYTES;
  const running = await startServiceApp(GatewayModule.register(config, deps.clock ?? systemClock), {
    logger,
    http: { host: config.GATEWAY_HOST, port: config.GATEWAY_HTTP_PORT },
    configure: (app) => {
      // Node reads maxHeaderSize (the createServer option; untyped as a property) from its server at each new
      // connection. Set well above the URL limit, so an over-long URL reaches the check below and is answered 414
      // (URI Too Long) rather than 431 by Node itself.
      (app.getHttpServer() as Server & { maxHeaderSize?: number }).maxHeaderSize = config.GATEWAY_MAX_HEADER_BYTES;
      app.use((req: Request, res: Response, next: NextFunction) => {
        if (Buffer.byteLength(req.originalUrl ?? req.url, 'utf8') > maxUrl) {
          res.status(414).json({ error: 'URI_TOO_LONG', message: `the request URL is longer than ${maxUrl} bytes` });
          return;
        }
        next();
      });
    },
  });
  const consoleDir = running.app.get(ConsoleAssets).dir;
  if (!consoleDir) logger.warn('the console is not built (run `npx nx build console`): / answers 503 until it is; the API works');
  logger.info(
    {
      http: config.GATEWAY_HTTP_PORT,
      reporting: config.REPORTING_GRPC_URL,
      ingest: config.INGEST_GRPC_URL,
      attribution: config.ATTRIBUTION_GRPC_URL,
      tracking: config.TRACKING_GRPC_URL,
      apiKeys: config.GATEWAY_API_KEYS.map((k) => k.name),
      grpcAuth: config.GRPC_AUTH_MODE,
      console: consoleDir ?? null,
    },
    `gateway ready: console http://${config.GATEWAY_HOST}:${config.GATEWAY_HTTP_PORT}/, API http://${config.GATEWAY_HOST}:${config.GATEWAY_HTTP_PORT}/api`,
  );
  return running;
}
