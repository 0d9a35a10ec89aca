import { blockedAddressReason, checkAddresses, DestinationRefused } from './destination.rules';

describe('SSRF guard: destination addresses', () => {
  it.each([
    ['127.0.0.1', 'loopback'], ['127.255.0.9', 'loopback'], ['10.1.2.3', 'private'], ['172.16.0.1', 'private'], ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'], ['169.254.169.254', 'link-local'], ['100.64.0.1', 'carrier-grade NAT'], ['0.0.0.0', 'this network'],
    ['224.0.0.1', 'multicast'], ['255.255.255.255', 'reserved'], ['198.18.0.1', 'benchmarking'],
    ['::1', 'loopback'], ['::', 'unspecified'], ['fc00::1', 'unique local'], ['fd12:3456::1', 'unique local'], ['fe80::1%eth0', 'link-local'],
    ['ff02::1', 'multicast'], ['::ffff:127.0.0.1', 'loopback'], ['::ffff:7f00:1', 'loopback'], ['::ffff:10.0.0.1', 'private'],
    ['64:ff9b::a9fe:a9fe', 'link-local'], ['2001:db8::1', 'documentation'],
  ])('refuses %s (%s)', (ip, why) => {
    expect(blockedAddressReason(ip)).toBe(why);
  });

  it.each(['8.8.8.8', '172.15.255.255', '172.32.0.1', '100.128.0.1', '1.1.1.1', '2606:4700::1111', '::ffff:8.8.8.8', '2001:4860:4860::8888'])('allows public %s', (ip) => {
    expect(blockedAddressReason(ip)).toBeUndefined();
  });

  it('refuses a name when any of its addresses is private, or when it resolves to nothing', () => {
    expect(() => checkAddresses('good.example', ['93.184.216.34', '2606:2800::1'])).not.toThrow();
    expect(() => checkAddresses('rebind.example', ['93.184.216.34', '127.0.0.1'])).toThrow(DestinationRefused);
    expect(() => checkAddresses('rebind.example', ['93.184.216.34', '127.0.0.1'])).toThrow(/rebind\.example \(127\.0\.0\.1\) is loopback/);
    expect(() => checkAddresses('void.example', [])).toThrow(/not resolvable/);
    expect(blockedAddressReason('not-an-ip')).toBe('not an IP address');
  });
});
