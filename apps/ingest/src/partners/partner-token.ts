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
  const presentedHash = tokenSha256(presented);
  return storedSha256.length === presentedHash.length && timingSafeEqual(presentedHash, storedSha256);
}
