/**
 * `npm run redrive -- --service=ingest --from 2026-12-01T00:00Z --to 2026-12-02T00:00Z [--types a,b] [--dry-run]`
 *   publishes again, under their original event ids, the events a service already published in the range
 *   (--service=all: tracking, ingest, attribution in that order), printing progress per event type.
 * `npm run drift -- --from 2026-12-01 --to 2026-12-07`
 *   per UTC day and event type, what each producer holds against what each read model applied; exit 1 on drift.
 * `npm run rebuild -- --service=attribution|reporting [--dry-run] [--yes] [--timeout 600] [--force]`
 *   empties a read model and re-drives its producers over everything they keep, then waits for the drift check to
 *   be equal (src/rebuild.ts); without --yes (or --dry-run) it shows the dry run and asks.
 * Addresses: TRACKING_GRPC_URL, INGEST_GRPC_URL, ATTRIBUTION_GRPC_URL, REPORTING_GRPC_URL (defaults: the local ports);
 * GRPC_AUTH_MODE / GRPC_AUTH_TOKEN / GRPC_TLS_* as the apps are configured.
 */
import { checkGrpcSecurity, grpcSecurityShape, loadConfig, z } from '@trackly/config';
import { createInterface } from 'node:readline/promises';
import { status } from '@grpc/grpc-js';
import { compareCounts, GrpcCallError, OpsClient, ServiceCounts } from '@trackly/grpc';
import { OpsClients, rebuild, redriveLine, redriveRetrying, Service, SERVICES } from './rebuild';

const PRODUCERS: Service[] = ['tracking', 'ingest', 'attribution'];

const shape = {
  ...grpcSecurityShape,
  TRACKING_GRPC_URL: z.string().default('127.0.0.1:50051'),
  INGEST_GRPC_URL: z.string().default('127.0.0.1:50052'),
  ATTRIBUTION_GRPC_URL: z.string().default('127.0.0.1:50053'),
  REPORTING_GRPC_URL: z.string().default('127.0.0.1:50054'),
};

function args(argv: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const eq = a.indexOf('=');
    if (eq > 0) out.set(a.slice(2, eq), a.slice(eq + 1));
    else if (argv[i + 1] && !argv[i + 1].startsWith('--')) out.set(a.slice(2), argv[++i]);
    else out.set(a.slice(2), 'true');
  }
  return out;
}

function time(name: string, v: string | undefined): Date {
  if (!v) throw new Error(`--${name} is required (an ISO time, e.g. 2026-12-01T00:00:00Z, or a date)`);
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new Error(`--${name} ${v} is not a time`);
  return d;
}

async function redrive(opts: Map<string, string>, clients: OpsClients): Promise<number> {
  const service = opts.get('service') ?? '';
  const targets: Service[] = service === 'all' ? PRODUCERS : PRODUCERS.includes(service as Service) ? [service as Service] : [];
  if (!targets.length) throw new Error(`--service must be one of ${PRODUCERS.join(', ')} or all (reporting publishes nothing)`);
  const req = {
    fromTime: time('from', opts.get('from')),
    toTime: time('to', opts.get('to')),
    eventTypes: (opts.get('types') ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    dryRun: opts.get('dry-run') === 'true',
  };
  console.log(`${req.dryRun ? 'dry run: would re-drive' : 're-driving'} ${req.fromTime.toISOString()} .. ${req.toTime.toISOString()}`);
  for (const t of targets) {
    const last = await redriveRetrying(
      clients[t],
      req,
      (r) => {
        if (process.stdout.isTTY && !r.done) process.stdout.write(`\r${redriveLine(t, r)}\x1b[K`);
      },
      (line) => console.error(line),
    );
    if (process.stdout.isTTY) process.stdout.write('\r\x1b[K');
    console.log(redriveLine(t, last));
  }
  return 0;
}

async function drift(opts: Map<string, string>, clients: OpsClients): Promise<number> {
  const today = new Date().toISOString().slice(0, 10);
  const from = opts.get('from') ?? new Date(Date.now() - 7 * 86_400_000).toISOString().slice(0, 10);
  const to = opts.get('to') ?? today;
  const all: ServiceCounts[] = [];
  for (const s of SERVICES) {
    const r = await clients[s].dailyCounts(from, to);
    all.push({ service: s, produced: r.produced, applied: r.applied, appliedTypes: r.appliedEventTypes });
  }
  const { drifts, compared } = compareCounts(all);
  console.log(`drift check ${from} .. ${to} (UTC days): ${compared} day × event type × read model counts compared`);
  if (!drifts.length) {
    console.log('no drift: every read model holds what its producers hold');
    return 0;
  }
  console.log('day         event type               producer     read model    produced   applied   diff');
  for (const d of drifts) {
    console.log(
      `${d.day}  ${d.eventType.split('.').pop()!.padEnd(23)}  ${d.producer.padEnd(11)}  ${d.readModel.padEnd(11)}  ${String(d.produced).padStart(9)}  ${String(d.applied).padStart(8)}  ${String(d.applied - d.produced).padStart(5)}`,
    );
  }
  console.log(`${drifts.length} differences: re-drive the producer for those days (npm run redrive), then check again`);
  return 1;
}

/** One line of progress on a terminal, overwritten; nothing when piped. */
function progress(line: string): void {
  if (process.stdout.isTTY) process.stdout.write(`\r${line}\x1b[K`);
}

async function rebuildCommand(opts: Map<string, string>, clients: OpsClients): Promise<number> {
  const base = {
    service: opts.get('service') ?? '',
    force: opts.get('force') === 'true',
    timeoutMs: Number(opts.get('timeout') ?? 600) * 1000,
    log: (line: string) => {
      if (process.stdout.isTTY) process.stdout.write('\r\x1b[K');
      console.log(line);
    },
    progress,
  };
  if (!Number.isFinite(base.timeoutMs) || base.timeoutMs <= 0) throw new Error('--timeout must be a number of seconds');
  if (opts.get('dry-run') === 'true') {
    await rebuild({ ...base, dryRun: true }, clients);
    return 0;
  }
  if (opts.get('yes') !== 'true') {
    await rebuild({ ...base, dryRun: true }, clients);
    if (!process.stdin.isTTY) throw new Error('not a terminal: add --yes to rebuild');
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    const answer = await rl.question(`type ${base.service} to empty its read model and rebuild it: `);
    rl.close();
    if (answer.trim() !== base.service) {
      console.log('nothing done');
      return 1;
    }
  }
  await rebuild({ ...base, dryRun: false }, clients);
  return 0;
}

async function main(): Promise<number> {
  const [command, ...rest] = process.argv.slice(2);
  const opts = args(rest);
  const config = loadConfig('ops', shape, process.env, checkGrpcSecurity);
  const clients = {
    tracking: new OpsClient(config.TRACKING_GRPC_URL, { security: config }),
    ingest: new OpsClient(config.INGEST_GRPC_URL, { security: config }),
    attribution: new OpsClient(config.ATTRIBUTION_GRPC_URL, { security: config }),
    reporting: new OpsClient(config.REPORTING_GRPC_URL, { security: config }),
  };
  try {
    if (command === 'redrive') return await redrive(opts, clients);
    if (command === 'drift') return await drift(opts, clients);
    if (command === 'rebuild') return await rebuildCommand(opts, clients);
    throw new Error(`unknown command ${command ?? ''}: redrive, drift or rebuild`);
  } finally {
    for (const c of Object.values(clients)) c.close();
  }
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    console.error(e.message);
    if (e instanceof GrpcCallError && e.code === status.UNAVAILABLE) {
      console.error('the service did not answer: is it running, and is its *_GRPC_URL right? If it is starting or its broker or database is coming back, run this again shortly');
    }
    process.exit(2);
  },
);
