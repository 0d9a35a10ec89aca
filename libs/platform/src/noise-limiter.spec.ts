import { NoiseLimiter, noiseSourceKey } from './noise-limiter';

/** A clock the test moves by hand, in milliseconds. */
function fakeClock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('NoiseLimiter', () => {
  it('lets a source collect `burst` refusals, then limits it until tokens come back at `ratePerSecond`', () => {
    const clock = fakeClock();
    const limiter = new NoiseLimiter({ ratePerSecond: 2, burst: 3, now: clock.now });
    expect(limiter.isLimited('198.51.100.1')).toBe(false);
    for (let i = 0; i < 3; i++) {
      expect(limiter.isLimited('198.51.100.1')).toBe(false);
      limiter.take('198.51.100.1');
    }
    expect(limiter.isLimited('198.51.100.1')).toBe(true);
    expect(limiter.retryAfterSeconds('198.51.100.1')).toBe(1);
    // Other sources are untouched.
    expect(limiter.isLimited('198.51.100.2')).toBe(false);
    clock.advance(499);
    expect(limiter.isLimited('198.51.100.1')).toBe(true);
    clock.advance(1);
    expect(limiter.isLimited('198.51.100.1')).toBe(false);
    limiter.take('198.51.100.1');
    expect(limiter.isLimited('198.51.100.1')).toBe(true);
  });

  it('takes before the outcome is known and refunds requests that proved themselves', () => {
    const clock = fakeClock();
    const limiter = new NoiseLimiter({ ratePerSecond: 1, burst: 2, now: clock.now });
    // Two requests in flight at once hold both tokens: a third is refused whatever they turn out to be.
    expect(limiter.take('a')).toBe(true);
    expect(limiter.take('a')).toBe(true);
    expect(limiter.take('a')).toBe(false);
    // One was a valid partner: its token comes back.
    limiter.refund('a');
    expect(limiter.isLimited('a')).toBe(false);
    expect(limiter.take('a')).toBe(true);
    expect(limiter.take('a')).toBe(false);
    // Refunds never raise a bucket above burst, and a full bucket is forgotten.
    limiter.refund('a');
    limiter.refund('a');
    limiter.refund('a');
    expect(limiter.size).toBe(0);
    limiter.refund('never-seen');
    expect(limiter.size).toBe(0);
  });

  it('never holds more than `burst` tokens, however long a source was quiet', () => {
    const clock = fakeClock();
    const limiter = new NoiseLimiter({ ratePerSecond: 10, burst: 5, now: clock.now });
    limiter.take('a');
    clock.advance(3_600_000);
    for (let i = 0; i < 5; i++) limiter.take('a');
    expect(limiter.isLimited('a')).toBe(true);
  });

  it('gives Retry-After as whole seconds until the next token, at least 1', () => {
    const clock = fakeClock();
    const limiter = new NoiseLimiter({ ratePerSecond: 0.1, burst: 1, now: clock.now });
    limiter.take('a');
    expect(limiter.retryAfterSeconds('a')).toBe(10);
    clock.advance(4_500);
    expect(limiter.retryAfterSeconds('a')).toBe(6);
    expect(limiter.retryAfterSeconds('never-seen')).toBe(1);
  });

  it('is off with rate 0: never limits, remembers nothing', () => {
    const limiter = new NoiseLimiter({ ratePerSecond: 0, burst: 1, now: () => 0 });
    for (let i = 0; i < 100; i++) limiter.take('a');
    expect(limiter.isLimited('a')).toBe(false);
    expect(limiter.size).toBe(0);
    expect(limiter.enabled).toBe(false);
  });

  it('keeps at most maxSources buckets, forgetting the least recently charged first', () => {
    const clock = fakeClock();
    const limiter = new NoiseLimiter({ ratePerSecond: 1, burst: 1, maxSources: 3, now: clock.now });
    for (const s of ['a', 'b', 'c']) limiter.take(s);
    limiter.take('a'); // a is now the most recent
    limiter.take('d'); // evicts b
    expect(limiter.size).toBe(3);
    expect(limiter.isLimited('a')).toBe(true);
    expect(limiter.isLimited('b')).toBe(false);
    expect(limiter.isLimited('c')).toBe(true);
    expect(limiter.isLimited('d')).toBe(true);
    for (let i = 0; i < 10_000; i++) limiter.take(`10.0.${i >> 8}.${i & 255}`);
    expect(limiter.size).toBe(3);
  });

  it('forgets a source whose bucket has refilled (quiet sources cost no memory)', () => {
    const clock = fakeClock();
    const limiter = new NoiseLimiter({ ratePerSecond: 1, burst: 2, now: clock.now });
    limiter.take('a');
    expect(limiter.size).toBe(1);
    clock.advance(1000);
    expect(limiter.isLimited('a')).toBe(false);
    expect(limiter.size).toBe(0);
  });

  it('does not refill when the clock goes backwards', () => {
    const clock = fakeClock();
    const limiter = new NoiseLimiter({ ratePerSecond: 1, burst: 1, now: clock.now });
    limiter.take('a');
    clock.advance(-60_000);
    expect(limiter.isLimited('a')).toBe(true);
    clock.advance(60_999);
    expect(limiter.isLimited('a')).toBe(true);
    clock.advance(1);
    expect(limiter.isLimited('a')).toBe(false);
  });

  it.each([
    [{ ratePerSecond: -1, burst: 1 }],
    [{ ratePerSecond: Number.NaN, burst: 1 }],
    [{ ratePerSecond: Number.POSITIVE_INFINITY, burst: 1 }],
    [{ ratePerSecond: 1, burst: 0 }],
    [{ ratePerSecond: 1, burst: 1.5 }],
    [{ ratePerSecond: 1, burst: 1, maxSources: 0 }],
  ])('refuses nonsense settings %p', (opts) => {
    expect(() => new NoiseLimiter({ ...opts, now: () => 0 })).toThrow(RangeError);
  });
});

describe('noiseSourceKey', () => {
  it.each([
    ['198.51.100.7', '198.51.100.7'],
    ['::ffff:198.51.100.7', '198.51.100.7'],
    ['::FFFF:198.51.100.7', '198.51.100.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::9', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:ffff::1', '2001:db8:1:2::/64'],
    ['[2001:db8:1:2::9]', '2001:db8:1:2::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['2001:db8::', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['', ''],
    ['not an address', 'not an address'],
  ])('%p -> %p', (address, key) => {
    expect(noiseSourceKey(address)).toBe(key);
  });

  it('puts every address of one IPv6 /64 in one bucket', () => {
    const limiter = new NoiseLimiter({ ratePerSecond: 1, burst: 2, now: () => 0 });
    limiter.take('2001:db8:aa:bb::1');
    limiter.take('2001:db8:aa:bb:ffff:ffff:ffff:ffff');
    expect(limiter.isLimited('2001:db8:aa:bb::1234')).toBe(true);
    expect(limiter.isLimited('2001:db8:aa:bc::1')).toBe(false);
  });
});
