/**
 * The fault suite's own Postgres and nats-server, in a temporary directory on free ports: the suite kills and
 * restarts them, which it must never do to the machine's shared servers (5432/4222) other tests run on.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export { freePort } from '../../launcher';

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 200): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (${(last as Error).message})` : ''}`);
    await sleep(everyMs);
  }
}

export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function pgBin(name: string): string {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const p = path.join(root, v, 'bin', name);
    if (fs.existsSync(p)) return p;
  }
  throw new Error(`${name} not found under ${root}/*/bin: install the postgresql server package`);
}

/** Postgres refuses to run as root: run its tools as the postgres user then. */
function asPostgres(cmd: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

export class PrivatePostgres {
  readonly dataDir: string;
  constructor(
    readonly dir: string,
    readonly port: number,
  ) {
    this.dataDir = path.join(dir, 'pgdata');
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/trackly`;
  }

  init(): void {
    fs.mkdirSync(this.dataDir, { recursive: true });
    if (process.getuid?.() === 0) execFileSync('chown', ['-R', 'postgres:postgres', this.dir]);
    const [cmd, args] = asPostgres(pgBin('initdb'), ['-D', this.dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    execFileSync(cmd, args, { stdio: 'pipe' });
  }

  /** Starts and waits until it accepts connections. fsync off: the suite kills processes, never the machine. */
  async start(): Promise<void> {
    const opts = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=200`;
    const [cmd, args] = asPostgres(pgBin('pg_ctl'), ['-D', this.dataDir, '-o', opts, '-l', path.join(this.dir, 'postgres.log'), '-w', '-t', '60', 'start']);
    execFileSync(cmd, args, { stdio: 'pipe' });
  }

  /** `immediate` is a crash stop (connections cut, recovery at the next start); `fast` a clean one. */
  stop(mode: 'fast' | 'immediate' = 'fast'): void {
    const [cmd, args] = asPostgres(pgBin('pg_ctl'), ['-D', this.dataDir, '-m', mode, '-w', '-t', '60', 'stop']);
    try {
      execFileSync(cmd, args, { stdio: 'pipe' });
    } catch (e) {
      if (!/not running|No such file/i.test(String((e as { stderr?: Buffer }).stderr ?? e))) throw e;
    }
  }
}

export class PrivateNats {
  private child?: ChildProcess;
  constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const store = path.join(this.dir, 'jetstream');
    fs.mkdirSync(store, { recursive: true });
    const log = fs.openSync(path.join(this.dir, 'nats.log'), 'a');
    this.child = spawn('/usr/sbin/nats-server', ['-js', '-sd', store, '-a', '127.0.0.1', '-p', String(this.port)], { stdio: ['ignore', log, log] });
    const child = this.child;
    await waitFor('nats-server to listen', async () => {
      if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode}; see ${this.dir}/nats.log`);
      return portOpen(this.port);
    }, 30_000, 100);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
  }
}
