import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, nextPageToken, readPageRequest } from './catalog-paging';

describe('catalog paging', () => {
  it('defaults the page size and bounds it', () => {
    expect(readPageRequest('offers', 0, '')).toEqual({ limit: DEFAULT_PAGE_SIZE });
    expect(readPageRequest('offers', MAX_PAGE_SIZE, '')).toEqual({ limit: MAX_PAGE_SIZE });
    expect(() => readPageRequest('offers', MAX_PAGE_SIZE + 1, '')).toThrow(/page_size/);
    expect(() => readPageRequest('offers', 1.5, '')).toThrow(/page_size/);
  });

  it('round-trips the last id through the token, ids with ":" and "." included', () => {
    const token = nextPageToken('campaigns', 'spring:2026.v2', true);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(readPageRequest('campaigns', 10, token)).toEqual({ limit: 10, after: 'spring:2026.v2' });
  });

  it('gives no token after the last page', () => {
    expect(nextPageToken('offers', 'x', false)).toBe('');
    expect(nextPageToken('offers', undefined, true)).toBe('');
  });

  it.each([
    ['another list’s token', nextPageToken('offers', 'a', true)],
    ['not base64 JSON', 'not-a-token'],
    ['JSON without the fields', Buffer.from('{}').toString('base64url')],
    ['an id that is no id', Buffer.from(JSON.stringify({ l: 'creatives', a: 'bad id' })).toString('base64url')],
  ])('refuses %s with INVALID_ARGUMENT on page_token', (_what, token) => {
    expect(() => readPageRequest('creatives', 0, token)).toThrow(expect.objectContaining({ kind: 'INVALID_ARGUMENT', fields: { page_token: expect.stringMatching(/ListCreatives/) } }));
  });
});
