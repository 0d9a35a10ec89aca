/**
 * The four services as real child processes (their built main.js), on the suite's private Postgres and NATS. Each
 * app keeps its ports across restarts, so clients and the other apps find it again.
 */
import { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { allocatePorts, appEnv, endpoints, isReady, mainOf, Ports, spawnApp } from '../../launcher';
import { waitFor } from './infra';

/** The four services the suite faults (the gateway only reads, through reporting). */
export type AppName = 'tracking' | 'ingest' | 'attribution' | 'reporting';

export class AppProcess {
  private child?: ChildProcess;
  /** Unexpected exits (e.g. the relay fault hook's exit 137), for the report. */
  readonly exits: { code: number | null; signal: string | null }[] = [];

  constructor(
    readonly name: AppName,
    private readonly main: string,
    private readonly env: Record<string, string>,
    private readonly logFile: string,
    private readonly ready: () => Promise<boolean>,
  ) {}

  /** Another process of the same app (a second replica): same build and settings, these overridden. */
  replica(env: Record<string, string>, logFile: string, ready: () => Promise<boolean>): AppProcess {
    return new AppProcess(this.name, this.main, { ...this.env, ...env }, logFile, ready);
  }

  /** Changes the environment of the next start (e.g. a DATABASE_URL on another server). */
  setEnv(patch: Record<string, string>): void {
    Object.assign(this.env, patch);
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the process (with modules preloaded for this run only, e.g. a fault seam) and waits until it answers. */
  async start(opts: { preload?: string[] } = {}): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running`);
    const preload = opts.preload ?? [];
    const log = fs.openSync(this.logFile, 'a');
    fs.writeSync(log, `\n--- start ${new Date().toISOString()}${preload.length ? ` preloading ${preload.map((p) => path.basename(p)).join(', ')}` : ''}\n`);
    const child = spawnApp(this.name, { main: this.main, preload, env: this.env, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    this.child = child;
    child.once('exit', (code, signal) => this.exits.push({ code, signal }));
    await waitFor(`${this.name} to be ready`, async () => {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${this.name} exited (${child.exitCode ?? child.signalCode}); see ${this.logFile}`);
      return this.ready();
    }, 90_000, 200);
  }

  /** Resolves when the process has exited (by itself or by a signal). */
  async exited(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise((r) => child.once('exit', r));
  }

  async kill(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const done = this.exited();
    child.kill(signal);
    await done;
  }
}

export interface Platform {
  apps: Record<AppName, AppProcess>;
  ports: Ports;
  trackingHttp: string;
  ingestHttp: string;
  grpc: { tracking: string; ingest: string; attribution: string; reporting: string };
  stop(): Promise<void>;
}

/** The built apps, copied out of dist/apps by the driver so a concurrent build elsewhere cannot remove them. */
export async function startPlatform(opts: { appsDir: string; logDir: string; databaseUrl: string; natsUrl: string; parkHorizonSeconds: number }): Promise<Platform> {
  const ports = await allocatePorts();
  const host = '127.0.0.1';
  fs.mkdirSync(opts.logDir, { recursive: true });
  const common: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    DATABASE_URL: opts.databaseUrl,
    NATS_URL: opts.natsUrl,
    NATS_PREFIX: '',
    LOG_LEVEL: process.env.FAULTS_LOG_LEVEL ?? 'warn',
    METRICS_PORT: '0',
  };
  const ep = endpoints(ports, host);
  // Beyond the launcher's ports and peers: the load driver taps thousands of links from one address and user agent
  // (not a scanner here), and parked conversions settle on the suite's horizon.
  const extra: Record<AppName, Record<string, string>> = {
    tracking: { TRACKING_BOT_REPEAT_CODES: '0' },
    ingest: {},
    attribution: { ATTRIBUTION_PARK_HORIZON_SECONDS: String(opts.parkHorizonSeconds) },
    reporting: {},
  };
  const make = (name: AppName) =>
    new AppProcess(name, mainOf(name, opts.appsDir), { ...common, ...appEnv(name, ports, host), ...extra[name] }, path.join(opts.logDir, `${name}.log`), () => isReady(name, ports, host));
  const trackingHttp = ep.trackingHttp;
  const ingestHttp = ep.ingestHttp;
  const apps: Record<AppName, AppProcess> = { tracking: make('tracking'), ingest: make('ingest'), attribution: make('attribution'), reporting: make('reporting') };
  const order: AppName[] = ['tracking', 'ingest', 'attribution', 'reporting'];
  const stop = async () => {
    for (const n of [...order].reverse()) await apps[n].kill('SIGTERM').catch(() => undefined);
  };
  try {
    // One at a time: each creates its schema and runs its migrations at start-up.
    for (const n of order) await apps[n].start();
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    apps,
    ports,
    trackingHttp,
    ingestHttp,
    grpc: { tracking: ep.trackingGrpc, ingest: ep.ingestGrpc, attribution: ep.attributionGrpc, reporting: ep.reportingGrpc },
    stop,
  };
}
