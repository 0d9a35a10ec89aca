/** Structured JSON logs (pino) for every app, and a NestJS LoggerService over the same logger. */
import type { LoggerService } from '@nestjs/common';
import pino, { DestinationStream, Logger } from 'pino';
import { logContextFields } from '@trackly/observability';
import { scrubText, scrubValue } from './redact';

export type { Logger };
export { maskPhoneText, REDACTED, scrubText, scrubValue } from './redact';

/** Errors as pino serializes them, then scrubbed: messages and stacks often quote URLs, headers or numbers. */
const scrubbedErr = (e: unknown) => scrubValue(e instanceof Error ? pino.stdSerializers.err(e) : e);

export function createLogger(service: string, level: string = process.env.LOG_LEVEL ?? 'info', destination?: DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Lines written while handling a request or an event carry its request id (and trace id when tracing is on).
    mixin: logContextFields,
    // Secrets and phone numbers never reach the output (see redact.ts): fields, nested objects, errors, messages.
    serializers: { err: scrubbedErr, error: scrubbedErr },
    formatters: { log: (obj) => scrubValue(obj) as Record<string, unknown> },
    hooks: {
      logMethod(args, method) {
        method.apply(this, args.map((a) => (typeof a === 'string' ? scrubText(a) : a)) as Parameters<typeof method>);
      },
    },
  };
  return destination ? pino(options, destination) : pino(options);
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
