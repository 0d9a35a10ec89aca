import { DomainError } from '@trackly/kernel';
import { encodePartnerPageToken, validatePartnerPage } from './partner-listing';

describe('validatePartnerPage', () => {
  it('defaults to 100 from the start, and resumes after the id in the token', () => {
    expect(validatePartnerPage(undefined, undefined, 'ALL')).toEqual({ pageSize: 100, after: null });
    expect(validatePartnerPage(2, encodePartnerPageToken('acme', 'TUNE'), 'TUNE')).toEqual({ pageSize: 2, after: 'acme' });
  });

  it.each([
    ['a page size over 500', 501, undefined, 'page_size'],
    ['a token of another kind filter', 2, encodePartnerPageToken('acme', 'TUNE'), 'page_token'],
    ['a token that is not ours', 2, 'bm90LWEtdG9rZW4', 'page_token'],
    ['a token with an id that is no partner id', 2, Buffer.from(JSON.stringify({ a: '../x', f: 'ALL' })).toString('base64url'), 'page_token'],
    ['junk', 2, 'a b', 'page_token'],
  ])('refuses %s', (_name, size, token, field) => {
    let err: unknown;
    try {
      validatePartnerPage(size, token, 'ALL');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).fields).toHaveProperty(field);
  });
});
