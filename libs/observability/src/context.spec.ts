import {
  acceptRequestId,
  contextHeadersFor,
  currentRequestId,
  heldRequestContexts,
  holdRequestContext,
  incomingRequestId,
  logContextFields,
  NATS_REQUEST_ID_HEADER,
  outgoingContextHeaders,
  REQUEST_ID_HEADER,
  runWithRequestContext,
  withRequestId,
} from './context';

const tick = (ms = 2) => new Promise((r) => setTimeout(r, ms));

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

  it('keeps the storage enabled only while a context is held (the per-promise hook costs every promise)', async () => {
    expect(heldRequestContexts()).toBe(0);
    let late: Promise<string | undefined> | undefined;
    const during = await runWithRequestContext({ requestId: 'req-2' }, async () => {
      // Scheduled inside, run after the work settled and its context was released.
      late = new Promise((r) => setTimeout(() => r(currentRequestId()), 20));
      await tick();
      return heldRequestContexts();
    });
    expect(during).toBe(1);
    expect(heldRequestContexts()).toBe(0);
    // Nothing holds a context any more, so the storage is off: the late callback has no id.
    expect(await late).toBeUndefined();
    expect(() => runWithRequestContext({ requestId: 'req-3' }, () => {
      throw new Error('boom');
    })).toThrow('boom');
    await expect(runWithRequestContext({ requestId: 'req-4' }, () => Promise.reject(new Error('no')))).rejects.toThrow('no');
    await tick();
    expect(heldRequestContexts()).toBe(0);
  });

  it('holds a context past a synchronous call until released, as a request outlives its middleware', async () => {
    const release = holdRequestContext();
    const seen = new Promise<string | undefined>((resolve) =>
      runWithRequestContext({ requestId: 'req-5' }, () => {
        setTimeout(() => {
          resolve(currentRequestId());
          release();
        }, 5);
      }),
    );
    expect(heldRequestContexts()).toBe(1);
    expect(await seen).toBe('req-5');
    expect(heldRequestContexts()).toBe(0);
    release();
    expect(heldRequestContexts()).toBe(0);
  });

  it('runs work under a given request id, or in the current context when none is given', () => {
    expect(withRequestId('req-6', () => currentRequestId())).toBe('req-6');
    expect(withRequestId(undefined, () => currentRequestId())).toBeUndefined();
    runWithRequestContext({ requestId: 'outer' }, () => expect(withRequestId(undefined, () => currentRequestId())).toBe('outer'));
    expect(contextHeadersFor('req-7', true)).toEqual({ [NATS_REQUEST_ID_HEADER]: 'req-7' });
    expect(contextHeadersFor('req-7', false)).toEqual({ [REQUEST_ID_HEADER]: 'req-7' });
    expect(contextHeadersFor(undefined, true)).toEqual({});
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
