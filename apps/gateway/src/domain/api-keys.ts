/**
 * API keys of the dashboards' HTTP API. Keys are compared as SHA-256 digests with timingSafeEqual: equal-length
 * inputs, so neither the comparison time nor the keys' lengths tell an attacker how much of a guess was right.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export const MIN_API_KEY_LENGTH = 16;
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

/** "k1, k2,," -> ['k1', 'k2']. Keys must be printable ASCII without spaces or commas (they travel in headers). */
export function parseApiKeys(text: string): string[] {
  const keys = text.split(',').map((k) => k.trim()).filter((k) => k.length > 0);
  for (const [i, k] of keys.entries()) {
    if (!VISIBLE_ASCII.test(k)) throw new Error(`key #${i + 1} must be printable ASCII without spaces`);
    if (k.length < MIN_API_KEY_LENGTH) throw new Error(`key #${i + 1} is shorter than ${MIN_API_KEY_LENGTH} characters`);
  }
  return keys;
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

/** Digests of the configured keys, computed once at start. */
export function digestKeys(keys: string[]): Buffer[] {
  return keys.map(sha256);
}

/** True when any presented key equals any configured key. Every pair is compared, so timing does not say which. */
export function isAuthorised(presented: string[], keyDigests: Buffer[]): boolean {
  let ok = false;
  for (const p of presented) {
    const d = sha256(p);
    for (const k of keyDigests) ok = timingSafeEqual(d, k) || ok;
  }
  return ok;
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

function asList(v: HeaderValue): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}
