import { loadTrackingConfig } from './tracking.config';

describe('tracking config: edge limits', () => {
  it('has working defaults', () => {
    expect(loadTrackingConfig({})).toMatchObject({
      TRACKING_MAX_HEADER_BYTES: 8192,
      TRACKING_MAX_URL_BYTES: 2048,
      TRACKING_NOISE_RATE_PER_S: 20,
      TRACKING_NOISE_BURST: 100,
      TRACKING_TRUSTED_PROXIES: [],
    });
  });

  it('reads trusted proxies as IPs and CIDR ranges', () => {
    expect(loadTrackingConfig({ TRACKING_TRUSTED_PROXIES: ' 10.0.0.0/8, 192.0.2.7 ,fd00::/8' }).TRACKING_TRUSTED_PROXIES).toEqual(['10.0.0.0/8', '192.0.2.7', 'fd00::/8']);
    expect(loadTrackingConfig({ TRACKING_NOISE_RATE_PER_S: '0' }).TRACKING_NOISE_RATE_PER_S).toBe(0);
  });

  it.each([
    ['TRACKING_TRUSTED_PROXIES', '10.0.0.0/33'],
    ['TRACKING_TRUSTED_PROXIES', 'loopback'],
    ['TRACKING_TRUSTED_PROXIES', '10.0.0.1/8/1'],
    ['TRACKING_TRUSTED_PROXIES', '10.0.0.0/x'],
    ['TRACKING_NOISE_RATE_PER_S', '-1'],
    ['TRACKING_NOISE_BURST', '0'],
    ['TRACKING_MAX_HEADER_BYTES', '100'],
    ['TRACKING_MAX_URL_BYTES', 'big'],
  ])('refuses %s=%p, naming it', (name, value) => {
    expect(() => loadTrackingConfig({ [name]: value })).toThrow(name);
  });
});
