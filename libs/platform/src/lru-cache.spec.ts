import { ManualClock } from '@trackly/kernel';
import { LruCache } from './lru-cache';

describe('LruCache', () => {
  const clock = new ManualClock(new Date('2026-11-02T10:00:00Z'));

  it('evicts the least recently used entry when full', () => {
    const c = new LruCache<string, number>(2, 60_000, clock);
    c.set('a', 1);
    c.set('b', 2);
    expect(c.get('a')).toBe(1); // a is now the most recent
    c.set('c', 3);
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toBe(1);
    expect(c.get('c')).toBe(3);
    expect(c.size).toBe(2);
  });

  it('expires entries after the TTL and counts hits and misses', () => {
    const c = new LruCache<string, number>(10, 1_000, clock);
    c.set('a', 1);
    clock.advance(999);
    expect(c.get('a')).toBe(1);
    clock.advance(1);
    expect(c.get('a')).toBeUndefined();
    expect(c.size).toBe(0);
    expect([c.hits, c.misses]).toEqual([1, 1]);
  });

  it('overwrites, deletes and clears', () => {
    const c = new LruCache<string, number>(10, 1_000, clock);
    c.set('a', 1);
    c.set('a', 2);
    expect(c.get('a')).toBe(2);
    expect(c.size).toBe(1);
    c.delete('a');
    expect(c.get('a')).toBeUndefined();
    c.set('b', 1);
    c.clear();
    expect(c.size).toBe(0);
  });

  it('refuses a zero bound', () => {
    expect(() => new LruCache(0, 1, clock)).toThrow(/at least one/);
  });
});
