/**
 * Per-endpoint rate limit: a token bucket refilled at `ratePerSecond`, holding at most one second's worth, so a
 * receiver sees at most its rate on average and at most one second's burst.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private ratePerSecond: number, nowMs: number) {
    this.tokens = Math.max(1, ratePerSecond);
    this.last = nowMs;
  }

  get rate(): number {
    return this.ratePerSecond;
  }

  setRate(ratePerSecond: number): void {
    this.ratePerSecond = ratePerSecond;
  }

  /** Takes a token and returns 0, or returns how many ms until one is available (taking nothing). */
  take(nowMs: number): number {
    const cap = Math.max(1, this.ratePerSecond);
    this.tokens = Math.min(cap, this.tokens + ((nowMs - this.last) / 1000) * this.ratePerSecond);
    this.last = nowMs;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000);
  }
}
