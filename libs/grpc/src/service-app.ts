import type { INestApplication, ModuleMetadata, Type, DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Logger } from '@trackly/logging';
import { NestPinoLogger } from '@trackly/logging';
import { HttpExceptionFilter } from './http-exception.filter';
import { drainGrpcServer, GrpcServerSetup, grpcServerOptions } from './server';

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
}

export interface RunningService {
  app: INestApplication;
  /** Stops taking work (health NOT_SERVING), lets gRPC calls in flight finish, then closes. */
  close(): Promise<void>;
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
        await app.close();
      })();
      return closing;
    },
  };
}
