/**
 * Concurrent loads of one key share one promise (single flight): a burst of requests for a value not cached yet is
 * one read, not one per request queued on the pool. `forget(key)` detaches the load in flight, e.g. after the value
 * changed: later callers start their own, and the detached load, asking `current()` once it has read, knows not to
 * cache what may predate the change.
 */
export class SingleFlight<K, V> {
  private readonly inFlight = new Map<K, Promise<V>>();

  /**
   * The load in flight for `key`, or a new one. `current()` is true while this load is the key's (not forgotten,
   * not replaced); ask it after the load's first await, not before.
   */
  run(key: K, load: (current: () => boolean) => Promise<V>): Promise<V> {
    const running = this.inFlight.get(key);
    if (running) return running;
    const current = (): boolean => this.inFlight.get(key) === shared;
    const shared: Promise<V> = load(current).finally(() => {
      if (current()) this.inFlight.delete(key);
    });
    this.inFlight.set(key, shared);
    return shared;
  }

  /** Later callers of `key` start a load of their own; the one in flight (if any) sees `current()` false. */
  forget(key: K): void {
    this.inFlight.delete(key);
  }

  /** Loads in flight. */
  get size(): number {
    return this.inFlight.size;
  }
}
