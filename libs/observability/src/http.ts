/** The /metrics endpoint (on an app's HTTP server or a small one of its own) and the per-request HTTP middleware. */
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { acceptRequestId, holdRequestContext, REQUEST_ID_HEADER, runWithRequestContext } from './context';
import { httpRequestDuration, httpRequests, METRICS_CONTENT_TYPE, renderMetrics } from './metrics';

export const METRICS_PATH = '/metrics';

/**
 * Default port of the separate metrics server, 9464 (the OpenTelemetry Prometheus exporter's) plus a fixed offset per
 * app, so that all apps can run side by side on one machine. Only apps without an HTTP server use it (attribution,
 * reporting); in Kubernetes every pod sets METRICS_PORT=9464.
 */
export const METRICS_PORT_OFFSETS: Record<string, number> = { tracking: 0, ingest: 1, attribution: 2, reporting: 3, gateway: 4, delivery: 5 };

export function defaultMetricsPort(service: string): number {
  return 9464 + (METRICS_PORT_OFFSETS[service] ?? 0);
}

/** Answers GET /metrics with the exposition text. */
export async function serveMetrics(_req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const body = await renderMetrics();
    res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE });
    res.end(body);
  } catch (e) {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(`metrics unavailable: ${(e as Error).message}\n`);
  }
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** A bare HTTP server with only GET /metrics, for apps that have no HTTP server of their own. */
export function startMetricsServer(port: number, host = '0.0.0.0'): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && (req.url ?? '').split('?')[0] === METRICS_PATH) {
      void serveMetrics(req, res);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  });
  // Prometheus scrapes every few seconds over keep-alive: idle sockets must not hold up a shutdown.
  server.keepAliveTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeIdleConnections();
          }),
      });
    });
  });
}

type RoutedRequest = IncomingMessage & { route?: { path?: string }; baseUrl?: string; originalUrl?: string };

/**
 * Express-style middleware for an app's HTTP server: gives the request its id (the caller's x-request-id when
 * acceptable, else a new one; echoed in the response) as the context of everything that handles it, and records
 * rate and latency by route pattern once the response is sent.
 */
export function httpObservabilityMiddleware(service: string) {
  return (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    const started = process.hrtime.bigint();
    const requestId = acceptRequestId(req.headers[REQUEST_ID_HEADER]);
    res.setHeader(REQUEST_ID_HEADER, requestId);
    res.once('finish', () => {
      const r = req as RoutedRequest;
      // The matched route pattern; requests that matched none share one label value.
      const route = r.route?.path !== undefined ? `${r.baseUrl ?? ''}${r.route.path}` : (r.originalUrl ?? req.url ?? '').split('?')[0] === METRICS_PATH ? METRICS_PATH : 'unmatched';
      const labels = { service, method: req.method ?? 'GET', route, status: String(res.statusCode) };
      httpRequests.inc(labels);
      httpRequestDuration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    });
    // Held until the response is done ('close' follows 'finish', and also comes when the client goes away first).
    res.once('close', holdRequestContext());
    runWithRequestContext({ requestId }, next);
  };
}
