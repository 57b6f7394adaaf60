import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BoundedCache, estimateBytes } from '../src/memory/bounded-cache.ts';
import { cacheRegistry } from '../src/memory/registry.ts';
import { VialError } from '../src/errors.ts';

const N = 100_000;

// Every cache a test creates is disposed after it, so names are free for the next test.
const made: { dispose(): void }[] = [];
function track<T extends { dispose(): void }>(cache: T): T {
  made.push(cache);
  return cache;
}
afterEach(() => {
  for (const cache of made.splice(0)) cache.dispose();
});

describe('BoundedCache', () => {
  it('never holds more than maxEntries under 100,000 unique keys, and counts evictions', () => {
    const cache = track(new BoundedCache<string, string>({ name: 'test-entries', maxEntries: 1000 }));
    let largest = 0;
    for (let i = 0; i < N; i++) {
      cache.set(`k${i}`, `v${i}`);
      largest = Math.max(largest, cache.size);
    }
    assert.equal(largest, 1000);
    const stats = cache.stats();
    assert.equal(stats.size, 1000);
    assert.equal(stats.sets, N);
    assert.equal(stats.evictions, N - 1000);
    assert.equal(stats.bytes, null);
    // The newest keys survive, the oldest were evicted.
    assert.equal(cache.peek(`k${N - 1}`), `v${N - 1}`);
    assert.equal(cache.has('k0'), false);
  });

  it('never holds more than maxBytes under 100,000 unique keys', () => {
    const maxBytes = 64 * 1024;
    const cache = track(new BoundedCache<string, { payload: string }>({ name: 'test-bytes', maxBytes }));
    let largest = 0;
    for (let i = 0; i < N; i++) {
      cache.set(`k${i}`, { payload: 'x'.repeat(100) });
      largest = Math.max(largest, cache.stats().bytes ?? Infinity);
    }
    assert.ok(largest <= maxBytes, `held ${largest} bytes`);
    const stats = cache.stats();
    assert.ok(stats.size > 0 && stats.size < N);
    assert.equal(stats.evictions, N - stats.size);
  });

  it('uses a custom sizeOf when given', () => {
    const cache = track(new BoundedCache<string, Buffer>({ name: 'test-sizeof', maxBytes: 100, sizeOf: (v) => v.byteLength }));
    for (let i = 0; i < 20; i++) cache.set(`k${i}`, Buffer.alloc(10));
    assert.equal(cache.size, 10);
    assert.equal(cache.stats().bytes, 100);
  });

  it('estimates strings at 2 bytes per code unit, buffers at their length, other values by JSON length', () => {
    assert.equal(estimateBytes('abcd'), 8);
    assert.equal(estimateBytes(Buffer.alloc(7)), 7);
    assert.equal(estimateBytes({ a: 1 }), 7);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.equal(estimateBytes(cyclic), 0);
  });

  it('counts hits and misses on get, but not on peek or has', () => {
    const cache = track(new BoundedCache<string, number>({ name: 'test-hits', maxEntries: 10 }));
    cache.set('a', 1);
    assert.equal(cache.get('a'), 1);
    assert.equal(cache.get('a'), 1);
    assert.equal(cache.get('b'), undefined);
    cache.peek('a');
    cache.has('b');
    const stats = cache.stats();
    assert.equal(stats.hits, 2);
    assert.equal(stats.misses, 1);
    assert.equal(stats.hitRate, 2 / 3);
  });

  it('calls onEvict for entries pushed out by the bound, not for deletes', () => {
    const evicted: string[] = [];
    const cache = track(new BoundedCache<string, number>({ name: 'test-onevict', maxEntries: 2, onEvict: (k, _v, reason) => evicted.push(`${k}:${reason}`) }));
    cache.set('a', 1).set('b', 2).set('c', 3);
    cache.delete('b');
    cache.clear();
    assert.deepEqual(evicted, ['a:evict']);
  });

  it('treats entries older than ttlMs as absent', async () => {
    const cache = track(new BoundedCache<string, number>({ name: 'test-ttl', maxEntries: 10, ttlMs: 1 }));
    cache.set('a', 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(cache.get('a'), undefined);
  });

  it('lists its entries from most to least recently used', () => {
    const cache = track(new BoundedCache<string, number>({ name: 'test-entries-order', maxEntries: 10 }));
    cache.set('a', 1).set('b', 2);
    cache.get('a');
    assert.deepEqual([...cache.entries()], [['a', 1], ['b', 2]]);
  });
});

describe('BoundedCache bounds', () => {
  it('refuses to exist without a bound, and says how to add one', () => {
    assert.throws(
      () => new BoundedCache<string, string>({ name: 'nobound' }),
      (err: unknown) => err instanceof VialError && err.code === 'VIAL_ERR_CACHE_UNBOUNDED' && err.message.includes('maxEntries: 10_000'),
    );
    assert.equal(cacheRegistry.has('nobound'), false);
  });

  it('refuses non-positive and non-integer bounds', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Infinity]) {
      assert.throws(() => new BoundedCache<string, string>({ name: 'bad', maxEntries: bad }), { code: 'VIAL_ERR_CACHE_UNBOUNDED' });
      assert.throws(() => new BoundedCache<string, string>({ name: 'bad', maxBytes: bad }), { code: 'VIAL_ERR_CACHE_UNBOUNDED' });
    }
  });
});

describe('cacheRegistry', () => {
  it('lists a cache by name with its stats and drops it after dispose', () => {
    const cache = new BoundedCache<string, number>({ name: 'test-registry', maxEntries: 5 });
    cache.set('a', 1);
    const listed = cacheRegistry.list().find((s) => s.name === 'test-registry');
    assert.equal(listed?.size, 1);
    assert.equal(cacheRegistry.get('test-registry')?.maxEntries, 5);
    cache.dispose();
    assert.equal(cacheRegistry.list().some((s) => s.name === 'test-registry'), false);
    assert.equal(cacheRegistry.get('test-registry'), undefined);
  });

  it('refuses a duplicate name unless replace is set', () => {
    const first = track(new BoundedCache<string, number>({ name: 'test-dup', maxEntries: 5 }));
    assert.throws(() => new BoundedCache<string, number>({ name: 'test-dup', maxEntries: 5 }), { code: 'VIAL_ERR_CACHE_NAME_TAKEN' });
    const second = track(new BoundedCache<string, number>({ name: 'test-dup', maxEntries: 7, replace: true }));
    assert.equal(cacheRegistry.get('test-dup')?.maxEntries, 7);
    // Disposing the replaced cache must not unregister its successor.
    first.dispose();
    assert.equal(cacheRegistry.get('test-dup')?.maxEntries, 7);
    second.dispose();
    assert.equal(cacheRegistry.has('test-dup'), false);
  });

  it('allows the name again once the old cache is disposed', () => {
    new BoundedCache<string, number>({ name: 'test-reuse', maxEntries: 5 }).dispose();
    const again = track(new BoundedCache<string, number>({ name: 'test-reuse', maxEntries: 5 }));
    assert.equal(cacheRegistry.has(again.name), true);
  });
});
