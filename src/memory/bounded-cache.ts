/**
 * BoundedCache: the easy way to keep request-derived data in memory without a leak. It
 * refuses to exist without a bound, registers itself by name, and counts what it does.
 *
 * Pure module: no I/O. `lru-cache` keeps TTLs lazily (no per-entry timers; `ttlAutopurge` is
 * intentionally off), so expired entries are dropped on access or when the bound pushes them out.
 */

import { LRUCache } from 'lru-cache';
import { ConfigError } from '../errors.ts';
import { cacheRegistry } from './registry.ts';
import type { CacheStats, RegisteredCache } from './registry.ts';

/**
 * Any value but null and undefined (what `{}` means as a constraint): lru-cache uses `undefined`
 * to mean "absent", so keys and values cannot be nullish.
 */
export type NonNullish = NonNullable<unknown>;

export type EvictReason = 'evict' | 'expire';

export interface BoundedCacheOptions<K extends NonNullish, V extends NonNullish> {
  /** Unique in the process; shown by the admin listener and in diagnostics. */
  name: string;
  /** Most entries held at once. At least one of `maxEntries` and `maxBytes` is required. */
  maxEntries?: number;
  /** Most estimated bytes held at once (see `sizeOf`). */
  maxBytes?: number;
  /** Size of one entry in bytes, a positive integer. Default: `estimateBytes(value) + estimateBytes(key)`. */
  sizeOf?: (value: V, key: K) => number;
  /** Entries older than this are treated as absent. */
  ttlMs?: number;
  /** Called when an entry is pushed out by a bound or its TTL, not on delete/clear/overwrite. */
  onEvict?: (key: K, value: V, reason: EvictReason) => void;
  /** Take over the name of a live cache instead of throwing `VIAL_ERR_CACHE_NAME_TAKEN`. */
  replace?: boolean;
}

/**
 * A deliberately rough payload estimate, used when `maxBytes` is set without `sizeOf`:
 * strings count 2 bytes per UTF-16 code unit (V8's worst case; one-byte strings use less),
 * Buffers and typed arrays their `byteLength`, numbers/booleans 8, anything else the length of
 * its JSON text (0 when it cannot be serialised, e.g. cycles). V8 object overhead is not counted:
 * pass `sizeOf` when you know better.
 */
export function estimateBytes(value: unknown): number {
  if (typeof value === 'string') return 2 * value.length;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return 8;
  if (ArrayBuffer.isView(value)) return value.byteLength;
  if (value instanceof ArrayBuffer) return value.byteLength;
  try {
    return JSON.stringify(value)?.length ?? 0;
  } catch {
    return 0; // intentionally: a cyclic or BigInt-holding value gets no size rather than failing set()
  }
}

function checkBound(name: string, option: string, value: number | undefined): void {
  if (value === undefined) return;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new ConfigError(
      'VIAL_ERR_CACHE_UNBOUNDED',
      `BoundedCache "${name}": ${option} must be a positive integer, got ${String(value)}. ` +
        `Pass e.g. { name: "${name}", maxEntries: 10_000 } or { name: "${name}", maxBytes: 50 * 1024 * 1024 }.`,
    );
  }
}

export class BoundedCache<K extends NonNullish, V extends NonNullish> implements RegisteredCache {
  readonly name: string;
  readonly maxEntries: number | null;
  readonly maxBytes: number | null;
  readonly #lru: LRUCache<K, V>;
  #hits = 0;
  #misses = 0;
  #evictions = 0;
  #sets = 0;

  constructor(options: BoundedCacheOptions<K, V>) {
    const { name, maxEntries, maxBytes, sizeOf, ttlMs, onEvict } = options;
    if (typeof name !== 'string' || name === '') {
      throw new ConfigError('VIAL_ERR_CACHE_NAME_REQUIRED', 'BoundedCache needs a non-empty `name`, e.g. new BoundedCache({ name: "users", maxEntries: 10_000 }).');
    }
    if (maxEntries === undefined && maxBytes === undefined) {
      throw new ConfigError(
        'VIAL_ERR_CACHE_UNBOUNDED',
        `BoundedCache "${name}" has no bound, so it could grow until the process runs out of memory. ` +
          `Pass maxEntries and/or maxBytes, e.g. new BoundedCache({ name: "${name}", maxEntries: 10_000 }) ` +
          `or new BoundedCache({ name: "${name}", maxBytes: 50 * 1024 * 1024, sizeOf: (v) => v.length }).`,
      );
    }
    checkBound(name, 'maxEntries', maxEntries);
    checkBound(name, 'maxBytes', maxBytes);
    if (ttlMs !== undefined && (!Number.isSafeInteger(ttlMs) || ttlMs <= 0)) {
      throw new ConfigError('VIAL_ERR_CACHE_OPTIONS', `BoundedCache "${name}": ttlMs must be a positive integer (milliseconds), got ${String(ttlMs)}.`);
    }
    this.name = name;
    this.maxEntries = maxEntries ?? null;
    this.maxBytes = maxBytes ?? null;

    const measure = sizeOf ?? ((v: V, k: K) => estimateBytes(v) + estimateBytes(k));
    const opts: LRUCache.OptionsBase<K, V, unknown> = {
      dispose: (value, key, reason) => {
        if (reason !== 'evict' && reason !== 'expire') return;
        this.#evictions++;
        onEvict?.(key, value, reason);
      },
    };
    if (maxEntries !== undefined) opts.max = maxEntries;
    if (maxBytes !== undefined) {
      opts.maxSize = maxBytes;
      // lru-cache wants a positive integer; round and floor at 1 so an empty string still counts.
      opts.sizeCalculation = (v, k) => Math.max(1, Math.ceil(measure(v, k)));
    }
    if (ttlMs !== undefined) opts.ttl = ttlMs;
    // The union type wants a bound present statically; the checks above guarantee one at runtime.
    this.#lru = new LRUCache<K, V>(opts as LRUCache.Options<K, V, unknown>);
    cacheRegistry.register(this, options.replace === true ? { replace: true } : {});
  }

  /** Counts a hit or a miss and marks the entry as recently used. */
  get(key: K): V | undefined {
    const value = this.#lru.get(key);
    if (value === undefined) this.#misses++;
    else this.#hits++;
    return value;
  }

  /** Stores the value, evicting the least recently used entries if a bound requires it. An entry larger than maxBytes is not stored. */
  set(key: K, value: V): this {
    this.#sets++;
    this.#lru.set(key, value);
    return this;
  }

  /** Whether a live entry exists; does not count as a hit or change recency. */
  has(key: K): boolean {
    return this.#lru.has(key);
  }

  /** Reads without counting or changing recency. */
  peek(key: K): V | undefined {
    return this.#lru.peek(key);
  }

  delete(key: K): boolean {
    return this.#lru.delete(key);
  }

  clear(): void {
    this.#lru.clear();
  }

  get size(): number {
    return this.#lru.size;
  }

  /** Entries from most to least recently used; stale entries are skipped. */
  *entries(): Generator<[K, V]> {
    for (const [k, v] of this.#lru.entries()) yield [k, v];
  }

  stats(): CacheStats {
    const lookups = this.#hits + this.#misses;
    return {
      name: this.name,
      size: this.#lru.size,
      bytes: this.maxBytes === null ? null : this.#lru.calculatedSize,
      maxEntries: this.maxEntries,
      maxBytes: this.maxBytes,
      hits: this.#hits,
      misses: this.#misses,
      hitRate: lookups === 0 ? 0 : this.#hits / lookups,
      evictions: this.#evictions,
      sets: this.#sets,
    };
  }

  /** Removes the cache from the registry and drops its entries. The cache stays usable but unlisted. */
  dispose(): void {
    cacheRegistry.unregister(this);
    this.#lru.clear();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
