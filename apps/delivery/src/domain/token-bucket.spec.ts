import { TokenBucket } from './token-bucket';

describe('per-endpoint token bucket', () => {
  it('allows a one-second burst, then the rate', () => {
    const b = new TokenBucket(5, 0);
    expect([0, 0, 0, 0, 0].map(() => b.take(0))).toEqual([0, 0, 0, 0, 0]);
    expect(b.take(0)).toBe(200);
    expect(b.take(100)).toBe(100);
    expect(b.take(200)).toBe(0);
    expect(b.take(200)).toBe(200);
  });

  it('never stores more than one second of tokens', () => {
    const b = new TokenBucket(2, 0);
    expect(b.take(60_000)).toBe(0);
    expect(b.take(60_000)).toBe(0);
    expect(b.take(60_000)).toBe(500);
  });
});
