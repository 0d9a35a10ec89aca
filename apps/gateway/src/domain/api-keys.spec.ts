import {
  canSee,
  findGrant,
  hasScope,
  isRestricted,
  mintApiKey,
  parseApiKeys,
  presentedKeys,
  reportFilter,
  scopedFilter,
  sha256,
} from './api-keys';

const K1 = 'k1-0123456789abcdef';
const K2 = 'k2-fedcba9876543210';
const hex = (k: string) => sha256(k).toString('hex');
const entries = (list: object[]) => JSON.stringify(list);

describe('parseApiKeys', () => {
  it('reads named digests with scopes and optional campaign/offer restrictions', () => {
    expect(parseApiKeys('')).toEqual([]);
    expect(parseApiKeys('  ')).toEqual([]);
    expect(parseApiKeys('[]')).toEqual([]);
    const [a, b] = parseApiKeys(
      entries([
        { name: 'ops', sha256: hex(K1), scopes: ['reports:read', 'conversions:read', 'partners:write'] },
        { name: 'acme-dash', sha256: hex(K2).toUpperCase(), scopes: ['reports:read', 'reports:read'], campaigns: ['summer'], offers: ['o-1', 'o-2'] },
      ]),
    );
    expect(a).toEqual({ name: 'ops', digest: sha256(K1), scopes: ['reports:read', 'conversions:read', 'partners:write'], campaigns: [], offers: [] });
    expect(b).toEqual({ name: 'acme-dash', digest: sha256(K2), scopes: ['reports:read'], campaigns: ['summer'], offers: ['o-1', 'o-2'] });
  });

  it('refuses plaintext keys (the old comma-separated format) and says how to mint one', () => {
    expect(() => parseApiKeys(`${K1},${K2}`)).toThrow(/JSON array.*plaintext keys are not accepted.*gateway:key/);
    expect(() => parseApiKeys('{"name":"x"}')).toThrow(/JSON array/);
  });

  it('names the entry and field that is wrong', () => {
    const ok = { name: 'a', sha256: hex(K1), scopes: ['reports:read'] };
    expect(() => parseApiKeys(JSON.stringify([ok, 'k']))).toThrow(/entry #2 must be an object/);
    expect(() => parseApiKeys(entries([{ ...ok, name: 'has space' }]))).toThrow(/entry #1: name/);
    expect(() => parseApiKeys(entries([{ ...ok, sha256: K1 }]))).toThrow(/key "a": sha256 must be/);
    expect(() => parseApiKeys(entries([{ ...ok, sha256: hex(K1).slice(1) }]))).toThrow(/sha256/);
    expect(() => parseApiKeys(entries([{ ...ok, scopes: [] }]))).toThrow(/scopes must be a non-empty list/);
    expect(() => parseApiKeys(entries([{ ...ok, scopes: ['reports:write'] }]))).toThrow(/unknown scope "reports:write"/);
    expect(() => parseApiKeys(entries([{ ...ok, campaigns: 'summer' }]))).toThrow(/campaigns must be a list/);
    expect(() => parseApiKeys(entries([{ ...ok, offers: ['a,b'] }]))).toThrow(/offers must be a list/);
    expect(() => parseApiKeys(entries([{ ...ok, key: K1 }]))).toThrow(/unknown field\(s\) key/);
    expect(() => parseApiKeys(entries([ok, { ...ok, sha256: hex(K2) }]))).toThrow(/name "a" is used twice/);
    expect(() => parseApiKeys(entries([ok, { ...ok, name: 'b' }]))).toThrow(/key of "b" is configured twice/);
  });

  it('refuses setup and operations scopes on a key restricted to campaigns or offers', () => {
    expect(() => parseApiKeys(entries([{ name: 'a', sha256: hex(K1), scopes: ['partners:write'], campaigns: ['c'] }]))).toThrow(
      /partners:write cannot be combined/,
    );
    for (const scope of ['partners:read', 'partners:test', 'offers:write', 'operations:write']) {
      expect(() => parseApiKeys(entries([{ name: 'a', sha256: hex(K1), scopes: ['reports:read', scope], offers: ['o'] }]))).toThrow(`${scope} cannot be combined`);
    }
    // Reading reports, conversions and the offers a key may see stays possible.
    expect(parseApiKeys(entries([{ name: 'a', sha256: hex(K1), scopes: ['reports:read', 'conversions:read', 'offers:read'], campaigns: ['c'] }]))).toHaveLength(1);
  });
});

describe('scopedFilter', () => {
  const grant = (campaigns: string[], offers: string[] = []) => parseApiKeys(entries([{ name: 'g', sha256: hex(K1), scopes: ['reports:read'], campaigns, offers }]))[0];
  const none = { campaignIds: [], offerIds: [] };

  it('passes an unrestricted key\'s own filters through, and no filter at all when it asks none', () => {
    expect(scopedFilter(undefined, none)).toEqual({ filter: undefined, outside: [] });
    expect(scopedFilter(undefined, { campaignIds: ['a'], offerIds: [] })).toEqual({ filter: { campaignIds: ['a'], offerIds: [] }, outside: [] });
  });

  it('narrows a restricted key to what it asks inside its grant, names what lies outside, and never widens or empties it', () => {
    expect(scopedFilter(grant(['a', 'b']), none)).toEqual({ filter: { campaignIds: ['a', 'b'], offerIds: [] }, outside: [] });
    expect(scopedFilter(grant(['a', 'b']), { campaignIds: ['b'], offerIds: ['o'] })).toEqual({ filter: { campaignIds: ['b'], offerIds: ['o'] }, outside: [] });
    const out = scopedFilter(grant(['a']), { campaignIds: ['z'], offerIds: [] });
    expect(out.outside).toEqual(['campaign z']);
    // Nothing left inside the grant: the filter is still the grant's own ids, never an empty "everything".
    expect(out.filter).toEqual({ campaignIds: ['a'], offerIds: [] });
    expect(scopedFilter(grant([], ['o1']), { campaignIds: [], offerIds: ['o2'] }).outside).toEqual(['offer o2']);
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

describe('findGrant / hasScope', () => {
  const grants = parseApiKeys(
    entries([
      { name: 'ops', sha256: hex(K1), scopes: ['reports:read', 'conversions:read'] },
      { name: 'acme', sha256: hex(K2), scopes: ['reports:read'], campaigns: ['summer'] },
    ]),
  );

  it('finds the grant of any configured key', () => {
    expect(findGrant([K1], grants)?.name).toBe('ops');
    expect(findGrant([K2], grants)?.name).toBe('acme');
    expect(findGrant(['wrong', K2], grants)?.name).toBe('acme');
  });

  it('finds nothing for no key, a wrong key, a prefix or an extension of a key, case changes or the digest itself', () => {
    expect(findGrant([], grants)).toBeUndefined();
    expect(findGrant(['nope'], grants)).toBeUndefined();
    expect(findGrant([K1.slice(0, -1)], grants)).toBeUndefined();
    expect(findGrant([`${K1}x`], grants)).toBeUndefined();
    expect(findGrant([K1.toUpperCase()], grants)).toBeUndefined();
    expect(findGrant([hex(K1)], grants)).toBeUndefined();
    expect(findGrant([K1], [])).toBeUndefined();
  });

  it('grants only the listed scopes', () => {
    expect(hasScope(findGrant([K1], grants)!, 'conversions:read')).toBe(true);
    expect(hasScope(findGrant([K2], grants)!, 'reports:read')).toBe(true);
    expect(hasScope(findGrant([K2], grants)!, 'conversions:read')).toBe(false);
    expect(hasScope(findGrant([K1], grants)!, 'partners:write')).toBe(false);
  });
});

describe('scoping to campaigns and offers', () => {
  const [open, byCampaign, byOffer, both] = parseApiKeys(
    entries([
      { name: 'open', sha256: hex('a'), scopes: ['reports:read'] },
      { name: 'camp', sha256: hex('b'), scopes: ['reports:read'], campaigns: ['c1', 'c2'] },
      { name: 'offer', sha256: hex('c'), scopes: ['reports:read'], offers: ['o1'] },
      { name: 'both', sha256: hex('d'), scopes: ['reports:read'], campaigns: ['c1'], offers: ['o1'] },
    ]),
  );

  it('tells restricted keys apart; no keys configured (development) is unrestricted', () => {
    expect([undefined, open, byCampaign, byOffer, both].map(isRestricted)).toEqual([false, false, true, true, true]);
  });

  it('lets a key see a campaign/offer only when every restriction it has allows it', () => {
    const c1o1 = { campaignId: 'c1', offerId: 'o1' };
    const c3o1 = { campaignId: 'c3', offerId: 'o1' };
    const c1o2 = { campaignId: 'c1', offerId: 'o2' };
    expect([undefined, open, byCampaign, byOffer, both].map((g) => [canSee(g, c1o1), canSee(g, c3o1), canSee(g, c1o2)])).toEqual([
      [true, true, true],
      [true, true, true],
      [true, false, true],
      [true, true, false],
      [true, false, false],
    ]);
    // Data with no campaign (an unattributed conversion) is outside every campaign restriction.
    expect(canSee(byCampaign, { campaignId: '', offerId: '' })).toBe(false);
  });

  it('turns a grant into the report request filter', () => {
    expect(reportFilter(undefined)).toBeUndefined();
    expect(reportFilter(open)).toBeUndefined();
    expect(reportFilter(byOffer)).toEqual({ campaignIds: [], offerIds: ['o1'] });
    expect(reportFilter(both)).toEqual({ campaignIds: ['c1'], offerIds: ['o1'] });
  });
});

describe('mintApiKey', () => {
  const random = Buffer.alloc(32, 7);

  it('makes a prefixed 256-bit key and the entry that grants exactly it; the entry holds no key', () => {
    const { key, entry } = mintApiKey({ name: 'acme-dash', scopes: ['reports:read'], campaigns: ['summer'] }, random);
    expect(key).toMatch(/^trk_[A-Za-z0-9_-]{43}$/);
    expect(entry).toEqual({ name: 'acme-dash', sha256: hex(key), scopes: ['reports:read'], campaigns: ['summer'] });
    expect(JSON.stringify(entry)).not.toContain(key.slice(4));
    const grants = parseApiKeys(JSON.stringify([entry]));
    expect(findGrant([key], grants)?.name).toBe('acme-dash');
    expect(mintApiKey({ name: 'x', scopes: ['reports:read'] }, Buffer.alloc(32, 8)).key).not.toBe(key);
  });

  it('refuses what the config would refuse', () => {
    expect(() => mintApiKey({ name: 'x', scopes: ['admin'] }, random)).toThrow(/unknown scope/);
    expect(() => mintApiKey({ name: 'x', scopes: ['partners:write'], offers: ['o'] }, random)).toThrow(/partners:write/);
    expect(() => mintApiKey({ name: 'x', scopes: ['reports:read'] }, Buffer.alloc(8))).toThrow(/32 random bytes/);
  });
});
