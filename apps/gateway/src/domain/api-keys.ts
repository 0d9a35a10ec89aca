/**
 * API keys of the dashboards' HTTP API. Only SHA-256 digests of the keys are configured (a leaked config or Secret
 * does not give anyone a key), each with a name, the scopes it grants and an optional restriction to campaigns
 * and/or offers. A presented key is hashed and compared with every configured digest using timingSafeEqual: equal
 * lengths, and every entry is compared, so neither timing nor length says which entry or how much of a guess matched.
 * Keys are random (256 bits), so a plain unsalted SHA-256 is enough: there is no dictionary to run against it.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** What a key may do; every /api route names the one it needs. */
export const SCOPES = [
  'reports:read',
  'conversions:read',
  'partners:read',
  'partners:write',
  'partners:test',
  'offers:read',
  'offers:write',
  'operations:write',
  'webhooks:read',
  'webhooks:write',
] as const;
export type Scope = (typeof SCOPES)[number];

/**
 * Scopes that act on, or read across, every campaign (partner settings and tokens, test postbacks, the offer catalog's
 * terms, imports, replays, re-attribution): never on a key restricted to some campaigns or offers.
 */
export const UNRESTRICTED_ONLY_SCOPES: readonly Scope[] = ['partners:read', 'partners:write', 'partners:test', 'offers:write', 'operations:write', 'webhooks:read', 'webhooks:write'];

export interface ApiKeyGrant {
  /** Who holds it (shown in logs instead of the key). */
  name: string;
  /** SHA-256 of the key. */
  digest: Buffer;
  scopes: Scope[];
  /** Only these campaigns' data; empty = any campaign. */
  campaigns: string[];
  /** Only these offers' data; empty = any offer. */
  offers: string[];
}

export const API_KEY_PREFIX = 'trk_';
const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/i;
// Campaign and offer ids as the catalog allows them (kernel's assertId).
const ID = /^[A-Za-z0-9._:-]{1,128}$/;
const HEX_DIGEST = /^[0-9a-f]{64}$/;
const MAX_IDS = 1000;

/**
 * '[{"name":"acme-dash","sha256":"<64 hex>","scopes":["reports:read"],"campaigns":["summer"]}]' -> grants.
 * Anything else, a plaintext key in particular, is refused with a message naming the entry.
 */
export function parseApiKeys(text: string): ApiKeyGrant[] {
  const trimmed = text.trim();
  if (!trimmed) return [];
  let data: unknown;
  try {
    data = JSON.parse(trimmed);
  } catch {
    throw new Error(
      'must be a JSON array of {"name","sha256","scopes"} entries (plaintext keys are not accepted: mint one with `npm run gateway:key`)',
    );
  }
  if (!Array.isArray(data)) throw new Error('must be a JSON array of key entries');
  const grants = data.map((entry, i) => parseEntry(entry, `entry #${i + 1}`));
  const names = new Set<string>();
  const digests = new Set<string>();
  for (const g of grants) {
    if (names.has(g.name)) throw new Error(`name "${g.name}" is used twice`);
    const hex = g.digest.toString('hex');
    if (digests.has(hex)) throw new Error(`the key of "${g.name}" is configured twice`);
    names.add(g.name);
    digests.add(hex);
  }
  return grants;
}

function parseEntry(entry: unknown, where: string): ApiKeyGrant {
  if (!entry || typeof entry !== 'object' || Array.isArray(entry)) throw new Error(`${where} must be an object`);
  const e = entry as Record<string, unknown>;
  const unknown = Object.keys(e).filter((k) => !['name', 'sha256', 'scopes', 'campaigns', 'offers'].includes(k));
  if (unknown.length) throw new Error(`${where} has unknown field(s) ${unknown.join(', ')}`);
  if (typeof e.name !== 'string' || !NAME.test(e.name)) throw new Error(`${where}: name must be 1-64 letters, digits, ".", "_" or "-"`);
  where = `key "${e.name}"`;
  if (typeof e.sha256 !== 'string' || !HEX_DIGEST.test(e.sha256.toLowerCase())) {
    throw new Error(`${where}: sha256 must be the key's SHA-256 as 64 hex digits`);
  }
  if (!Array.isArray(e.scopes) || e.scopes.length === 0) throw new Error(`${where}: scopes must be a non-empty list of ${SCOPES.join(', ')}`);
  for (const s of e.scopes) if (!SCOPES.includes(s as Scope)) throw new Error(`${where}: unknown scope ${JSON.stringify(s)} (known: ${SCOPES.join(', ')})`);
  const campaigns = idList(e.campaigns, `${where}: campaigns`);
  const offers = idList(e.offers, `${where}: offers`);
  const scopes = [...new Set(e.scopes as Scope[])];
  // A test postback acts for a whole partner and shows whichever campaign it lands on; setup and operations change
  // every campaign's numbers: not campaign-sized grants.
  const wide = scopes.filter((s) => UNRESTRICTED_ONLY_SCOPES.includes(s));
  if ((campaigns.length || offers.length) && wide.length) {
    throw new Error(`${where}: ${wide.join(', ')} cannot be combined with a campaign or offer restriction`);
  }
  return { name: e.name, digest: Buffer.from(e.sha256.toLowerCase(), 'hex'), scopes, campaigns, offers };
}

function idList(v: unknown, where: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.length > MAX_IDS || v.some((id) => typeof id !== 'string' || !ID.test(id))) {
    throw new Error(`${where} must be a list of at most ${MAX_IDS} ids`);
  }
  return [...new Set(v as string[])];
}

export type HeaderValue = string | string[] | undefined;

/** The keys a request presents: `Authorization: Bearer <key>` and/or `X-API-Key: <key>`. */
export function presentedKeys(headers: { authorization?: HeaderValue; 'x-api-key'?: HeaderValue }): string[] {
  const out: string[] = [];
  for (const auth of asList(headers.authorization)) {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(auth);
    if (m) out.push(m[1]);
  }
  for (const key of asList(headers['x-api-key'])) {
    const k = key.trim();
    if (k) out.push(k);
  }
  return out;
}

/** The grant of the first presented key that matches a configured one, or undefined. Every pair is compared. */
export function findGrant(presented: string[], grants: ApiKeyGrant[]): ApiKeyGrant | undefined {
  let found: ApiKeyGrant | undefined;
  for (const p of presented) {
    const d = sha256(p);
    for (const g of grants) if (timingSafeEqual(d, g.digest) && !found) found = g;
  }
  return found;
}

export function hasScope(grant: ApiKeyGrant, scope: Scope): boolean {
  return grant.scopes.includes(scope);
}

/** Restricted to some campaigns or offers. An undefined grant (no keys configured, development) is not. */
export function isRestricted(grant: ApiKeyGrant | undefined): boolean {
  return !!grant && (grant.campaigns.length > 0 || grant.offers.length > 0);
}

/** Whether the grant may see data of this campaign and offer. */
export function canSee(grant: ApiKeyGrant | undefined, of: { campaignId: string; offerId: string }): boolean {
  if (!grant) return true;
  return (grant.campaigns.length === 0 || grant.campaigns.includes(of.campaignId)) && (grant.offers.length === 0 || grant.offers.includes(of.offerId));
}

/** The performance report filter for this grant: undefined (everything) unless the key is restricted. */
export function reportFilter(grant: ApiKeyGrant | undefined): { campaignIds: string[]; offerIds: string[] } | undefined {
  return grant && isRestricted(grant) ? { campaignIds: [...grant.campaigns], offerIds: [...grant.offers] } : undefined;
}

/**
 * The performance filter for a request's own campaign/offer filters under this grant. A restricted key's filter is
 * its grant, narrowed by what the request asks; asking for ids outside the grant is named in `outside` (the caller
 * refuses it) — never widened, and never emptied (an empty list would mean "all" downstream).
 */
export function scopedFilter(
  grant: ApiKeyGrant | undefined,
  requested: { campaignIds: string[]; offerIds: string[] },
): { filter?: { campaignIds: string[]; offerIds: string[] }; outside: string[] } {
  const outside: string[] = [];
  const narrow = (granted: string[], asked: string[], what: string): string[] => {
    if (!granted.length) return asked;
    for (const id of asked) if (!granted.includes(id)) outside.push(`${what} ${id}`);
    const inside = asked.filter((id) => granted.includes(id));
    // Nothing asked, or nothing asked inside the grant: the grant itself (an empty list would read as "all").
    return inside.length ? inside : [...granted];
  };
  const campaignIds = narrow(grant?.campaigns ?? [], requested.campaignIds, 'campaign');
  const offerIds = narrow(grant?.offers ?? [], requested.offerIds, 'offer');
  return { filter: campaignIds.length || offerIds.length ? { campaignIds, offerIds } : undefined, outside };
}

/** What a key may do, as the console shows it; undefined grant = no keys configured (development: everything). */
export function describeGrant(grant: ApiKeyGrant | undefined): { name: string | null; open: boolean; scopes: Scope[]; campaigns: string[]; offers: string[] } {
  if (!grant) return { name: null, open: true, scopes: [...SCOPES], campaigns: [], offers: [] };
  return { name: grant.name, open: false, scopes: [...grant.scopes], campaigns: [...grant.campaigns], offers: [...grant.offers] };
}

export interface MintRequest {
  name: string;
  scopes: string[];
  campaigns?: string[];
  offers?: string[];
}

/**
 * A new key from 32 random bytes (the caller supplies them) and the config entry that grants it. The key is shown
 * once; only the entry is stored. The entry goes through parseApiKeys, so a minted entry is always accepted.
 */
export function mintApiKey(req: MintRequest, random: Buffer): { key: string; entry: Record<string, unknown> } {
  if (random.length < 32) throw new Error('need 32 random bytes');
  const key = `${API_KEY_PREFIX}${random.subarray(0, 32).toString('base64url')}`;
  const entry: Record<string, unknown> = { name: req.name, sha256: sha256(key).toString('hex'), scopes: req.scopes };
  if (req.campaigns?.length) entry.campaigns = req.campaigns;
  if (req.offers?.length) entry.offers = req.offers;
  parseApiKeys(JSON.stringify([entry]));
  return { key, entry };
}

export function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

function asList(v: HeaderValue): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}
