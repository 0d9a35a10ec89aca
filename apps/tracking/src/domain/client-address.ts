/**
 * The client address of a request to the click edge (noise limit, repeat rule, the click's stored ip). Pure but for
 * node:net's address parsing.
 */
import { BlockList, isIP } from 'node:net';

/** Trusted load balancers (TRACKING_TRUSTED_PROXIES entries: addresses or CIDR ranges, already validated). */
export function trustedProxies(entries: readonly string[]): BlockList | undefined {
  if (!entries.length) return undefined;
  const list = new BlockList();
  for (const entry of entries) {
    const [address, prefix] = entry.split('/');
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return list;
}

const MAPPED = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

function isTrusted(list: BlockList, address: string): boolean {
  const mapped = MAPPED.exec(address);
  const a = mapped ? mapped[1] : address;
  const version = isIP(a);
  return version !== 0 && list.check(a, version === 6 ? 'ipv6' : 'ipv4');
}

/**
 * The socket peer, unless it is a trusted proxy: then the right-most X-Forwarded-For entry that is not one (entries
 * further left can be forged by the client), or the left-most when all are. Without trusted proxies the header is
 * ignored. The same walk Express's `trust proxy` makes.
 */
export function clientAddress(peer: string, forwardedFor: string | undefined, trusted: BlockList | undefined): string {
  if (!trusted || !forwardedFor || !isTrusted(trusted, peer)) return peer;
  const hops = forwardedFor.split(',');
  let client = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i].trim();
    if (!hop) continue;
    client = hop;
    if (!isTrusted(trusted, hop)) return hop;
  }
  return client;
}
