import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** 32 random bytes, URL-safe: pasted into postback URLs as is. */
export function newPartnerToken(): string {
  return randomBytes(32).toString('base64url');
}

export function tokenSha256(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * Compares a presented token with the stored hash in constant time. Hashing first makes both sides 32 bytes, so
 * neither the comparison nor a length check reveals how much of a guess was right.
 */
export function tokenMatches(presented: string, storedSha256: Buffer): boolean {
  // The token last seen to match this hash (every postback of a partner carries the same one): compared as bytes in
  // constant time instead of hashed again, which showed in the edge's profile. Held only as long as the hash it
  // matched (the cached partner row); a new hash (rotation, refreshed row) is checked by hashing again.
  const known = lastMatch.get(storedSha256);
  if (known) {
    const bytes = Buffer.from(presented, 'utf8');
    if (bytes.length === known.length && timingSafeEqual(bytes, known)) return true;
  }
  const presentedHash = tokenSha256(presented);
  const ok = storedSha256.length === presentedHash.length && timingSafeEqual(presentedHash, storedSha256);
  if (ok) lastMatch.set(storedSha256, Buffer.from(presented, 'utf8'));
  return ok;
}

const lastMatch = new WeakMap<Buffer, Buffer>();
