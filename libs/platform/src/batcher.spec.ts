import { Batcher } from './batcher';

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

/** A flush that records its batches and can be held open, standing in for the database. */
function fakeStore() {
  const batches: number[][] = [];
  let gate: Promise<void> = Promise.resolve();
  let open: () => void = () => undefined;
  return {
    batches,
    hold() {
      gate = new Promise<void>((r) => (open = r));
    },
    release() {
      open();
    },
    flush: async (items: number[]) => {
      batches.push(items);
      await gate;
      return items.map((i) => i * 10);
    },
  };
}

describe('Batcher', () => {
  it('groups concurrent submissions into one flush and hands each caller its own result', async () => {
    const store = fakeStore();
    const b = new Batcher(store.flush, { windowMs: 5, maxBatch: 100, maxInFlight: 1 });
    const results = await Promise.all([1, 2, 3, 4].map((i) => b.submit(i)));
    expect(results).toEqual([10, 20, 30, 40]);
    expect(store.batches).toEqual([[1, 2, 3, 4]]);
  });

  it('flushes at maxBatch without waiting for the window', async () => {
    const store = fakeStore();
    const b = new Batcher(store.flush, { windowMs: 60_000, maxBatch: 3, maxInFlight: 4 });
    const all = Promise.all([1, 2, 3, 4, 5, 6].map((i) => b.submit(i)));
    await expect(all).resolves.toEqual([10, 20, 30, 40, 50, 60]);
    expect(store.batches).toEqual([[1, 2, 3], [4, 5, 6]]);
  });

  it('does not resolve a caller before its flush has committed', async () => {
    const store = fakeStore();
    store.hold();
    const b = new Batcher(store.flush, { windowMs: 0, maxBatch: 10, maxInFlight: 1 });
    let done = false;
    const p = b.submit(7).then((r) => (done = true) && r);
    await tick(10);
    expect(store.batches).toEqual([[7]]);
    expect(done).toBe(false);
    store.release();
    await expect(p).resolves.toBe(70);
  });

  it('queues behind a busy flush and takes everything waiting in the next one', async () => {
    const store = fakeStore();
    store.hold();
    const b = new Batcher(store.flush, { windowMs: 0, maxBatch: 100, maxInFlight: 1 });
    const first = b.submit(1);
    await tick(5);
    const rest = [2, 3, 4].map((i) => b.submit(i));
    await tick(5);
    expect(store.batches).toEqual([[1]]);
    store.release();
    await Promise.all([first, ...rest]);
    expect(store.batches).toEqual([[1], [2, 3, 4]]);
  });

  it('fails every caller of a failed flush, and keeps working afterwards', async () => {
    let fail = true;
    const b = new Batcher<number, number>(
      async (items) => {
        if (fail) throw new Error('database down');
        return items;
      },
      { windowMs: 1, maxBatch: 10, maxInFlight: 1 },
    );
    const failed = await Promise.allSettled([b.submit(1), b.submit(2)]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    await expect(b.submit(3)).resolves.toBe(3);
  });

  it('rejects a flush that returns the wrong number of results', async () => {
    const b = new Batcher<number, number>(async () => [], { windowMs: 0, maxBatch: 10, maxInFlight: 1 });
    await expect(b.submit(1)).rejects.toThrow(/0 results for 1 items/);
  });

  it('handles 1,000 concurrent submissions with bounded batches and in-flight flushes', async () => {
    let inFlight = 0;
    let peak = 0;
    const seen: number[] = [];
    const b = new Batcher<number, number>(
      async (items) => {
        peak = Math.max(peak, ++inFlight);
        await tick(2);
        seen.push(...items);
        inFlight--;
        return items.map((i) => -i);
      },
      { windowMs: 2, maxBatch: 64, maxInFlight: 2 },
    );
    const ids = Array.from({ length: 1000 }, (_, i) => i);
    const results = await Promise.all(ids.map((i) => b.submit(i)));
    expect(results).toEqual(ids.map((i) => -i));
    expect(seen.sort((x, y) => x - y)).toEqual(ids);
    expect(peak).toBeLessThanOrEqual(2);
    expect(b.stats.largest).toBeLessThanOrEqual(64);
    expect(b.stats.flushes).toBeGreaterThanOrEqual(16);
  });

  it('drain waits for everything submitted', async () => {
    const store = fakeStore();
    const b = new Batcher(store.flush, { windowMs: 50, maxBatch: 100, maxInFlight: 1 });
    const p = b.submit(1);
    await b.drain();
    expect(store.batches).toEqual([[1]]);
    await p;
  });
});
