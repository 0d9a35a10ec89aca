/**
 * Source addresses of partner requests: the allow-list syntax partners know from TUNE (single IPs, CIDR subnets,
 * last-octet ranges like `192.0.2.0-255`, up to 100 entries) plus IPv6, and how the client address is found behind
 * a load balancer. Addresses are compared as integers (32-bit v4, 128-bit v6), never as strings.
 */
import type { FieldProblems, Validated } from './conversion.rules';

/** TUNE's own limit on allow-list entries. */
export const MAX_ALLOW_LIST_ENTRIES = 100;

export interface IpAddress {
  version: 4 | 6;
  value: bigint;
}

/** An inclusive range of one address family. */
export interface AddressRange {
  version: 4 | 6;
  first: bigint;
  last: bigint;
}

const V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function parseV4(text: string): bigint | undefined {
  const m = V4.exec(text);
  if (!m) return undefined;
  let value = 0n;
  for (const part of m.slice(1)) {
    // "010" is octal to some parsers and decimal to others: refuse the ambiguity.
    if (part.length > 1 && part.startsWith('0')) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

function parseV6(text: string): bigint | undefined {
  if (!/^[0-9A-Fa-f:.]+$/.test(text) || text.length > 45) return undefined;
  let t = text;
  // An embedded IPv4 tail (::ffff:192.0.2.1) is written as the two groups it stands for.
  const lastColon = t.lastIndexOf(':');
  if (t.slice(lastColon + 1).includes('.')) {
    const v4 = parseV4(t.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    t = `${t.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = t.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string): bigint[] | undefined => {
    if (s === '') return [];
    const out: bigint[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return undefined;
      out.push(BigInt(`0x${g}`));
    }
    return out;
  };
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !rest) return undefined;
  const explicit = head.length + rest.length;
  if (halves.length === 1 ? explicit !== 8 : explicit > 7) return undefined;
  return [...head, ...Array<bigint>(8 - explicit).fill(0n), ...rest].reduce((acc, g) => (acc << 16n) | g, 0n);
}

const MAPPED_V4_PREFIX = 0xffffn << 32n;

/**
 * Parses an IPv4 or IPv6 address (zone ids and brackets removed). An IPv4-mapped IPv6 address (::ffff:192.0.2.1, as
 * Node reports IPv4 peers on a dual-stack socket) is the IPv4 address.
 */
export function parseIp(text: string): IpAddress | undefined {
  let t = text.trim();
  if (t.startsWith('[') && t.endsWith(']')) t = t.slice(1, -1);
  const zone = t.indexOf('%');
  if (zone >= 0) t = t.slice(0, zone);
  const v4 = parseV4(t);
  if (v4 !== undefined) return { version: 4, value: v4 };
  const v6 = parseV6(t);
  if (v6 === undefined) return undefined;
  if (v6 >> 32n === MAPPED_V4_PREFIX >> 32n) return { version: 4, value: v6 & 0xffffffffn };
  return { version: 6, value: v6 };
}

export function formatIp(ip: IpAddress): string {
  if (ip.version === 4) return [24n, 16n, 8n, 0n].map((s) => ((ip.value >> s) & 0xffn).toString()).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => ((ip.value >> BigInt((7 - i) * 16)) & 0xffffn).toString(16));
  // RFC 5952: the longest run of two or more zero groups becomes "::".
  let best = { at: -1, len: 1 };
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j > i ? j : i + 1;
  }
  if (best.at < 0) return groups.join(':');
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.len).join(':')}`;
}

/** One allow-list entry as a range, or the problem with it. */
export function parseSourceEntry(text: string): AddressRange | string {
  const entry = text.trim();
  if (!entry) return 'must not be empty';
  const slash = entry.indexOf('/');
  if (slash >= 0) {
    const ip = parseIp(entry.slice(0, slash));
    const bitsText = entry.slice(slash + 1);
    if (!ip || !/^\d{1,3}$/.test(bitsText)) return `is not a CIDR subnet (e.g. 192.0.2.0/24 or 2001:db8::/32): "${entry}"`;
    const width = ip.version === 4 ? 32 : 128;
    const bits = Number(bitsText);
    if (bits > width) return `has a prefix longer than /${width}: "${entry}"`;
    const hostMask = (1n << BigInt(width - bits)) - 1n;
    if ((ip.value & hostMask) !== 0n) {
      return `has host bits set: did you mean ${formatIp({ version: ip.version, value: ip.value & ~hostMask })}/${bits}?`;
    }
    return { version: ip.version, first: ip.value, last: ip.value | hostMask };
  }
  const dash = entry.indexOf('-');
  if (dash >= 0) {
    const from = parseIp(entry.slice(0, dash));
    const toText = entry.slice(dash + 1).trim();
    if (!from) return `is not an address range (e.g. 192.0.2.0-255): "${entry}"`;
    let last: bigint | undefined;
    if (/^\d{1,3}$/.test(toText) && from.version === 4) {
      // TUNE style: the last octet ranges, "192.0.2.0-255".
      const octet = Number(toText);
      if (octet <= 255) last = (from.value & ~0xffn) | BigInt(octet);
    } else {
      const to = parseIp(toText);
      if (to && to.version === from.version) last = to.value;
    }
    if (last === undefined) return `is not an address range (e.g. 192.0.2.0-255): "${entry}"`;
    if (last < from.value) return `ends before it starts: "${entry}"`;
    return { version: from.version, first: from.value, last };
  }
  const ip = parseIp(entry);
  if (!ip) return `is not an IP address, CIDR subnet or range: "${entry}"`;
  return { version: ip.version, first: ip.value, last: ip.value };
}

/** Checks a whole allow-list; problems are keyed allowed_sources[i]. */
export function parseAllowList(entries: readonly string[]): Validated<AddressRange[]> {
  const fields: FieldProblems = {};
  if (entries.length > MAX_ALLOW_LIST_ENTRIES) {
    return { ok: false, fields: { allowed_sources: `must have at most ${MAX_ALLOW_LIST_ENTRIES} entries, got ${entries.length}` } };
  }
  const ranges: AddressRange[] = [];
  entries.forEach((e, i) => {
    const r = parseSourceEntry(e);
    if (typeof r === 'string') fields[`allowed_sources[${i}]`] = r;
    else ranges.push(r);
  });
  return Object.keys(fields).length ? { ok: false, fields } : { ok: true, value: ranges };
}

/** True when the address falls in one of the ranges; an address that does not parse matches nothing. */
export function addressAllowed(ranges: readonly AddressRange[], address: string): boolean {
  const ip = parseIp(address);
  if (!ip) return false;
  return ranges.some((r) => r.version === ip.version && ip.value >= r.first && ip.value <= r.last);
}

/** A forwarded-for entry may carry a port ("192.0.2.1:4711", "[2001:db8::1]:443"). */
function stripPort(entry: string): string {
  const t = entry.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(t);
  if (bracketed) return bracketed[1];
  const v4port = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(t);
  return v4port ? v4port[1] : t;
}

/**
 * The address a request came from. Without a configured proxy header it is the socket peer. With one (e.g.
 * X-Forwarded-For, which each proxy appends to), the peer is our load balancer and the client is the right-most entry
 * that is not one of our own trusted proxies: entries further left were written by the client and can be forged.
 */
export function clientAddress(socketAddress: string, forwardedHeader: string | undefined, trustedProxies: readonly AddressRange[]): string {
  const socket = normalised(socketAddress);
  if (forwardedHeader === undefined) return socket;
  const entries = forwardedHeader.split(',').map(stripPort).filter((e) => e.length > 0);
  for (let i = entries.length - 1; i >= 0; i--) {
    if (!addressAllowed(trustedProxies, entries[i])) return normalised(entries[i]);
  }
  // Every hop is one of ours (or the header is empty): the left-most is the best we know.
  return entries.length ? normalised(entries[0]) : socket;
}

/** IPv4-mapped IPv6 shown as IPv4, so the archive and the allow-list agree. */
function normalised(address: string): string {
  const ip = parseIp(address);
  return ip?.version === 4 ? formatIp(ip) : address.trim();
}
