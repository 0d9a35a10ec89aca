/** A bounded map with a time-to-live: least recently used entries go first when full, stale ones on read. */
import type { Clock } from '@trackly/kernel';

export class LruCache<K, V> {
  private readonly entries = new Map<K, { value: V; expires: number }>();
  hits = 0;
  misses = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
    private readonly clock: Clock,
  ) {
    if (maxEntries < 1) throw new Error('LruCache needs room for at least one entry');
  }

  get(key: K): V | undefined {
    const e = this.entries.get(key);
    if (!e || e.expires <= this.clock.now().getTime()) {
      if (e) this.entries.delete(key);
      this.misses++;
      return undefined;
    }
    // Re-inserting moves the key to the end: Map iteration order is the recency order.
    this.entries.delete(key);
    this.entries.set(key, e);
    this.hits++;
    return e.value;
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expires: this.clock.now().getTime() + this.ttlMs });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as K);
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
