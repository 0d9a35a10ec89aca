import { newPartnerToken, tokenMatches, tokenSha256 } from './partner-token';

describe('partner tokens', () => {
  it('are long, URL-safe and different every time', () => {
    const tokens = new Set(Array.from({ length: 50 }, newPartnerToken));
    expect(tokens.size).toBe(50);
    for (const t of tokens) expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('match their own hash only', () => {
    const token = newPartnerToken();
    const stored = tokenSha256(token);
    expect(stored).toHaveLength(32);
    expect(tokenMatches(token, stored)).toBe(true);
    expect(tokenMatches(`${token}x`, stored)).toBe(false);
    expect(tokenMatches(token.slice(1), stored)).toBe(false);
    expect(tokenMatches('', stored)).toBe(false);
    expect(tokenMatches(token, Buffer.alloc(16))).toBe(false);
  });

  it('remember the last match without accepting a token of the same length that differs', () => {
    const token = newPartnerToken();
    const stored = tokenSha256(token);
    expect(tokenMatches(token, stored)).toBe(true);
    const other = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    expect(tokenMatches(other, stored)).toBe(false);
    expect(tokenMatches(token, stored)).toBe(true);
    // Another partner's hash is not matched by the token remembered for this one.
    expect(tokenMatches(token, tokenSha256(newPartnerToken()))).toBe(false);
  });
});
