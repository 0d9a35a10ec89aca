import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { verify } from '../src/domain/webhook-signing';

/** One request the receiver took. */
export interface Received {
  method: string;
  url: string;
  id: string;
  signature: string;
  body: string;
  /** Which of the receiver's secrets verified the signature (index), or -1 for a postback (GET, unsigned). */
  verifiedWith: number;
}

/**
 * A real HTTP receiver on 127.0.0.1, as a customer would run one: it verifies each webhook's Standard Webhooks
 * signature against the secrets it was given (answering 401 when none matches, so a bad signature fails the test
 * visibly), answers `status` (default 204), and can be stopped and started on the same port.
 */
export class TestReceiver {
  readonly received: Received[] = [];
  readonly refused: string[] = [];
  secrets: string[] = [];
  status = 204;
  private server?: http.Server;
  port = 0;

  async start(port = this.port): Promise<this> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        const id = String(req.headers['webhook-id'] ?? '');
        const signature = String(req.headers['webhook-signature'] ?? '');
        let verifiedWith = -1;
        if (req.method === 'POST') {
          verifiedWith = this.secrets.findIndex(
            (s) => verify(s, { id, timestamp: String(req.headers['webhook-timestamp'] ?? ''), signature }, body, Math.floor(Date.now() / 1000)).ok,
          );
          if (verifiedWith < 0) {
            this.refused.push(id);
            res.writeHead(401).end('bad signature');
            return;
          }
        }
        if (this.status >= 200 && this.status < 300) this.received.push({ method: req.method!, url: req.url!, id, signature, body, verifiedWith });
        res.writeHead(this.status).end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  /** Stops listening and drops open keep-alive connections: the port refuses connections until start(). */
  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Received webhooks whose body names this event type, parsed. */
  bodies(type?: string): Array<{ id: string; type: string; data: Record<string, unknown> }> {
    return this.received
      .filter((r) => r.method === 'POST')
      .map((r) => ({ id: r.id, ...(JSON.parse(r.body) as { type: string; data: Record<string, unknown> }) }))
      .filter((b) => !type || b.type === type);
  }
}
