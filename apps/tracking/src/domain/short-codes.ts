/** Short codes and click ids: random, unguessable, never sequential. */
import { randomBytes } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export type RandomSource = (bytes: number) => Uint8Array;

/**
 * Bytes from the CSPRNG, drawn 8 KiB at a time: one click id per request made randomBytes() the click edge's
 * largest single cost after I/O (a call into OpenSSL for 44 bytes). Each byte is handed out once.
 */
const POOL_SIZE = 8192;
let pool = Buffer.alloc(0);
let offset = 0;
export const cryptoRandom: RandomSource = (n) => {
  if (n > POOL_SIZE) return randomBytes(n);
  if (offset + n > pool.length) {
    pool = randomBytes(POOL_SIZE);
    offset = 0;
  }
  const out = pool.subarray(offset, offset + n);
  offset += n;
  return out;
};

/** 12 base62 characters (~71 bits): short enough for SMS, far too many to enumerate. */
export function newShortCode(random: RandomSource = cryptoRandom, length = 12): string {
  let out = '';
  while (out.length < length) {
    for (const b of random(length * 2)) {
      // Rejection sampling keeps every character equally likely (248 = 62 * 4).
      if (b < 248 && out.length < length) out += BASE62[b % 62];
    }
  }
  return out;
}

/** 22 base62 characters (~131 bits): letters and digits only, safe in any partner's sub-id parameter. */
export function newClickId(random: RandomSource = cryptoRandom): string {
  return newShortCode(random, 22);
}

export const SHORT_CODE_PATTERN = /^[0-9A-Za-z]{6,32}$/;
