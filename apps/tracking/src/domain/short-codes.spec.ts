import { cryptoRandom, newClickId, newShortCode, RandomSource, SHORT_CODE_PATTERN } from './short-codes';

// Written out here rather than imported, so the test checks the alphabet instead of restating it.
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A deterministic byte source (mulberry32): the same seed gives the same bytes on every run. */
function seeded(seed: number): RandomSource & { requested: number[] } {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) & 0xff;
  };
  const requested: number[] = [];
  const source = (n: number) => {
    requested.push(n);
    return Uint8Array.from({ length: n }, next);
  };
  return Object.assign(source, { requested });
}

/** Hands out the given bytes in order, then fails: the test controls exactly what the generator sees. */
function scripted(bytes: number[]): RandomSource & { requested: number[] } {
  let i = 0;
  const requested: number[] = [];
  const source = (n: number) => {
    requested.push(n);
    if (i >= bytes.length) throw new Error('random source exhausted');
    const out = Uint8Array.from(bytes.slice(i, i + n));
    i += n;
    return out;
  };
  return Object.assign(source, { requested });
}

/** Pearson's chi-square statistic of the character counts against a uniform distribution over the alphabet. */
function chiSquare(text: string): number {
  const counts = new Map<string, number>([...ALPHABET].map((c) => [c, 0]));
  for (const c of text) counts.set(c, (counts.get(c) ?? 0) + 1);
  const expected = text.length / ALPHABET.length;
  return [...counts.values()].reduce((sum, n) => sum + (n - expected) ** 2 / expected, 0);
}

// Critical value of chi-square with 61 degrees of freedom at p = 0.001.
const CHI2_61_P001 = 100.89;

describe('newShortCode', () => {
  it('makes 12 base62 characters by default, and any length asked for', () => {
    const code = newShortCode();
    expect(code).toMatch(/^[0-9A-Za-z]{12}$/);
    expect(SHORT_CODE_PATTERN.test(code)).toBe(true);
    for (const n of [1, 6, 32, 100]) expect(newShortCode(cryptoRandom, n)).toMatch(new RegExp(`^[0-9A-Za-z]{${n}}$`));
  });

  it('draws crypto bytes from a pool without ever handing the same bytes out twice', () => {
    // 2,000 draws of 44 bytes cross the 8 KiB pool's refill several times; any reuse would repeat a 44-byte run.
    const draws = Array.from({ length: 2000 }, () => Buffer.from(cryptoRandom(44)).toString('hex'));
    expect(new Set(draws).size).toBe(2000);
    expect(cryptoRandom(10_000)).toHaveLength(10_000); // larger than the pool: drawn directly
    const ids = Array.from({ length: 10_000 }, () => newClickId());
    expect(new Set(ids).size).toBe(10_000);
  });

  it('maps byte b to alphabet[b % 62] and skips bytes from 248 up (rejection sampling)', () => {
    const bytes = [0, 9, 10, 35, 36, 61, 62, 123, 247, 248, 249, 255, 1, 200];
    const src = scripted([...bytes, ...new Array(100).fill(0)]);
    const expected = bytes.filter((b) => b < 248).map((b) => ALPHABET[b % 62]).join('');
    expect(newShortCode(src, expected.length)).toBe(expected);
    expect(expected).toBe('09AZaz0zz1E');
  });

  it('keeps drawing until enough bytes survive the rejection', () => {
    // Two whole rounds of rejected bytes, then usable ones.
    const src = scripted([...new Array(48).fill(255), ...new Array(24).fill(250), 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, ...new Array(12).fill(0)]);
    expect(newShortCode(src)).toBe('56789ABCDEFG');
    expect(src.requested).toEqual([24, 24, 24, 24]);
  });

  it('gives every character exactly the same chance: each byte value 0..255 once yields each character 4 times', () => {
    const cycle = Array.from({ length: 512 }, (_, i) => i % 256);
    const code = newShortCode(scripted(cycle), 248);
    const counts = new Map<string, number>();
    for (const c of code) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(62);
    expect(new Set(counts.values())).toEqual(new Set([4]));
  });

  it('is uniform-ish over 10,000 draws from a deterministic source (chi-square, p = 0.001)', () => {
    const src = seeded(20261102);
    const codes = Array.from({ length: 10_000 }, () => newShortCode(src));
    expect(new Set(codes).size).toBe(10_000);
    const chi = chiSquare(codes.join(''));
    expect(chi).toBeLessThan(CHI2_61_P001);
    // And the same statistic flags a generator without the rejection step (bytes 248..255 would favour 0..7).
    const biased = Array.from({ length: 10_000 }, () => Array.from(src(12), (b) => ALPHABET[b % 62]).join(''));
    expect(chiSquare(biased.join(''))).toBeGreaterThan(CHI2_61_P001);
  });

  it('never repeats over 10,000 draws from the crypto source, and every position varies', () => {
    const codes = Array.from({ length: 10_000 }, () => newShortCode());
    expect(new Set(codes).size).toBe(10_000);
    for (let pos = 0; pos < 12; pos++) expect(new Set(codes.map((c) => c[pos])).size).toBe(62);
    expect(codes.every((c) => SHORT_CODE_PATTERN.test(c))).toBe(true);
  });

  it('is deterministic for a deterministic source (so tests can pin codes)', () => {
    expect(newShortCode(seeded(7))).toBe(newShortCode(seeded(7)));
    expect(newShortCode(seeded(7))).not.toBe(newShortCode(seeded(8)));
  });
});

describe('newClickId', () => {
  it('makes 22 base62 characters (about 131 bits), unique over 10,000 draws', () => {
    const ids = Array.from({ length: 10_000 }, () => newClickId());
    expect(ids.every((id) => /^[0-9A-Za-z]{22}$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(10_000);
    expect(22 * Math.log2(62)).toBeGreaterThan(130);
  });

  it('draws from the source it is given', () => {
    const src = seeded(99);
    const id = newClickId(src);
    expect(id).toHaveLength(22);
    expect(src.requested[0]).toBe(44);
    expect(chiSquare(Array.from({ length: 5000 }, () => newClickId(src)).join(''))).toBeLessThan(CHI2_61_P001);
  });
});

describe('SHORT_CODE_PATTERN', () => {
  it.each(['abcdef', 'A1b2C3d4E5f6', '0'.repeat(32)])('accepts %p', (code) => {
    expect(SHORT_CODE_PATTERN.test(code)).toBe(true);
  });

  it.each(['', 'abcde', '0'.repeat(33), 'abc-def', 'abc_def', 'abc def', 'abcdef/', '%2F%2Fevil', '..%2Fadmin', 'abcdéf', 'abcdef\n'])(
    'rejects %p',
    (code) => {
      expect(SHORT_CODE_PATTERN.test(code)).toBe(false);
    },
  );
});

describe('unguessability of the crypto source (what production uses)', () => {
  // Upper critical value of chi-square with 61 degrees of freedom at p = 1e-6 (Wilson-Hilferty): a real CSPRNG
  // fails it once in a million runs, a biased or structured generator every time.
  const CHI2_61_P1E6 = 129;
  const value = (code: string) => [...code].reduce((n, c) => n * 62n + BigInt(ALPHABET.indexOf(c)), 0n);
  function sequenceStats(codes: string[]) {
    let sameFirst = 0;
    let sameTwo = 0;
    const gaps = new Set<bigint>();
    for (let i = 1; i < codes.length; i++) {
      if (codes[i][0] === codes[i - 1][0]) sameFirst++;
      if (codes[i].slice(0, 2) === codes[i - 1].slice(0, 2)) sameTwo++;
      gaps.add(value(codes[i]) - value(codes[i - 1]));
    }
    return { sameFirst, sameTwo, gaps: gaps.size };
  }

  it('draws from crypto.randomBytes by default (8 KiB at a time)', () => {
    const crypto = require('node:crypto') as typeof import('node:crypto');
    const spy = jest.spyOn(crypto, 'randomBytes');
    try {
      // 400 click ids use ~17.6 KB of randomness: at least two refills of the pool.
      for (let i = 0; i < 400; i++) newClickId();
      newShortCode();
      expect(spy.mock.calls.length).toBeGreaterThanOrEqual(2);
      expect(spy.mock.calls.every(([n]) => n === 8192)).toBe(true);
    } finally {
      spy.mockRestore();
    }
  });

  it.each([
    ['short codes', () => newShortCode(), 12],
    ['click ids', () => newClickId(), 22],
  ])('%s: 10,000 all unique, uniform overall and in every position, no relation between consecutive ones', (_what, make, length) => {
    const codes = Array.from({ length: 10_000 }, make);
    expect(new Set(codes).size).toBe(10_000);
    expect(chiSquare(codes.join(''))).toBeLessThan(CHI2_61_P1E6);
    for (let pos = 0; pos < length; pos++) expect(chiSquare(codes.map((c) => c[pos]).join(''))).toBeLessThan(CHI2_61_P1E6);

    // Consecutive codes: sharing a first character happens 1 time in 62 (161 of 9,999; 6 standard deviations is
    // about 76), sharing two 1 in 3,844 (2.6 expected); a counter or a time-based generator would share far more.
    const stats = sequenceStats(codes);
    expect(Math.abs(stats.sameFirst - 9_999 / 62)).toBeLessThan(76);
    expect(stats.sameTwo).toBeLessThan(20);
    // No fixed step between one code and the next.
    expect(stats.gaps).toBe(9_999);
    // The same checks catch a sequential generator (base62 of a counter started at a random-looking offset).
    const base62 = (n: bigint) => Array.from({ length }, (_, i) => ALPHABET[Number((n / 62n ** BigInt(length - 1 - i)) % 62n)]).join('');
    const counter = sequenceStats(Array.from({ length: 10_000 }, (_, i) => base62(987_654_321_987n + BigInt(i))));
    expect(counter.sameTwo).toBeGreaterThan(9_000);
    expect(counter.gaps).toBe(1);
  });
});
