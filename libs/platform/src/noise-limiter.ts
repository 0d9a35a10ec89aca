/**
 * Per-source token buckets for unauthenticated noise on the internet-facing edges (bad tokens, unknown partners,
 * unknown short codes). An edge takes a token before handling a request and refunds it when the request proved
 * itself, so only refused requests spend the allowance; once it is spent the edge answers 429 before doing any work,
 * except to callers that prove themselves (a valid token, a known code) whatever their address did. Pure: the time
 * comes in through `now`.
 */

export interface NoiseLimiterOptions {
  /** Tokens added back per second; 0 turns the limiter off. */
  ratePerSecond: number;
  /** Refusals a quiet source may collect at once before it is limited. */
  burst: number;
  /** Sources remembered at most; the least recently seen is forgotten first (memory stays bounded under spoofing). */
  maxSources?: number;
  /** Milliseconds on a clock that never goes back (Date.now, or a test's clock). */
  now: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export const DEFAULT_NOISE_MAX_SOURCES = 100_000;

export class NoiseLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly rate: number;
  private readonly burst: number;
  private readonly maxSources: number;

  constructor(private readonly opts: NoiseLimiterOptions) {
    if (!(opts.ratePerSecond >= 0) || !Number.isFinite(opts.ratePerSecond)) throw new RangeError('ratePerSecond must be a finite number >= 0');
    if (!Number.isInteger(opts.burst) || opts.burst < 1) throw new RangeError('burst must be an integer >= 1');
    this.rate = opts.ratePerSecond;
    this.burst = opts.burst;
    this.maxSources = opts.maxSources ?? DEFAULT_NOISE_MAX_SOURCES;
    if (!Number.isInteger(this.maxSources) || this.maxSources < 1) throw new RangeError('maxSources must be an integer >= 1');
  }

  get enabled(): boolean {
    return this.rate > 0;
  }

  /** Sources currently remembered (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  /** True when the source has no refusal left: its next unauthenticated request should get 429. */
  isLimited(source: string): boolean {
    if (!this.enabled) return false;
    const bucket = this.refilled(source);
    return bucket !== undefined && bucket.tokens < 1;
  }

  /**
   * Takes one token for a request about to be handled, or answers false when the source has none left. Taken before
   * the outcome is known, so concurrent requests cannot all slip through on the same token; `refund` gives it back
   * once the request proved itself (a valid token, a known code).
   */
  take(source: string): boolean {
    if (!this.enabled) return true;
    const key = noiseSourceKey(source);
    const bucket = this.refilled(source) ?? { tokens: this.burst, at: this.opts.now() };
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    // Re-inserted either way, so the Map's order is least recently seen first: a source still knocking while limited
    // is the last one to be forgotten.
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    while (this.buckets.size > this.maxSources) this.buckets.delete(this.buckets.keys().next().value as string);
    return allowed;
  }

  /** Gives back a token taken for a request that turned out not to be noise. */
  refund(source: string): void {
    if (!this.enabled) return;
    const bucket = this.refilled(source);
    if (!bucket) return;
    bucket.tokens = Math.min(this.burst, bucket.tokens + 1);
    if (bucket.tokens >= this.burst) this.buckets.delete(noiseSourceKey(source));
  }

  /** Whole seconds until the source has a refusal to spend again (at least 1): the Retry-After of a 429. */
  retryAfterSeconds(source: string): number {
    if (!this.enabled) return 1;
    const tokens = this.refilled(source)?.tokens ?? this.burst;
    return Math.max(1, Math.ceil((1 - tokens) / this.rate));
  }

  private refilled(source: string): Bucket | undefined {
    const key = noiseSourceKey(source);
    const bucket = this.buckets.get(key);
    if (!bucket) return undefined;
    const now = this.opts.now();
    const elapsed = Math.max(0, now - bucket.at);
    bucket.tokens = Math.min(this.burst, bucket.tokens + (elapsed / 1000) * this.rate);
    bucket.at = Math.max(bucket.at, now);
    if (bucket.tokens >= this.burst) {
      // A full bucket is the same as none: forget it, so quiet sources cost no memory.
      this.buckets.delete(key);
      return undefined;
    }
    return bucket;
  }
}

/**
 * The bucket a client address falls in. IPv6 clients get a whole /64 each from their provider and can rotate
 * through it, so they are limited per /64; IPv4 (also written IPv4-mapped, "::ffff:192.0.2.1") per address.
 * Anything unreadable is its own key.
 */
export function noiseSourceKey(address: string): string {
  let a = address.trim().toLowerCase();
  if (a.startsWith('[') && a.includes(']')) a = a.slice(1, a.indexOf(']'));
  const zone = a.indexOf('%');
  if (zone >= 0) a = a.slice(0, zone);
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(a);
  if (mapped) return mapped[1];
  if (!a.includes(':') || !/^[0-9a-f:.]+$/.test(a)) return a;
  const halves = a.split('::');
  if (halves.length > 2) return a;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const groups = halves.length === 2 ? [...head, ...Array<string>(Math.max(0, 8 - head.length - tail.length)).fill('0'), ...tail] : head;
  if (groups.length < 4 || groups.some((g) => !/^[0-9a-f]{1,4}$/.test(g) && !g.includes('.'))) return a;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
