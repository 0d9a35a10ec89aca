/**
 * Retry schedule: exponential backoff with jitter ("equal jitter": half the step fixed, half random, so retries of
 * many deliveries spread out but never come back sooner than half the step), capped per step, until the retry
 * horizon (3 days by default) since the delivery was queued (or queued again by a redeliver) has passed.
 */
export interface BackoffPolicy {
  /** First retry's step, in ms. */
  baseMs: number;
  /** Largest step, in ms. */
  maxStepMs: number;
  /** No attempt is scheduled later than this after the delivery was queued, in ms. */
  horizonMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 5_000, maxStepMs: 6 * 3_600_000, horizonMs: 3 * 86_400_000 };

/** Step after the n-th failed attempt (n ≥ 1), before jitter. */
export function backoffStep(policy: BackoffPolicy, failedAttempts: number): number {
  const exp = Math.min(failedAttempts - 1, 40);
  return Math.min(policy.maxStepMs, policy.baseMs * 2 ** exp);
}

/**
 * When to try again after the n-th failed attempt, or undefined when the horizon is passed (the delivery fails).
 * `random` is in [0, 1).
 */
export function nextAttemptAt(policy: BackoffPolicy, failedAttempts: number, queuedAt: Date, now: Date, random: number): Date | undefined {
  const step = backoffStep(policy, failedAttempts);
  const delay = step / 2 + (step / 2) * random;
  const at = now.getTime() + delay;
  const deadline = queuedAt.getTime() + policy.horizonMs;
  if (now.getTime() >= deadline) return undefined;
  // The last try happens at the horizon rather than being skipped because a step would overshoot it.
  return new Date(Math.min(at, deadline));
}

/** Whether an HTTP answer means the receiver took the event. Any 2xx does; everything else is retried. */
export function isSuccess(statusCode: number): boolean {
  return statusCode >= 200 && statusCode < 300;
}
