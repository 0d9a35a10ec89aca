import {
  acceptRequestId,
  currentRequestId,
  incomingRequestId,
  logContextFields,
  NATS_REQUEST_ID_HEADER,
  outgoingContextHeaders,
  REQUEST_ID_HEADER,
  runWithRequestContext,
} from './context';

describe('request context', () => {
  it('keeps the request id across awaits and timers inside the work, and nowhere else', async () => {
    expect(currentRequestId()).toBeUndefined();
    const seen = await runWithRequestContext({ requestId: 'req-1' }, async () => {
      await new Promise((r) => setTimeout(r, 5));
      return new Promise<string | undefined>((r) => setImmediate(() => r(currentRequestId())));
    });
    expect(seen).toBe('req-1');
    expect(currentRequestId()).toBeUndefined();
    expect(logContextFields()).toEqual({});
  });

  it('puts the id in outgoing gRPC metadata and NATS headers under their own names', () => {
    expect(outgoingContextHeaders(false)).toEqual({});
    runWithRequestContext({ requestId: 'abc-123' }, () => {
      expect(outgoingContextHeaders(false)).toEqual({ [REQUEST_ID_HEADER]: 'abc-123' });
      expect(outgoingContextHeaders(true)).toEqual({ [NATS_REQUEST_ID_HEADER]: 'abc-123' });
      expect(logContextFields()).toEqual({ requestId: 'abc-123' });
    });
  });

  it('accepts short printable ids from outside and replaces anything else', () => {
    expect(acceptRequestId('3f1c-9:x.y_z')).toBe('3f1c-9:x.y_z');
    for (const bad of ['', 'has space', 'line\nbreak', 'x'.repeat(129), undefined, 42, ['a']]) {
      const id = acceptRequestId(bad);
      expect(id).not.toEqual(bad);
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('reads the id from NATS headers or gRPC metadata, else falls back to the event id', () => {
    const headers: Record<string, string> = { [NATS_REQUEST_ID_HEADER]: 'from-nats' };
    expect(incomingRequestId((n) => headers[n], 'evt-1')).toBe('from-nats');
    expect(incomingRequestId((n) => ({ [REQUEST_ID_HEADER]: 'from-grpc' })[n], 'evt-1')).toBe('from-grpc');
    expect(incomingRequestId(() => undefined, 'evt-1')).toBe('evt-1');
    expect(incomingRequestId(() => 'bad id', 'evt 2')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
