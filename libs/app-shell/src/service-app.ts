import type { INestApplication, ModuleMetadata, Type, DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Server } from 'node:http';
import type { Logger } from '@trackly/logging';
import { NestPinoLogger } from '@trackly/logging';
import {
  defaultMetricsPort,
  GrpcObservabilityInterceptor,
  httpObservabilityMiddleware,
  METRICS_PATH,
  MetricsServer,
  serveMetrics,
  startMetricsServer,
} from '@trackly/observability';
import { HttpExceptionFilter } from './http-exception.filter';
import { drainGrpcServer, GrpcServerSetup, grpcServerOptions } from '@trackly/grpc';

export interface ServiceAppOptions {
  logger: Logger;
  /** gRPC server, when the service serves one. */
  grpc?: GrpcServerSetup;
  /** HTTP listener, when the service has an HTTP edge. */
  http?: { host: string; port: number };
  /** Called right after the app is created, before it initialises and listens (e.g. body parser limits). */
  configure?: (app: INestApplication) => void;
  /** How long close() waits for gRPC calls in flight before cancelling them (default 10 s). */
  drainTimeoutMs?: number;
  /** Service name for metrics labels and the default metrics port (default: the logger's `service` binding). */
  service?: string;
  /**
   * Port of the separate /metrics server of an app without HTTP (0 = any free port). Default: METRICS_PORT, else,
   * when the process runs through runMain, 9464 + the app's offset; in-process starts (tests) get none.
   */
  metricsPort?: number;
}

let defaultMetricsServer = false;

/** runMain's process serves /metrics on the default port even without METRICS_PORT. */
export function enableDefaultMetricsServer(): void {
  defaultMetricsServer = true;
}

function resolveMetricsPort(opts: ServiceAppOptions, service: string): number | undefined {
  if (opts.metricsPort !== undefined) return opts.metricsPort;
  const env = process.env.METRICS_PORT;
  if (env !== undefined && env !== '') {
    const port = Number(env);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`METRICS_PORT must be a port number, got "${env}"`);
    return port;
  }
  return defaultMetricsServer ? defaultMetricsPort(service) : undefined;
}

export interface RunningService {
  app: INestApplication;
  /** Stops taking work (health NOT_SERVING), lets gRPC calls in flight finish, then closes. */
  close(): Promise<void>;
  /** Port of the separate /metrics server, when the app has one (apps with HTTP serve /metrics there). */
  metricsPort?: number;
}

function drainHttpServer(server: Server, timeoutMs: number): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise<void>((resolve) => {
    // A keep-alive connection goes idle when its last response is sent; without closing it then, close() would wait
    // for the keep-alive timeout.
    const idle = setInterval(() => server.closeIdleConnections(), 50);
    const timer = setTimeout(() => {
      server.closeAllConnections();
    }, timeoutMs);
    server.close(() => {
      clearInterval(idle);
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/** Boots a Nest service with its gRPC server (health + reflection) and, optionally, its HTTP edge. */
export async function startServiceApp(
  module: Type<unknown> | DynamicModule | ModuleMetadata,
  opts: ServiceAppOptions,
): Promise<RunningService> {
  const app = await NestFactory.create(module as Type<unknown>, {
    logger: new NestPinoLogger(opts.logger),
    abortOnError: false,
  });
  app.useGlobalFilters(new HttpExceptionFilter(opts.logger));
  const service = opts.service ?? String(opts.logger.bindings().service ?? 'app');
  // Request ids, spans and per-RPC metrics; inheritAppConfig hands the interceptor to the gRPC server too.
  app.useGlobalInterceptors(new GrpcObservabilityInterceptor());
  if (opts.http) {
    // Registered before Nest adds its routes (at init), so every request passes through them.
    app.use(httpObservabilityMiddleware(service));
    app.getHttpAdapter().get(METRICS_PATH, serveMetrics);
  }
  if (opts.grpc) {
    app.connectMicroservice(grpcServerOptions(opts.grpc), { inheritAppConfig: true });
  }
  try {
    opts.configure?.(app);
    await app.startAllMicroservices();
    if (opts.http) await app.listen(opts.http.port, opts.http.host);
    else await app.init();
  } catch (e) {
    await app.close().catch(() => undefined);
    throw e;
  }
  let metrics: MetricsServer | undefined;
  const metricsPort = opts.http ? undefined : resolveMetricsPort(opts, service);
  if (metricsPort !== undefined) {
    try {
      metrics = await startMetricsServer(metricsPort, process.env.METRICS_HOST ?? '0.0.0.0');
    } catch (e) {
      await app.close().catch(() => undefined);
      throw new Error(`cannot serve metrics on port ${metricsPort}: ${(e as Error).message}`);
    }
  }
  let closing: Promise<void> | undefined;
  return {
    app,
    close: () => {
      closing ??= (async () => {
        if (opts.grpc) {
          for (const name of ['', ...Object.keys(opts.grpc.services)]) opts.grpc.health.setStatus(name, 'NOT_SERVING');
          // Before Nest's close, which cancels calls in flight: they finish while the database and NATS still run.
          await drainGrpcServer(opts.grpc, opts.drainTimeoutMs ?? 10_000);
        }
        // Likewise HTTP: Nest closes its server only after the shutdown hooks (consumers, outbox flush) have run, so a
        // request still arriving then would write events after the final flush. Stop listening and let the requests
        // in flight finish first.
        if (opts.http) await drainHttpServer(app.getHttpServer(), opts.drainTimeoutMs ?? 10_000);
        await app.close();
        // Last, so the drain itself can still be scraped.
        await metrics?.close();
      })();
      return closing;
    },
    metricsPort: metrics?.port,
  };
}
