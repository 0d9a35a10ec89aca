import { ManualClock } from '@trackly/kernel';
import { TEST_CREDENTIAL_PREFIX, TestCredentials } from './test-credentials';

describe('TestCredentials', () => {
  const clock = new ManualClock(new Date('2026-11-02T10:00:00Z'));
  const creds = new TestCredentials(clock);

  it('is valid once, for its partner only', () => {
    const c = creds.issue('acme');
    expect(c.startsWith(TEST_CREDENTIAL_PREFIX)).toBe(true);
    expect(creds.consume('acme', c)).toBe(true);
    expect(creds.consume('acme', c)).toBe(false);
    const other = creds.issue('acme');
    expect(creds.consume('beta', other)).toBe(false);
    expect(creds.consume('acme', other)).toBe(false);
  });

  it('expires after 30 s', () => {
    const c = creds.issue('acme');
    clock.advance(30_001);
    expect(creds.consume('acme', c)).toBe(false);
  });
});
