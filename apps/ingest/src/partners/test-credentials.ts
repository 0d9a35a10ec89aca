import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, Clock } from '@trackly/kernel';

/** Every one-time test credential starts so; a partner token never does (partner-token.ts). */
export const TEST_CREDENTIAL_PREFIX = 'test_';
const TTL_MS = 30_000;
const MAX_LIVE = 1_000;

/**
 * One-time credentials for SendTestPostback: only a hash of the partner's token is stored, and the person sending a
 * test must not need the secret, so ingest authenticates its own test postback with a random credential valid once,
 * for one partner, for 30 s, in this process (the test is sent to this process's own listening address).
 */
@Injectable()
export class TestCredentials {
  private readonly live = new Map<string, { partnerId: string; expiresAt: number }>();

  constructor(@Inject(CLOCK) private readonly clock: Clock) {}

  issue(partnerId: string): string {
    const now = this.clock.now().getTime();
    for (const [k, v] of this.live) if (v.expiresAt <= now || this.live.size >= MAX_LIVE) this.live.delete(k);
    const credential = `${TEST_CREDENTIAL_PREFIX}${randomBytes(24).toString('base64url')}`;
    this.live.set(credential, { partnerId, expiresAt: now + TTL_MS });
    return credential;
  }

  /** True once for a live credential issued for this partner; it is spent either way. */
  consume(partnerId: string, credential: string): boolean {
    const entry = this.live.get(credential);
    if (!entry) return false;
    this.live.delete(credential);
    return entry.partnerId === partnerId && entry.expiresAt > this.clock.now().getTime();
  }
}
