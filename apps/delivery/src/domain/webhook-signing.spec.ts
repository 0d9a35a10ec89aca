import { generateSecret, messageIdFor, secretKey, sign, verify, webhookHeaders } from './webhook-signing';
import { createHash } from 'node:crypto';

// The Standard Webhooks specification's test vector (also in every reference library's tests).
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

describe('Standard Webhooks signing', () => {
  it('matches the specification test vector', () => {
    expect(sign(VECTOR.secret, VECTOR.id, VECTOR.timestamp, VECTOR.body)).toBe(VECTOR.signature);
  });

  it('verifies the test vector, and refuses a changed body, id, timestamp or stale timestamp', () => {
    const h = { id: VECTOR.id, timestamp: String(VECTOR.timestamp), signature: VECTOR.signature };
    expect(verify(VECTOR.secret, h, VECTOR.body, VECTOR.timestamp + 10)).toEqual({ ok: true });
    expect(verify(VECTOR.secret, h, '{"test": 2432232315}', VECTOR.timestamp)).toEqual({ ok: false, reason: 'no matching signature' });
    expect(verify(VECTOR.secret, { ...h, id: 'msg_other' }, VECTOR.body, VECTOR.timestamp).ok).toBe(false);
    expect(verify(VECTOR.secret, h, VECTOR.body, VECTOR.timestamp + 301)).toEqual({ ok: false, reason: 'timestamp outside tolerance' });
    expect(verify(VECTOR.secret, { ...h, signature: undefined }, VECTOR.body, VECTOR.timestamp).ok).toBe(false);
  });

  it('signs with every live secret during a rotation overlap; a receiver holding either verifies', () => {
    const old = generateSecret();
    const next = generateSecret();
    const h = webhookHeaders([next, old], 'msg_1', 1_700_000_000, '{}');
    expect(h['webhook-signature'].split(' ')).toHaveLength(2);
    for (const s of [old, next]) {
      expect(verify(s, { id: h['webhook-id'], timestamp: h['webhook-timestamp'], signature: h['webhook-signature'] }, '{}', 1_700_000_000).ok).toBe(true);
    }
    expect(verify(generateSecret(), { id: 'msg_1', timestamp: '1700000000', signature: h['webhook-signature'] }, '{}', 1_700_000_000).ok).toBe(false);
  });

  it('makes whsec_ secrets of 24 random bytes, and refuses malformed ones', () => {
    const s = generateSecret();
    expect(s).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(secretKey(s)).toHaveLength(24);
    expect(generateSecret()).not.toBe(s);
    expect(() => secretKey('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')).toThrow(/whsec_/);
    expect(() => secretKey('whsec_AAAA')).toThrow(/16 to 64/);
  });

  it('derives one stable webhook-id per event and endpoint', () => {
    const h = (s: string) => createHash('sha256').update(s).digest('hex');
    expect(messageIdFor('ev-1', 'ep-a', h)).toBe(messageIdFor('ev-1', 'ep-a', h));
    expect(messageIdFor('ev-1', 'ep-a', h)).not.toBe(messageIdFor('ev-1', 'ep-b', h));
    expect(messageIdFor('ev-1', 'ep-a', h)).not.toBe(messageIdFor('ev-2', 'ep-a', h));
    expect(messageIdFor('ev-1', 'ep-a', h)).toMatch(/^msg_[0-9a-f]{32}$/);
  });
});
