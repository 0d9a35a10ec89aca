import type { ChildProcess } from 'node:child_process';
import { Client } from 'pg';
import { allocatePorts, AppName, appEnv, spawnApp, waitReady } from '../../../tools/launcher';
import { builtAppCopy } from './built-app';
import { createTestDatabase, deleteNatsPrefix, outboxDrained, TestDatabase, testInfra, testNatsPrefix } from './infra';

/** One run of the app's process, with where it listens. */
export interface ChildRun {
  process: ChildProcess;
  /** 127.0.0.1:<port> of its gRPC server (undefined for an app without one). */
  grpc?: string;
  /** http://127.0.0.1:<port> of its HTTP listener (undefined for an app without one). */
  http?: string;
}

export interface ChildAppOptions {
  app: AppName;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  migrations: Function[];
  migrate: (url: string) => Promise<unknown>;
  /** On top of the database, NATS, listen variables and LOG_LEVEL=warn. */
  env?: Record<string, string>;
}

/**
 * The built app run as a real child process (so a spec can SIGKILL it and start it again on the same database and
 * NATS prefix): a private build copy, its own database, prefix and pg client. Every `start()` listens on fresh ports
 * and waits until the app answers; `close()` kills what is still running and removes everything.
 */
export class ChildApp {
  private readonly children: ChildProcess[] = [];

  private constructor(
    readonly options: ChildAppOptions,
    readonly db: TestDatabase,
    readonly prefix: string,
    readonly pg: Client,
    private readonly build: ReturnType<typeof builtAppCopy>,
  ) {}

  static async create(options: ChildAppOptions): Promise<ChildApp> {
    const build = builtAppCopy(options.app, 'crash-test');
    try {
      const db = await createTestDatabase(options.app, options.migrations, (url) => options.migrate(url).then(() => undefined));
      const pg = new Client({ connectionString: db.url });
      await pg.connect();
      return new ChildApp(options, db, testNatsPrefix(), pg, build);
    } catch (e) {
      build.remove();
      throw e;
    }
  }

  /** Spawns the app on fresh ports and waits until it answers (fails at once if it exits while starting). */
  async start(timeoutMs = 60_000): Promise<ChildRun> {
    const name = this.options.app;
    const ports = await allocatePorts();
    const child = spawnApp(name, {
      main: this.build.main,
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: this.db.url,
        NATS_URL: testInfra().natsUrl,
        NATS_PREFIX: this.prefix,
        ...appEnv(name, ports),
        LOG_LEVEL: 'warn',
        ...this.options.env,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    this.children.push(child);
    await waitReady(name, ports, { child, timeoutMs });
    const { grpc, http } = ports[name];
    return { process: child, grpc: grpc ? `127.0.0.1:${grpc}` : undefined, http: http ? `http://127.0.0.1:${http}` : undefined };
  }

  /** SIGKILL (when still running) and wait until the process is gone. */
  async kill(run: ChildRun): Promise<void> {
    const p = run.process;
    if (p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }

  /** The `n` column of the first row of a query on the app's database. */
  async count(sql: string, params: unknown[] = []): Promise<number> {
    return Number((await this.pg.query(sql, params)).rows[0].n);
  }

  /** Waits until the app's outbox (schema named after the app) holds nothing unpublished. */
  outboxDrained(timeoutMs = 30_000): Promise<void> {
    return outboxDrained(this.db.url, this.options.app, timeoutMs);
  }

  async close(): Promise<void> {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await this.pg.end();
    await this.db.drop();
    await deleteNatsPrefix(this.prefix);
    this.build.remove();
  }
}
