import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { currentRequestId, heldRequestContexts, REQUEST_ID_HEADER } from './context';
import { defaultMetricsPort, httpObservabilityMiddleware, startMetricsServer } from './http';
import { renderMetrics } from './metrics';

function get(port: number, path: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string; headers: Record<string, unknown> }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('metrics server', () => {
  it('serves the exposition format on /metrics and nothing else', async () => {
    const server = await startMetricsServer(0, '127.0.0.1');
    try {
      const res = await get(server.port, '/metrics');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(res.body).toContain('# TYPE grpc_server_handled_total counter');
      expect((await get(server.port, '/')).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('fails to start on a port in use (the app then refuses to start rather than run unobserved)', async () => {
    const first = await startMetricsServer(0, '127.0.0.1');
    await expect(startMetricsServer(first.port, '127.0.0.1')).rejects.toThrow(/EADDRINUSE/);
    await first.close();
  });

  it('gives each app its own default port', () => {
    const ports = ['tracking', 'ingest', 'attribution', 'reporting', 'gateway'].map(defaultMetricsPort);
    expect(new Set(ports).size).toBe(5);
    expect(defaultMetricsPort('attribution')).toBe(9466);
  });
});

describe('HTTP middleware', () => {
  it('gives each request an id (the caller\'s when acceptable), visible to the handler, and counts it by route', async () => {
    const mw = httpObservabilityMiddleware('mwtest');
    const seen: (string | undefined)[] = [];
    const server = createServer((req, res) =>
      mw(req, res, () => {
        setTimeout(() => {
          seen.push(currentRequestId());
          // What Express sets once a route matched.
          if (req.url!.startsWith('/c/')) Object.assign(req, { route: { path: '/c/:code' }, baseUrl: '' });
          res.statusCode = req.url!.startsWith('/c/') ? 302 : 404;
          res.end();
        }, 1);
      }),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const a = await get(port, '/c/abc', { [REQUEST_ID_HEADER]: 'given-id-1' });
      const b = await get(port, '/c/def');
      const c = await get(port, '/nope?x=1', { [REQUEST_ID_HEADER]: 'bad id' });
      expect(a.headers[REQUEST_ID_HEADER]).toBe('given-id-1');
      expect(b.headers[REQUEST_ID_HEADER]).toMatch(/^[0-9a-f-]{36}$/);
      expect(c.headers[REQUEST_ID_HEADER]).toMatch(/^[0-9a-f-]{36}$/);
      expect(seen).toEqual([a.headers[REQUEST_ID_HEADER], b.headers[REQUEST_ID_HEADER], c.headers[REQUEST_ID_HEADER]]);
      // Each request held its context until its response closed, and released it then.
      for (let i = 0; i < 50 && heldRequestContexts() > 0; i++) await new Promise((r) => setTimeout(r, 2));
      expect(heldRequestContexts()).toBe(0);
      const text = await renderMetrics();
      expect(text).toMatch(/^http_server_requests_total\{service="mwtest",method="GET",route="\/c\/:code",status="302"\} 2$/m);
      expect(text).toMatch(/^http_server_requests_total\{service="mwtest",method="GET",route="unmatched",status="404"\} 1$/m);
      expect(text).toMatch(/^http_server_request_duration_seconds_count\{service="mwtest",method="GET",route="\/c\/:code",status="302"\} 2$/m);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
