/**
 * `npm run import -- --partner <id> <file.csv> [--ingest host:port]`: imports a partner's conversions from a CSV
 * file (columns click_id, conversion_id, payout, currency, status, occurred_at; header row first) through
 * IngestService.ImportConversions, with a progress bar. Exits 1 when the import failed, 2 when rows were refused.
 */
import { createReadStream, statSync } from 'node:fs';
import { checkGrpcSecurity, ConfigError, grpcSecurityShape, loadConfig } from '@trackly/config';
import { importCsv } from './import-client';

function usage(message?: string): never {
  if (message) process.stderr.write(`import: ${message}\n`);
  process.stderr.write('usage: npm run import -- --partner <partner id> <file.csv> [--ingest host:port]\n');
  process.exit(1);
}

function parseArgs(argv: string[]): { partner: string; file: string; ingest: string } {
  let partner: string | undefined;
  let ingest = process.env.INGEST_GRPC_URL ?? '127.0.0.1:50052';
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--partner') partner = argv[++i];
    else if (a.startsWith('--partner=')) partner = a.slice('--partner='.length);
    else if (a === '--ingest') ingest = argv[++i];
    else if (a.startsWith('--ingest=')) ingest = a.slice('--ingest='.length);
    else if (a === '--help' || a === '-h') usage();
    else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else files.push(a);
  }
  if (!partner) usage('--partner is required');
  if (files.length !== 1) usage('give exactly one CSV file');
  return { partner, file: files[0], ingest };
}

function bar(done: number, total: number): string {
  const width = 30;
  const ratio = total ? Math.min(1, done / total) : 1;
  const filled = Math.round(ratio * width);
  return `[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${(ratio * 100).toFixed(0).padStart(3)}% ${(done / 1_048_576).toFixed(1)} of ${(total / 1_048_576).toFixed(1)} MiB`;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  let size: number;
  try {
    size = statSync(args.file).size;
  } catch (e) {
    usage(`cannot read ${args.file}: ${(e as Error).message}`);
  }
  const tty = process.stderr.isTTY;
  let last = 0;
  const progress = (sent: number) => {
    const now = Date.now();
    if (!tty || (now - last < 100 && sent < size)) return;
    last = now;
    process.stderr.write(`\r${bar(sent, size)}`);
  };
  // The same GRPC_AUTH_MODE / GRPC_AUTH_TOKEN / GRPC_TLS_* as the services.
  let security;
  try {
    security = loadConfig('import', grpcSecurityShape, process.env, checkGrpcSecurity);
  } catch (e) {
    usage(e instanceof ConfigError ? e.message : String(e));
  }
  const result = await importCsv(args.ingest, args.partner, createReadStream(args.file, { highWaterMark: 64 * 1024 }), progress, undefined, security);
  if (tty) process.stderr.write(`\r${bar(size, size)}\n`);
  process.stdout.write(
    `${args.file}: ${result.rows} rows: ${result.stored} stored, ${result.duplicates} duplicates, ${result.adjusted} adjusted, ${result.rejected} refused\n`,
  );
  for (const e of result.errors) process.stdout.write(`  line ${e.line}: ${e.message}\n`);
  if (BigInt(result.rejected) > BigInt(result.errors.length)) process.stdout.write(`  … and ${BigInt(result.rejected) - BigInt(result.errors.length)} more\n`);
  process.exit(result.rejected === '0' ? 0 : 2);
}

main().catch((e: Error & { details?: string }) => {
  process.stderr.write(`\nimport failed: ${e.details ?? e.message}\n`);
  process.exit(1);
});
