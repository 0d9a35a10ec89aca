import { ConfigError, env, loadConfig, platformShape } from './index';

describe('loadConfig', () => {
  it('applies defaults that work locally', () => {
    const cfg = loadConfig('svc', { ...platformShape, GRPC_PORT: env.port(50051) }, {});
    expect(cfg.DATABASE_URL).toBe('postgres://postgres@127.0.0.1:5432/trackly');
    expect(cfg.GRPC_PORT).toBe(50051);
    expect(cfg.NATS_PREFIX).toBe('');
  });

  it('names every invalid variable in one message', () => {
    expect(() =>
      loadConfig('svc', { ...platformShape, GRPC_PORT: env.port(1) }, { DATABASE_URL: 'mysql://x', GRPC_PORT: 'abc' }),
    ).toThrow(ConfigError);
    try {
      loadConfig('svc', { ...platformShape, GRPC_PORT: env.port(1) }, { DATABASE_URL: 'mysql://x', GRPC_PORT: '70000' });
    } catch (e) {
      expect((e as Error).message).toMatch(/DATABASE_URL: must be a URL/);
      expect((e as Error).message).toMatch(/GRPC_PORT/);
    }
  });

  it('parses booleans strictly', () => {
    expect(loadConfig('svc', { X: env.bool(false) }, { X: '1' }).X).toBe(true);
    expect(() => loadConfig('svc', { X: env.bool(false) }, { X: 'yes' })).toThrow(ConfigError);
  });
});
