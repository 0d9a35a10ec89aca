/**
 * `npm run gateway:key -- --name acme-dash --scopes reports:read [--campaigns a,b] [--offers x,y]`: mints a random
 * API key, prints it once (hand it to its holder; it is stored nowhere) and the JSON entry to add to
 * GATEWAY_API_KEYS / the GATEWAY_API_KEYS_FILE Secret, which holds only the key's SHA-256.
 */
import { randomBytes } from 'node:crypto';
import { mintApiKey, SCOPES } from '../domain/api-keys';

const USAGE = `usage: npm run gateway:key -- --name <name> --scopes <scope,...> [--campaigns <id,...>] [--offers <id,...>]
scopes: ${SCOPES.join(', ')}`;

function fail(message: string): never {
  process.stderr.write(`gateway:key: ${message}\n${USAGE}\n`);
  process.exit(1);
}

function parseArgs(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    }
    const m = /^--(name|scopes|campaigns|offers)(?:=(.*))?$/.exec(a);
    if (!m) fail(`unknown argument ${a}`);
    const value = m[2] ?? argv[++i];
    if (value === undefined) fail(`--${m[1]} needs a value`);
    out[m[1]] = value;
  }
  return out;
}

const list = (v: string | undefined) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);

const args = parseArgs(process.argv.slice(2));
if (!args.name) fail('--name is required');
if (!args.scopes) fail('--scopes is required');
try {
  const { key, entry } = mintApiKey(
    { name: args.name, scopes: list(args.scopes), campaigns: list(args.campaigns), offers: list(args.offers) },
    randomBytes(32),
  );
  process.stdout.write(
    `API key for "${args.name}" (shown once, not stored anywhere; send it as "Authorization: Bearer <key>" or "X-API-Key"):\n\n  ${key}\n\n` +
      `Add this entry to the JSON array in GATEWAY_API_KEYS or the GATEWAY_API_KEYS_FILE Secret:\n\n  ${JSON.stringify(entry)}\n`,
  );
} catch (e) {
  fail((e as Error).message);
}
