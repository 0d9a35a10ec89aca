import { isIPv4, isIPv6 } from 'node:net';

/**
 * SSRF guard: outbound requests may reach only public unicast addresses. Every address a host name resolves to is
 * checked (and the connection uses a checked address), so a name pointing at 127.0.0.1 or a metadata service
 * (169.254.169.254) is refused however it is spelled.
 */
const V4_BLOCKED: Array<[string, number, string]> = [
  ['0.0.0.0', 8, 'this network'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'carrier-grade NAT'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, '6to4 relay'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
];

function v4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => (acc << 8) + Number(o), 0) >>> 0;
}

function v4Reason(ip: string): string | undefined {
  const n = v4ToInt(ip);
  for (const [base, bits, why] of V4_BLOCKED) {
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    if ((n & mask) >>> 0 === (v4ToInt(base) & mask) >>> 0) return why;
  }
  return undefined;
}

/** The 8 groups of an IPv6 address as numbers (handles `::` and a trailing dotted IPv4). */
function v6Groups(ip: string): number[] {
  let s = ip.split('%')[0].toLowerCase();
  const v4 = s.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (v4) {
    const n = v4ToInt(v4[1]);
    s = s.slice(0, -v4[1].length) + `${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : new Array(8 - h.length - t.length).fill('0');
  return [...h, ...fill, ...t].map((g) => parseInt(g || '0', 16));
}

function v6Reason(ip: string): string | undefined {
  const g = v6Groups(ip);
  const embeddedV4 = () => `${g[6] >> 8}.${g[6] & 255}.${g[7] >> 8}.${g[7] & 255}`;
  if (g.every((x) => x === 0)) return 'unspecified';
  if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return 'loopback';
  // IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) addresses reach the embedded IPv4 address.
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return v4Reason(embeddedV4());
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return v4Reason(embeddedV4());
  if ((g[0] & 0xfe00) === 0xfc00) return 'unique local';
  if ((g[0] & 0xffc0) === 0xfe80) return 'link-local';
  if ((g[0] & 0xff00) === 0xff00) return 'multicast';
  if (g[0] === 0x2001 && g[1] === 0x0db8) return 'documentation';
  return undefined;
}

/** Why an IP address may not be a destination, or undefined when it is a public address. */
export function blockedAddressReason(ip: string): string | undefined {
  if (isIPv4(ip)) return v4Reason(ip);
  if (isIPv6(ip)) return v6Reason(ip);
  return 'not an IP address';
}

export class DestinationRefused extends Error {
  constructor(readonly host: string, readonly address: string, readonly why: string) {
    super(`destination ${host} (${address}) is ${why}: refused (set DELIVERY_ALLOW_PRIVATE_DESTINATIONS=true to allow)`);
    this.name = 'DestinationRefused';
  }
}

/** Throws unless every address is public. */
export function checkAddresses(host: string, addresses: readonly string[]): void {
  if (!addresses.length) throw new DestinationRefused(host, '-', 'not resolvable');
  for (const a of addresses) {
    const why = blockedAddressReason(a);
    if (why) throw new DestinationRefused(host, a, why);
  }
}
