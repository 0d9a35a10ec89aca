import 'reflect-metadata';
import { ConfigError } from '@trackly/config';
import { enableDefaultMetricsServer, type RunningService } from './service-app';

export interface MainSpec<C> {
  service: string;
  loadConfig: () => C;
  start: (config: C) => Promise<RunningService>;
  /** Applies migrations only; `node main.js migrate`. */
  migrate?: (config: C) => Promise<string[]>;
}

/**
 * The body of every app's main.ts: `node main.js` serves until SIGTERM/SIGINT, then drains and exits;
 * `node main.js migrate` applies migrations and exits. Bad configuration or unreachable infrastructure exits 1
 * with one readable line instead of a stack trace.
 */
export function runMain<C>(spec: MainSpec<C>): void {
  const fail = (e: unknown): never => {
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`${spec.service}: ${e instanceof ConfigError ? '' : 'cannot start: '}${msg}\n`);
    process.exit(1);
  };
  void (async () => {
    let config: C;
    try {
      config = spec.loadConfig();
    } catch (e) {
      return fail(e);
    }
    if (process.argv.includes('migrate')) {
      if (!spec.migrate) return fail(new Error('this service has no database'));
      const ran = await spec.migrate(config).catch(fail);
      process.stdout.write(`${spec.service}: ${ran.length ? `applied ${ran.join(', ')}` : 'schema up to date'}\n`);
      return;
    }
    enableDefaultMetricsServer();
    const running = await spec.start(config).catch(fail);
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      process.stdout.write(`${spec.service}: ${signal}, draining\n`);
      const force = setTimeout(() => process.exit(1), 25_000);
      force.unref();
      running.close().then(
        () => process.exit(0),
        (e) => {
          process.stderr.write(`${spec.service}: error while stopping: ${(e as Error).message}\n`);
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  })();
}
