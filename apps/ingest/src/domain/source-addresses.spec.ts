import { addressAllowed, AddressRange, clientAddress, formatIp, parseAllowList, parseIp, parseSourceEntry } from './source-addresses';

function ranges(...entries: string[]): AddressRange[] {
  const r = parseAllowList(entries);
  if (!r.ok) throw new Error(JSON.stringify(r.fields));
  return r.value;
}

describe('parseIp', () => {
  it.each([
    ['192.0.2.1', 4, 0xc0000201n],
    ['0.0.0.0', 4, 0n],
    ['255.255.255.255', 4, 0xffffffffn],
    ['::1', 6, 1n],
    ['::', 6, 0n],
    ['2001:db8::1', 6, 0x20010db8000000000000000000000001n],
    ['2001:DB8:0:0:0:0:0:1', 6, 0x20010db8000000000000000000000001n],
    ['fe80::1%eth0', 6, 0xfe800000000000000000000000000001n],
    ['[2001:db8::1]', 6, 0x20010db8000000000000000000000001n],
    ['::ffff:192.0.2.1', 4, 0xc0000201n],
    ['::ffff:c000:201', 4, 0xc0000201n],
    ['64:ff9b::192.0.2.1', 6, 0x0064ff9b0000000000000000c0000201n],
  ])('%s', (text, version, value) => {
    expect(parseIp(text)).toEqual({ version, value });
  });

  it.each(['', '256.0.0.1', '1.2.3', '01.2.3.4', '1.2.3.4.5', 'a.b.c.d', '1::2::3', '1:2:3:4:5:6:7:8:9', '12345::', ':::', 'localhost', '1:2:3:4:5:6:7'])(
    'refuses %j',
    (text) => {
      expect(parseIp(text)).toBeUndefined();
    },
  );

  it('formats addresses back (IPv6 compressed per RFC 5952)', () => {
    expect(formatIp(parseIp('192.0.2.1')!)).toBe('192.0.2.1');
    expect(formatIp(parseIp('2001:db8:0:0:0:0:0:1')!)).toBe('2001:db8::1');
    expect(formatIp(parseIp('2001:db8:0:1:0:0:0:1')!)).toBe('2001:db8:0:1::1');
    expect(formatIp(parseIp('::')!)).toBe('::');
    expect(formatIp(parseIp('1:2:3:4:5:6:7:8')!)).toBe('1:2:3:4:5:6:7:8');
  });
});

describe('allow-list entries', () => {
  it('reads single addresses, CIDR v4/v6, TUNE last-octet ranges and full ranges', () => {
    expect(parseSourceEntry('192.0.2.7')).toEqual({ version: 4, first: 0xc0000207n, last: 0xc0000207n });
    expect(parseSourceEntry('192.0.2.0/24')).toEqual({ version: 4, first: 0xc0000200n, last: 0xc00002ffn });
    expect(parseSourceEntry('0.0.0.0/0')).toEqual({ version: 4, first: 0n, last: 0xffffffffn });
    expect(parseSourceEntry('192.0.2.0-255')).toEqual({ version: 4, first: 0xc0000200n, last: 0xc00002ffn });
    expect(parseSourceEntry('192.0.2.10-20')).toEqual({ version: 4, first: 0xc000020an, last: 0xc0000214n });
    expect(parseSourceEntry('192.0.2.10-192.0.3.5')).toEqual({ version: 4, first: 0xc000020an, last: 0xc0000305n });
    expect(parseSourceEntry('2001:db8::/32')).toEqual({
      version: 6,
      first: 0x20010db8000000000000000000000000n,
      last: 0x20010db8ffffffffffffffffffffffffn,
    });
    expect(parseSourceEntry(' 2001:db8::1 ')).toMatchObject({ version: 6, first: 0x20010db8000000000000000000000001n });
  });

  it.each([
    ['', 'must not be empty'],
    ['192.0.2.1/24', 'did you mean 192.0.2.0/24?'],
    ['2001:db8::1/32', 'did you mean 2001:db8::/32?'],
    ['192.0.2.0/33', 'longer than /32'],
    ['2001:db8::/129', 'longer than /128'],
    ['192.0.2.0/x', 'not a CIDR subnet'],
    ['192.0.2.20-10', 'ends before it starts'],
    ['192.0.2.0-256', 'not an address range'],
    ['192.0.2.0-::1', 'not an address range'],
    ['example.com', 'not an IP address'],
    ['192.0.2.*', 'not an IP address'],
  ])('refuses %j', (entry, problem) => {
    expect(parseSourceEntry(entry)).toEqual(expect.stringContaining(problem));
  });

  it('reports every bad entry by index, and refuses more than 100 entries', () => {
    expect(parseAllowList(['192.0.2.1', 'nope', '10.0.0.0/8', '1.2.3.4/1'])).toEqual({
      ok: false,
      fields: { 'allowed_sources[1]': expect.any(String), 'allowed_sources[3]': expect.stringContaining('host bits') },
    });
    expect(parseAllowList(Array.from({ length: 101 }, (_, i) => `10.0.0.${i}`))).toEqual({
      ok: false,
      fields: { allowed_sources: 'must have at most 100 entries, got 101' },
    });
    expect(parseAllowList([])).toEqual({ ok: true, value: [] });
  });
});

describe('addressAllowed', () => {
  const list = ranges('192.0.2.0-255', '198.51.100.7', '203.0.113.0/25', '2001:db8:1::/48');

  it.each([
    ['192.0.2.0', true],
    ['192.0.2.255', true],
    ['192.0.3.0', false],
    ['198.51.100.7', true],
    ['198.51.100.8', false],
    ['203.0.113.127', true],
    ['203.0.113.128', false],
    ['::ffff:192.0.2.9', true],
    ['2001:db8:1:ffff::1', true],
    ['2001:db8:2::1', false],
    // IPv4 rules never match an IPv6 address with the same low bits.
    ['::c000:201', false],
    ['not-an-ip', false],
    ['', false],
  ])('%s -> %s', (address, allowed) => {
    expect(addressAllowed(list, address)).toBe(allowed);
  });
});

describe('clientAddress', () => {
  const proxies = ranges('10.0.0.0/8', 'fd00::/8');

  it('is the socket peer when no proxy header is configured, IPv4-mapped shown as IPv4', () => {
    expect(clientAddress('::ffff:203.0.113.9', undefined, proxies)).toBe('203.0.113.9');
    expect(clientAddress('2001:db8::5', undefined, [])).toBe('2001:db8::5');
  });

  it('takes the right-most entry that is not one of our proxies', () => {
    expect(clientAddress('10.0.0.2', '198.51.100.1, 203.0.113.9, 10.0.0.3', proxies)).toBe('203.0.113.9');
    expect(clientAddress('10.0.0.2', '203.0.113.9', [])).toBe('203.0.113.9');
    // A client forging the header only adds entries on the left.
    expect(clientAddress('10.0.0.2', '192.0.2.1, 203.0.113.9', [])).toBe('203.0.113.9');
    expect(clientAddress('10.0.0.2', '[2001:db8::7]:443, fd00::1', proxies)).toBe('2001:db8::7');
    expect(clientAddress('10.0.0.2', '203.0.113.9:51000', proxies)).toBe('203.0.113.9');
  });

  it('falls back to the left-most entry when every hop is ours, and to the socket when the header is empty', () => {
    expect(clientAddress('10.0.0.2', '10.1.1.1, 10.0.0.3', proxies)).toBe('10.1.1.1');
    expect(clientAddress('::ffff:10.0.0.2', '', proxies)).toBe('10.0.0.2');
  });

  it('returns an unparseable right-most entry as is (it then matches no allow-list)', () => {
    expect(clientAddress('10.0.0.2', 'unknown', proxies)).toBe('unknown');
  });
});
