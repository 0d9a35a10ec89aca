import { SingleFlight } from './single-flight';

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe('SingleFlight', () => {
  it('shares one load among concurrent callers of a key, and loads again once it settled', async () => {
    const flights = new SingleFlight<string, number>();
    const d = deferred<number>();
    let loads = 0;
    const load = () => {
      loads++;
      return d.promise;
    };
    const a = flights.run('k', load);
    const b = flights.run('k', load);
    expect(a).toBe(b);
    expect(flights.size).toBe(1);
    d.resolve(7);
    expect(await Promise.all([a, b])).toEqual([7, 7]);
    expect(flights.size).toBe(0);
    expect(await flights.run('k', async () => (loads++, 8))).toBe(8);
    expect(loads).toBe(2);
  });

  it('keeps keys apart and lets a failed load be retried', async () => {
    const flights = new SingleFlight<string, string>();
    const failed = flights.run('a', () => Promise.reject(new Error('down')));
    const other = flights.run('b', async () => 'b');
    await expect(failed).rejects.toThrow('down');
    expect(await other).toBe('b');
    expect(await flights.run('a', async () => 'a again')).toBe('a again');
  });

  it('after forget, later callers start their own load, and the detached one sees current() false', async () => {
    const flights = new SingleFlight<string, string>();
    const first = deferred<string>();
    const seen: boolean[] = [];
    const old = flights.run('k', async (current) => {
      const v = await first.promise;
      seen.push(current());
      return v;
    });
    flights.forget('k');
    const fresh = flights.run('k', async (current) => {
      await Promise.resolve();
      seen.push(current());
      return 'new';
    });
    expect(fresh).not.toBe(old);
    expect(await fresh).toBe('new');
    first.resolve('old');
    expect(await old).toBe('old');
    // The detached load settling does not drop the key's newer load (already settled here, so none is left).
    expect(seen).toEqual([true, false]);
    expect(flights.size).toBe(0);
  });

  it('a detached load that settles leaves the newer load in flight alone', async () => {
    const flights = new SingleFlight<string, string>();
    const first = deferred<string>();
    const second = deferred<string>();
    const old = flights.run('k', () => first.promise);
    flights.forget('k');
    const fresh = flights.run('k', () => second.promise);
    first.resolve('old');
    await old;
    expect(flights.run('k', () => Promise.resolve('third'))).toBe(fresh);
    second.resolve('new');
    expect(await fresh).toBe('new');
  });
});
