import { digestKeys, isAuthorised, parseApiKeys, presentedKeys } from './api-keys';

const K1 = 'k1-0123456789abcdef';
const K2 = 'k2-fedcba9876543210';

describe('parseApiKeys', () => {
  it('splits on commas, trims and drops blanks', () => {
    expect(parseApiKeys('')).toEqual([]);
    expect(parseApiKeys(' , ')).toEqual([]);
    expect(parseApiKeys(` ${K1} ,,${K2},`)).toEqual([K1, K2]);
  });

  it('rejects short keys and keys with spaces or non-ASCII characters', () => {
    expect(() => parseApiKeys('short')).toThrow(/key #1 is shorter than 16/);
    expect(() => parseApiKeys(`${K1},abc def 0123456789`)).toThrow(/key #2 must be printable ASCII/);
    expect(() => parseApiKeys('clé-0123456789abcdef')).toThrow(/printable ASCII/);
  });
});

describe('presentedKeys', () => {
  it('reads a Bearer token (any case of the scheme) and X-API-Key', () => {
    expect(presentedKeys({ authorization: `Bearer ${K1}` })).toEqual([K1]);
    expect(presentedKeys({ authorization: `bearer  ${K1} ` })).toEqual([K1]);
    expect(presentedKeys({ 'x-api-key': ` ${K2} ` })).toEqual([K2]);
    expect(presentedKeys({ authorization: `Bearer ${K1}`, 'x-api-key': K2 })).toEqual([K1, K2]);
  });

  it('ignores other schemes, empty values and malformed bearer headers', () => {
    expect(presentedKeys({})).toEqual([]);
    expect(presentedKeys({ authorization: `Basic ${Buffer.from('a:b').toString('base64')}` })).toEqual([]);
    expect(presentedKeys({ authorization: 'Bearer' })).toEqual([]);
    expect(presentedKeys({ authorization: `Bearer ${K1} extra` })).toEqual([]);
    expect(presentedKeys({ 'x-api-key': '  ' })).toEqual([]);
  });

  it('takes repeated headers into account', () => {
    expect(presentedKeys({ 'x-api-key': ['a', K2] })).toEqual(['a', K2]);
  });
});

describe('isAuthorised', () => {
  const digests = digestKeys([K1, K2]);

  it('accepts any configured key', () => {
    expect(isAuthorised([K1], digests)).toBe(true);
    expect(isAuthorised([K2], digests)).toBe(true);
    expect(isAuthorised(['wrong', K2], digests)).toBe(true);
  });

  it('rejects no key, a wrong key, a prefix or an extension of a key, and case changes', () => {
    expect(isAuthorised([], digests)).toBe(false);
    expect(isAuthorised(['nope'], digests)).toBe(false);
    expect(isAuthorised([K1.slice(0, -1)], digests)).toBe(false);
    expect(isAuthorised([`${K1}x`], digests)).toBe(false);
    expect(isAuthorised([K1.toUpperCase()], digests)).toBe(false);
  });

  it('rejects everything when no key is configured', () => {
    expect(isAuthorised([K1], [])).toBe(false);
  });
});
