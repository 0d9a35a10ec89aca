import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): the secret is `whsec_` + base64 of the key bytes;
 * the signature is `v1,` + base64(HMAC-SHA256(key, `${id}.${timestamp}.${body}`)); several signatures (one per
 * secret that is live, e.g. during a rotation's overlap) are separated by spaces in one `webhook-signature` header.
 */
export const SECRET_PREFIX = 'whsec_';

/** A new secret of 24 random bytes (192 bits, as the spec's reference libraries make). */
export function generateSecret(random: (n: number) => Buffer = randomBytes): string {
  return SECRET_PREFIX + random(24).toString('base64');
}

export function secretKey(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) throw new Error('a webhook secret starts with whsec_');
  const key = Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
  if (key.length < 16 || key.length > 64) throw new Error('a webhook secret holds 16 to 64 key bytes');
  return key;
}

/** One `v1,<base64>` signature of a message. */
export function sign(secret: string, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', secretKey(secret)).update(`${id}.${timestampSeconds}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/** The three Standard Webhooks headers, signed with every live secret (current first). */
export function webhookHeaders(secrets: readonly string[], id: string, timestampSeconds: number, body: string): Record<string, string> {
  if (!secrets.length) throw new Error('no secret to sign with');
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': secrets.map((s) => sign(s, id, timestampSeconds, body)).join(' '),
  };
}

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/**
 * What a receiver does (used by our tests' receiver and handy for partners): a signature of any listed secret
 * matches, and the timestamp is within the tolerance (5 minutes in the spec) of now.
 */
export function verify(
  secret: string,
  headers: { id?: string; timestamp?: string; signature?: string },
  body: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): VerifyResult {
  const { id, timestamp, signature } = headers;
  if (!id || !timestamp || !signature) return { ok: false, reason: 'missing webhook headers' };
  const ts = Number(timestamp);
  if (!/^\d+$/.test(timestamp) || Math.abs(nowSeconds - ts) > toleranceSeconds) return { ok: false, reason: 'timestamp outside tolerance' };
  const expected = Buffer.from(sign(secret, id, ts, body).slice(3), 'base64');
  for (const part of signature.split(' ')) {
    const [version, mac] = part.split(',', 2);
    if (version !== 'v1' || !mac) continue;
    const got = Buffer.from(mac, 'base64');
    if (got.length === expected.length && timingSafeEqual(got, expected)) return { ok: true };
  }
  return { ok: false, reason: 'no matching signature' };
}

/**
 * The webhook-id of an event sent to an endpoint: derived from both, so fanning the same event out again (a
 * redelivered NATS message, a re-run) names the same message and the receiver can dedupe on it.
 */
export function messageIdFor(eventKey: string, endpointId: string, hash: (s: string) => string): string {
  return `msg_${hash(`${eventKey}\u0000${endpointId}`).slice(0, 32)}`;
}
