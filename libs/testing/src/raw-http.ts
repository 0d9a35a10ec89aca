import { connect } from 'node:net';

/**
 * Sends bytes as they are to 127.0.0.1:`port` (for requests fetch would normalise or refuse to send; Node answers
 * malformed ones itself) and returns the answer's status and what was read of it: up to the end of its head, or with
 * `untilClose` everything until the server closes the connection. Fails after `timeoutMs` without a status line.
 */
export function rawHttp(
  port: number,
  request: string | Buffer,
  { untilClose = false, timeoutMs = 15_000 }: { untilClose?: boolean; timeoutMs?: number } = {},
): Promise<{ status: number; answer: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const statusOf = () => /^HTTP\/1\.[01] (\d{3})/.exec(data)?.[1];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer; got ${JSON.stringify(data.slice(0, 200))}`));
    }, timeoutMs);
    const done = () => {
      const status = statusOf();
      clearTimeout(timer);
      socket.destroy();
      if (status) resolve({ status: Number(status), answer: data });
      else reject(new Error(`connection closed without a status line; got ${JSON.stringify(data.slice(0, 200))}`));
    };
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      if (!untilClose && statusOf() && data.includes('\r\n\r\n')) done();
    });
    // Node may answer (431, 400) and close before all of a large request was written.
    socket.on('error', () => (statusOf() ? done() : undefined));
    socket.on('close', done);
    socket.write(typeof request === 'string' ? Buffer.from(request, 'latin1') : request);
  });
}
