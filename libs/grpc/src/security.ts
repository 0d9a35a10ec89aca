/**
 * Authentication of internal gRPC calls (GRPC_AUTH_MODE, see grpcSecurityShape in @trackly/config) and message size
 * limits, for servers (grpcServerOptions) and clients (createGrpcClient) alike.
 */
import * as grpc from '@grpc/grpc-js';
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { GrpcSecurityConfig } from '@trackly/config';

export type { GrpcSecurityConfig };

export const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/** Settings of a process that names none: development without auth (in-process tests, local tools). */
export const DEVELOPMENT_GRPC_SECURITY: GrpcSecurityConfig = {
  TRACKLY_ENV: 'development',
  GRPC_AUTH_MODE: 'none',
  GRPC_AUTH_TOKEN: '',
  GRPC_TLS_CA: '',
  GRPC_TLS_CERT: '',
  GRPC_TLS_KEY: '',
  GRPC_MAX_MESSAGE_BYTES: DEFAULT_MAX_MESSAGE_BYTES,
};

/**
 * Left open in token mode: kubelet's gRPC probes cannot send metadata, and health says nothing but SERVING or not.
 * Server reflection is not here: it hands out the whole API surface, so it needs the token like any RPC (grpcurl
 * sends it with `-H "authorization: Bearer $GRPC_AUTH_TOKEN"`).
 */
const OPEN_SERVICE_PREFIXES = ['/grpc.health.v1.Health/'];

function readPem(path: string, variable: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(`${variable}: cannot read "${path}": ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

function tlsFiles(s: GrpcSecurityConfig): { ca: Buffer; cert: Buffer; key: Buffer } {
  return {
    ca: readPem(s.GRPC_TLS_CA, 'GRPC_TLS_CA'),
    cert: readPem(s.GRPC_TLS_CERT, 'GRPC_TLS_CERT'),
    key: readPem(s.GRPC_TLS_KEY, 'GRPC_TLS_KEY'),
  };
}

/** mtls: a certificate from our CA is required of every client (the TLS handshake fails without one). */
export function serverCredentials(s: GrpcSecurityConfig): grpc.ServerCredentials {
  if (s.GRPC_AUTH_MODE !== 'mtls') return grpc.ServerCredentials.createInsecure();
  const { ca, cert, key } = tlsFiles(s);
  return grpc.ServerCredentials.createSsl(ca, [{ cert_chain: cert, private_key: key }], true);
}

export function channelCredentials(s: GrpcSecurityConfig): grpc.ChannelCredentials {
  if (s.GRPC_AUTH_MODE !== 'mtls') return grpc.credentials.createInsecure();
  const { ca, cert, key } = tlsFiles(s);
  return grpc.credentials.createSsl(ca, key, cert);
}

/** Channel options both sides share: the message size limit in each direction. */
export function messageLimitOptions(s: GrpcSecurityConfig): grpc.ChannelOptions {
  return { 'grpc.max_receive_message_length': s.GRPC_MAX_MESSAGE_BYTES, 'grpc.max_send_message_length': s.GRPC_MAX_MESSAGE_BYTES };
}

/** Metadata a client adds to every call: the bearer token in token mode, nothing otherwise. */
export function authMetadata(s: GrpcSecurityConfig): Record<string, string> {
  return s.GRPC_AUTH_MODE === 'token' ? { authorization: `Bearer ${s.GRPC_AUTH_TOKEN}` } : {};
}

const sha256 = (v: string) => createHash('sha256').update(v, 'utf8').digest();

/**
 * Token mode: every call but a health check must carry `authorization: Bearer <GRPC_AUTH_TOKEN>`, else it ends with
 * UNAUTHENTICATED before any handler runs. Compared as SHA-256 digests with timingSafeEqual (equal lengths, so
 * neither timing nor length says how close a guess was). The header is removed before the handler sees the
 * metadata, so it cannot end up in a log line or be passed on.
 */
export function tokenAuthInterceptor(token: string): grpc.ServerInterceptor {
  const expected = sha256(`Bearer ${token}`);
  return (method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        if (OPEN_SERVICE_PREFIXES.some((p) => method.path.startsWith(p))) return next();
        next({
          onReceiveMetadata: (metadata, mdNext) => {
            const presented = metadata.get('authorization');
            const ok = presented.length === 1 && typeof presented[0] === 'string' && timingSafeEqual(sha256(presented[0]), expected);
            if (!ok) {
              call.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: 'missing or invalid internal credentials' });
              return;
            }
            metadata.remove('authorization');
            mdNext(metadata);
          },
        });
      },
    });
}

/** Server-side options for grpc-js's Server constructor: size limits and, in token mode, the auth interceptor. */
export function serverChannelOptions(s: GrpcSecurityConfig): grpc.ServerOptions {
  return {
    ...messageLimitOptions(s),
    ...(s.GRPC_AUTH_MODE === 'token' ? { interceptors: [tokenAuthInterceptor(s.GRPC_AUTH_TOKEN)] } : {}),
  };
}
