import * as dns from 'node:dns';
import * as http from 'node:http';
import * as https from 'node:https';
import { isIP, LookupFunction } from 'node:net';
import { checkAddresses, DestinationRefused } from '../domain/destination.rules';

export interface SendRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
}

export interface SendResult {
  statusCode: number;
  latencyMs: number;
  /** Empty on a 2xx answer. */
  error: string;
}

const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * The guarded lookup: resolves every address of the host, refuses the name if any is not public, and connects to
 * a checked one. Checking inside the connection's own lookup (not before it) leaves no window for DNS rebinding.
 */
export const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dns.lookup(hostname, { all: true, family: options.family, hints: options.hints }, (err, addresses) => {
    if (err) return callback(err, '', 4);
    try {
      checkAddresses(hostname, addresses.map((a) => a.address));
    } catch (e) {
      return callback(e as NodeJS.ErrnoException, '', 4);
    }
    if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, addresses);
    callback(null, addresses[0].address, addresses[0].family);
  });
};

/**
 * Outbound HTTP with keep-alive agents (one connection pool per destination host is what makes 1,000+/s to one
 * receiver cheap), a per-request timeout, and the SSRF guard unless private destinations are allowed.
 */
export class HttpSender {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;

  constructor(private readonly allowPrivate: boolean, maxSockets = 256) {
    // As many idle sockets kept as may be busy: a burst that finishes together must not close and reopen connections.
    const opts = { keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo' as const };
    this.httpAgent = new http.Agent(opts);
    this.httpsAgent = new https.Agent(opts);
  }

  send(req: SendRequest): Promise<SendResult> {
    const started = performance.now();
    const latency = () => Math.round(performance.now() - started);
    return new Promise((resolve) => {
      let url: URL;
      try {
        url = new URL(req.url);
        if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`unsupported protocol ${url.protocol}`);
        // An IP literal never goes through the lookup, so it is checked here.
        const host = url.hostname.replace(/^\[|\]$/g, '');
        if (!this.allowPrivate && isIP(host)) checkAddresses(host, [host]);
      } catch (e) {
        return resolve({ statusCode: 0, latencyMs: latency(), error: (e as Error).message });
      }
      const isHttps = url.protocol === 'https:';
      let settled = false;
      const done = (r: SendResult) => {
        if (!settled) {
          settled = true;
          resolve(r);
        }
      };
      const body = req.body === undefined ? undefined : Buffer.from(req.body);
      const r = (isHttps ? https : http).request(
        url,
        {
          method: req.method,
          agent: isHttps ? this.httpsAgent : this.httpAgent,
          headers: { ...req.headers, ...(body ? { 'content-length': String(body.length) } : {}) },
          lookup: this.allowPrivate ? undefined : guardedLookup,
          timeout: req.timeoutMs,
        },
        (res) => {
          let seen = 0;
          res.on('data', (chunk: Buffer) => {
            seen += chunk.length;
            // The answer's body is not needed; a huge one is cut off rather than read.
            if (seen > MAX_RESPONSE_BYTES) res.destroy();
          });
          const finish = () => {
            const code = res.statusCode ?? 0;
            done({ statusCode: code, latencyMs: latency(), error: code >= 200 && code < 300 ? '' : `HTTP ${code}` });
          };
          res.on('end', finish);
          res.on('close', finish);
          res.on('error', finish);
        },
      );
      const deadline = setTimeout(() => {
        r.destroy(new Error(`timeout after ${req.timeoutMs} ms`));
      }, req.timeoutMs);
      r.on('timeout', () => r.destroy(new Error(`timeout after ${req.timeoutMs} ms`)));
      r.on('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(deadline);
        const msg = e instanceof DestinationRefused ? e.message : e.code && !e.message.includes(e.code) ? `${e.code}: ${e.message}` : e.message;
        done({ statusCode: 0, latencyMs: latency(), error: msg });
      });
      r.on('close', () => clearTimeout(deadline));
      r.end(body);
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
