/** Structured JSON logs (pino) for every app, and a NestJS LoggerService over the same logger. */
import type { LoggerService } from '@nestjs/common';
import pino, { Logger } from 'pino';
import { logContextFields } from '@trackly/observability';

export type { Logger };

export function createLogger(service: string, level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  // Lines written while handling a request or an event carry its request id (and trace id when tracing is on).
  return pino({ level, base: { service }, timestamp: pino.stdTimeFunctions.isoTime, mixin: logContextFields });
}

/** Routes Nest's own log lines into the JSON logger. */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}
  log(message: unknown, context?: string) {
    this.logger.info({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string) {
    this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string) {
    this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string) {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string) {
    this.logger.trace({ context }, String(message));
  }
}
