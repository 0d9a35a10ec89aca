import { clientAddress, trustedProxies } from './client-address';

describe('clientAddress', () => {
  const proxies = trustedProxies(['10.0.0.0/8', '127.0.0.1', 'fd00::/8']);

  it('is the socket peer without trusted proxies, whatever X-Forwarded-For says', () => {
    expect(clientAddress('203.0.113.9', '198.51.100.1', undefined)).toBe('203.0.113.9');
    expect(trustedProxies([])).toBeUndefined();
  });

  it('is the socket peer when the peer is not a trusted proxy', () => {
    expect(clientAddress('203.0.113.9', '198.51.100.1', proxies)).toBe('203.0.113.9');
  });

  it('walks X-Forwarded-For from the right, skipping trusted hops; forged entries on the left are ignored', () => {
    expect(clientAddress('10.0.0.2', '198.51.100.1, 203.0.113.9, 10.0.0.3', proxies)).toBe('203.0.113.9');
    expect(clientAddress('127.0.0.1', '198.51.100.7, 203.0.113.5', proxies)).toBe('203.0.113.5');
    expect(clientAddress('::ffff:127.0.0.1', '203.0.113.5', proxies)).toBe('203.0.113.5');
    expect(clientAddress('fd00::1', '2001:db8::7', proxies)).toBe('2001:db8::7');
  });

  it('is the left-most hop when every hop is trusted, and the peer when the header is empty', () => {
    expect(clientAddress('10.0.0.2', '10.0.0.5, 10.0.0.3', proxies)).toBe('10.0.0.5');
    expect(clientAddress('10.0.0.2', '', proxies)).toBe('10.0.0.2');
    expect(clientAddress('10.0.0.2', ' , ', proxies)).toBe('10.0.0.2');
  });

  it('takes an unreadable hop as the client (it is not a trusted proxy)', () => {
    expect(clientAddress('10.0.0.2', 'not-an-ip, 10.0.0.3', proxies)).toBe('not-an-ip');
  });
});
