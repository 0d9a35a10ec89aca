import { checkGrpcSecurity, ConfigError, env, grpcSecurityShape, loadConfig, MIN_GRPC_AUTH_TOKEN_LENGTH, platformShape } from './index';

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

describe('grpcSecurityShape + checkGrpcSecurity', () => {
  const load = (env: Record<string, string>) => loadConfig('svc', grpcSecurityShape, env, checkGrpcSecurity);
  const TOKEN = 't'.repeat(MIN_GRPC_AUTH_TOKEN_LENGTH);

  it('defaults to development without gRPC auth and 4 MiB messages', () => {
    expect(load({})).toMatchObject({ TRACKLY_ENV: 'development', GRPC_AUTH_MODE: 'none', GRPC_MAX_MESSAGE_BYTES: 4 * 1024 * 1024 });
  });

  it('refuses to start in production without gRPC auth, naming the variable', () => {
    expect(() => load({ TRACKLY_ENV: 'production' })).toThrow(/GRPC_AUTH_MODE: must be token or mtls when TRACKLY_ENV=production/);
    expect(() => load({ TRACKLY_ENV: 'production', GRPC_AUTH_MODE: 'none' })).toThrow(ConfigError);
    expect(load({ TRACKLY_ENV: 'production', GRPC_AUTH_MODE: 'token', GRPC_AUTH_TOKEN: TOKEN }).GRPC_AUTH_MODE).toBe('token');
  });

  it('wants a long printable token in token mode and all three files in mtls mode', () => {
    expect(() => load({ GRPC_AUTH_MODE: 'token' })).toThrow(/GRPC_AUTH_TOKEN: must be at least 32 characters/);
    expect(() => load({ GRPC_AUTH_MODE: 'token', GRPC_AUTH_TOKEN: TOKEN.slice(1) })).toThrow(/GRPC_AUTH_TOKEN/);
    expect(() => load({ GRPC_AUTH_MODE: 'token', GRPC_AUTH_TOKEN: `${TOKEN} x` })).toThrow(/printable ASCII/);
    try {
      load({ TRACKLY_ENV: 'production', GRPC_AUTH_MODE: 'mtls', GRPC_TLS_CA: '/ca.pem' });
      throw new Error('expected a ConfigError');
    } catch (e) {
      expect((e as Error).message).toMatch(/GRPC_TLS_CERT: is required/);
      expect((e as Error).message).toMatch(/GRPC_TLS_KEY: is required/);
      expect((e as Error).message).not.toMatch(/GRPC_TLS_CA/);
    }
    expect(() => load({ GRPC_AUTH_MODE: 'kerberos' })).toThrow(/GRPC_AUTH_MODE/);
    expect(() => load({ GRPC_MAX_MESSAGE_BYTES: '10' })).toThrow(/GRPC_MAX_MESSAGE_BYTES/);
  });
});
