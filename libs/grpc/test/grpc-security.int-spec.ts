import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Controller, Module } from '@nestjs/common';
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import pino from 'pino';
import { checkGrpcSecurity, ConfigError, grpcSecurityShape, loadConfig } from '@trackly/config';
import { createGrpcClient, createHealth, DEVELOPMENT_GRPC_SECURITY, GrpcCallError, GrpcSecurityConfig, serviceNameOf } from '@trackly/grpc';
import { startServiceApp } from '@trackly/app-shell';
import { freePort } from '@trackly/testing';
import {
  AttributeConversionRequest,
  AttributeConversionResponse,
  AttributionServiceController,
  AttributionServiceControllerMethods,
  AttributionServiceService,
  ExplainConversionResponse,
  GetAttributionRequest,
  GetAttributionResponse,
  ListAttributionsResponse,
  ReattributeResponse,
} from '@trackly/contracts/attribution/v1/attribution_service';
import { Attribution } from '@trackly/contracts/attribution/v1/attribution';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';

const SERVICE = serviceNameOf(AttributionServiceService);
const TOKEN = 'internal-token-0123456789abcdef-0123456789';
const seenAuthorization: string[][] = [];

/**
 * Echoes the conversion ref into the answer (so a big request makes a big response), records what authorization
 * metadata reached the handler, and fails unexpectedly on demand.
 */
@Controller()
@AttributionServiceControllerMethods()
class EchoController implements AttributionServiceController {
  attributeConversion(req: AttributeConversionRequest, metadata?: grpc.Metadata): AttributeConversionResponse {
    seenAuthorization.push((metadata?.get('authorization') ?? []).map(String));
    if (req.partnerId === 'boom') throw new Error('password authentication failed for user "attribution" at 10.0.3.7:5432');
    return { alreadyDecided: false, attribution: Attribution.fromPartial({ conversionRef: req.conversionRef.repeat(Number(req.messageId || 1)) }) };
  }
  getAttribution(_req: GetAttributionRequest): GetAttributionResponse {
    return { attribution: undefined };
  }
  explainConversion(): ExplainConversionResponse {
    throw new Error('not used');
  }
  listAttributions(): ListAttributionsResponse {
    return { attributions: [], nextPageToken: '' };
  }
  reattribute(): ReattributeResponse {
    throw new Error('not used');
  }

  setOfferRules(): never {
    throw new Error('not used');
  }

  getOfferRules(): never {
    throw new Error('not used');
  }
}

@Module({ controllers: [EchoController] })
class EchoModule {}

const security = (over: Partial<GrpcSecurityConfig>): GrpcSecurityConfig => ({ ...DEVELOPMENT_GRPC_SECURITY, ...over });
const TOKEN_MODE = security({ GRPC_AUTH_MODE: 'token', GRPC_AUTH_TOKEN: TOKEN });

function request(partnerId: string, conversionRef = '', repeat = 1): AttributeConversionRequest {
  return {
    partnerId, conversionId: 'c-1', conversionRef, messageId: String(repeat), clickId: '', payout: undefined,
    status: ConversionStatus.CONVERSION_STATUS_UNSPECIFIED, occurredAt: undefined,
  };
}

async function start(sec: GrpcSecurityConfig, host = '127.0.0.1') {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  const port = await freePort();
  const services = { [SERVICE]: AttributionServiceService };
  const app = await startServiceApp(EchoModule, {
    logger,
    grpc: { url: `${host}:${port}`, services, health: createHealth(Object.keys(services)), security: sec },
  });
  return { app, address: `${host}:${port}`, lines };
}

async function outcome(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'OK',
    (e: unknown) => (e instanceof GrpcCallError ? grpc.status[e.code] : `not a GrpcCallError: ${String(e)}`),
  );
}

/** A raw grpc.health.v1 Check, as kubelet sends it: no metadata at all. */
function healthCheck(address: string, creds = grpc.credentials.createInsecure()): Promise<string> {
  const Ctor = grpc.makeClientConstructor(healthService as unknown as grpc.ServiceDefinition, 'Health');
  const client = new Ctor(address, creds) as unknown as grpc.Client & { check: (...a: unknown[]) => void };
  return new Promise<string>((resolve) =>
    client.check({ service: SERVICE }, { deadline: Date.now() + 3000 }, (err: grpc.ServiceError | null, res?: { status: string }) => {
      client.close();
      resolve(err ? grpc.status[err.code] : res!.status);
    }),
  );
}

describe('gRPC auth: token mode', () => {
  let running: Awaited<ReturnType<typeof start>>;

  beforeAll(async () => {
    running = await start(TOKEN_MODE);
  });
  afterAll(async () => {
    await running?.app.close();
  });

  it('refuses a call without a token or with a wrong one (UNAUTHENTICATED), before the handler runs', async () => {
    seenAuthorization.length = 0;
    const none = createGrpcClient(AttributionServiceService, running.address);
    const wrong = createGrpcClient(AttributionServiceService, running.address, { security: security({ GRPC_AUTH_MODE: 'token', GRPC_AUTH_TOKEN: `${TOKEN.slice(0, -1)}x` }) });
    const short = createGrpcClient(AttributionServiceService, running.address, { security: security({ GRPC_AUTH_MODE: 'token', GRPC_AUTH_TOKEN: TOKEN.slice(0, 10) }) });
    try {
      expect(await outcome(none.attributeConversion(request('p')))).toBe('UNAUTHENTICATED');
      expect(await outcome(wrong.attributeConversion(request('p')))).toBe('UNAUTHENTICATED');
      expect(await outcome(short.attributeConversion(request('p')))).toBe('UNAUTHENTICATED');
      // A token smuggled in by the caller's own metadata under another scheme does not count either.
      const md = new grpc.Metadata();
      md.set('authorization', `Basic ${TOKEN}`);
      expect(await outcome(none.getAttribution({ partnerId: 'p', conversionId: 'c' }, { metadata: md }))).toBe('UNAUTHENTICATED');
      const e = await none.attributeConversion(request('p')).catch((err: GrpcCallError) => err);
      expect((e as GrpcCallError).details).toBe('missing or invalid internal credentials');
      expect(seenAuthorization).toEqual([]);
    } finally {
      none.close();
      wrong.close();
      short.close();
    }
  });

  it('accepts the right token on every method, and the handler never sees it', async () => {
    seenAuthorization.length = 0;
    const client = createGrpcClient(AttributionServiceService, running.address, { security: TOKEN_MODE });
    try {
      expect((await client.attributeConversion(request('p', 'ref-1'))).attribution?.conversionRef).toBe('ref-1');
      expect(await client.getAttribution({ partnerId: 'p', conversionId: 'c' })).toEqual({ attribution: undefined });
      // A caller's own authorization metadata is replaced by the configured token, not sent alongside it.
      const md = new grpc.Metadata();
      md.set('authorization', 'Bearer something-else');
      expect(await outcome(client.getAttribution({ partnerId: 'p', conversionId: 'c' }, { metadata: md }))).toBe('OK');
      expect(seenAuthorization).toEqual([[]]);
    } finally {
      client.close();
    }
  });

  it('leaves grpc.health.v1 open (kubelet probes send no metadata); reflection is not open', async () => {
    expect(await healthCheck(running.address)).toBe('SERVING');
    const Reflection = grpc.makeGenericClientConstructor({}, 'x');
    const raw = new Reflection(running.address, grpc.credentials.createInsecure());
    try {
      const code = await new Promise<string>((resolve) => {
        const call = raw.makeBidiStreamRequest(
          '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
          (v: Buffer) => v,
          (v: Buffer) => v,
          new grpc.Metadata(),
          { deadline: Date.now() + 3000 },
        );
        call.on('data', () => resolve('DATA'));
        call.on('error', (e: grpc.ServiceError) => resolve(grpc.status[e.code]));
        call.on('end', () => resolve('END'));
        // list_services = "" (field 7, string): a valid request for a server that would answer it.
        call.write(Buffer.from([0x3a, 0x00]));
        call.end();
      });
      expect(code).toBe('UNAUTHENTICATED');
    } finally {
      raw.close();
    }
  });

  it('answers an unexpected error with INTERNAL and a generic message; the cause is logged server-side with the request id', async () => {
    const client = createGrpcClient(AttributionServiceService, running.address, { security: TOKEN_MODE });
    try {
      const md = new grpc.Metadata();
      md.set('x-request-id', 'req-sec-1');
      const e = (await client.attributeConversion(request('boom'), { metadata: md }).catch((err: unknown) => err)) as GrpcCallError;
      expect(grpc.status[e.code]).toBe('INTERNAL');
      expect(e.details).toBe('internal error (request id req-sec-1)');
      expect(e.details).not.toMatch(/password|10\.0\.3\.7|attribution/);
      const logged = running.lines.find((l) => l.msg === 'unhandled error in gRPC handler');
      expect(logged).toMatchObject({ requestId: 'req-sec-1', err: { message: expect.stringContaining('password authentication failed') } });
    } finally {
      client.close();
    }
  });
});

describe('gRPC message size limits', () => {
  const SMALL = security({ GRPC_MAX_MESSAGE_BYTES: 65_536 });
  const LARGE = security({ GRPC_MAX_MESSAGE_BYTES: 1_048_576 });
  let running: Awaited<ReturnType<typeof start>>;

  beforeAll(async () => {
    running = await start(SMALL);
  });
  afterAll(async () => {
    await running?.app.close();
  });

  it('refuses a request over the server limit with RESOURCE_EXHAUSTED, and serves one under it', async () => {
    const client = createGrpcClient(AttributionServiceService, running.address, { security: LARGE });
    try {
      expect(await outcome(client.attributeConversion(request('p', 'x'.repeat(200_000))))).toBe('RESOURCE_EXHAUSTED');
      expect(await outcome(client.attributeConversion(request('p', 'x'.repeat(10_000))))).toBe('OK');
    } finally {
      client.close();
    }
  });

  it('stops an oversize request at the client, and an oversize response at either end', async () => {
    const client = createGrpcClient(AttributionServiceService, running.address, { security: SMALL });
    try {
      expect(await outcome(client.attributeConversion(request('p', 'x'.repeat(200_000))))).toBe('RESOURCE_EXHAUSTED');
      // 10 KB in, 100 KB out: over the server's send limit.
      expect(await outcome(client.attributeConversion(request('p', 'x'.repeat(10_000), 10)))).toBe('RESOURCE_EXHAUSTED');
      // The channel is still usable afterwards.
      expect(await outcome(client.attributeConversion(request('p', 'small')))).toBe('OK');
    } finally {
      client.close();
    }
  });
});

describe('gRPC auth: mTLS', () => {
  let dir: string;
  let running: Awaited<ReturnType<typeof start>>;
  let files: Record<'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey' | 'rogueCert' | 'rogueKey', string>;

  function openssl(...args: string[]) {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  }
  /** A P-256 key and a certificate for it signed by the CA named (key and cert files). */
  function leaf(name: string, ca: string, ext: string) {
    writeFileSync(path.join(dir, `${name}.ext`), ext);
    openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '1', '-out', `${name}.pem`, '-extfile', `${name}.ext`);
  }
  function ca(name: string) {
    openssl(
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`,
      '-days', '1', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    );
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'trackly-mtls-'));
    ca('ca');
    ca('rogue-ca');
    leaf('server', 'ca', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    leaf('client', 'ca', 'extendedKeyUsage=clientAuth\n');
    leaf('rogue', 'rogue-ca', 'extendedKeyUsage=clientAuth\n');
    const p = (f: string) => path.join(dir, f);
    files = {
      ca: p('ca.pem'), serverCert: p('server.pem'), serverKey: p('server.key'),
      clientCert: p('client.pem'), clientKey: p('client.key'), rogueCert: p('rogue.pem'), rogueKey: p('rogue.key'),
    };
    running = await start(security({ GRPC_AUTH_MODE: 'mtls', GRPC_TLS_CA: files.ca, GRPC_TLS_CERT: files.serverCert, GRPC_TLS_KEY: files.serverKey }));
  }, 30_000);

  afterAll(async () => {
    await running?.app.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const mtlsClient = (cert: string, key: string) =>
    createGrpcClient(AttributionServiceService, running.address, {
      deadlineMs: 3000,
      security: security({ GRPC_AUTH_MODE: 'mtls', GRPC_TLS_CA: files.ca, GRPC_TLS_CERT: cert, GRPC_TLS_KEY: key }),
    });

  it('serves a client presenting a certificate from the CA', async () => {
    const client = mtlsClient(files.clientCert, files.clientKey);
    try {
      expect((await client.attributeConversion(request('p', 'over-tls'))).attribution?.conversionRef).toBe('over-tls');
    } finally {
      client.close();
    }
  });

  it('refuses a client without a certificate, with one from another CA, and a plaintext client', async () => {
    const noCert = createGrpcClient(AttributionServiceService, running.address, { deadlineMs: 3000 });
    const rogue = mtlsClient(files.rogueCert, files.rogueKey);
    const Ctor = grpc.makeGenericClientConstructor({}, 'x');
    // TLS with our CA, but no client certificate.
    const anonymous = new Ctor(running.address, grpc.credentials.createSsl(readFileSync(files.ca)));
    try {
      expect(await outcome(noCert.attributeConversion(request('p')))).toMatch(/^(UNAVAILABLE|DEADLINE_EXCEEDED)$/);
      expect(await outcome(rogue.attributeConversion(request('p')))).toMatch(/^(UNAVAILABLE|DEADLINE_EXCEEDED)$/);
      const method = AttributionServiceService.getAttribution;
      const anon = await new Promise<string>((resolve) =>
        anonymous.makeUnaryRequest(method.path, method.requestSerialize, method.responseDeserialize, { partnerId: 'p', conversionId: 'c' }, new grpc.Metadata(),
          { deadline: Date.now() + 3000 }, (err) => resolve(err ? grpc.status[err.code] : 'OK')),
      );
      expect(anon).toMatch(/^(UNAVAILABLE|DEADLINE_EXCEEDED)$/);
      // Health goes through TLS too (exec/TCP probes in that mode; see docs/security.md), with our client cert.
      const creds = grpc.credentials.createSsl(
        readFileSync(files.ca), readFileSync(files.clientKey), readFileSync(files.clientCert),
      );
      expect(await healthCheck(running.address, creds)).toBe('SERVING');
    } finally {
      noCert.close();
      rogue.close();
      anonymous.close();
    }
  });

  it('fails fast with the variable and path when a PEM file cannot be read', async () => {
    await expect(
      start(security({ GRPC_AUTH_MODE: 'mtls', GRPC_TLS_CA: path.join(dir, 'nope.pem'), GRPC_TLS_CERT: files.serverCert, GRPC_TLS_KEY: files.serverKey })),
    ).rejects.toThrow(/GRPC_TLS_CA: cannot read ".*nope\.pem": ENOENT/);
  });
});

describe('gRPC auth configuration', () => {
  it('refuses to start in production without token or mtls', () => {
    const load = (env: Record<string, string>) => loadConfig('svc', grpcSecurityShape, env, checkGrpcSecurity);
    expect(() => load({ TRACKLY_ENV: 'production' })).toThrow(ConfigError);
    expect(() => load({ TRACKLY_ENV: 'production', GRPC_AUTH_MODE: 'none' })).toThrow(
      /GRPC_AUTH_MODE: must be token or mtls when TRACKLY_ENV=production/,
    );
    expect(load({ TRACKLY_ENV: 'production', GRPC_AUTH_MODE: 'token', GRPC_AUTH_TOKEN: TOKEN }).GRPC_AUTH_MODE).toBe('token');
  });
});
