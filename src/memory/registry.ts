/**
 * Process-wide registry of named caches, so an operator can list every cache the app holds
 * (the admin listener shows it) and spot the one that is full or never hit.
 *
 * Pure module: no I/O, no timers. Caches are held through `WeakRef`: a cache the app dropped
 * must be collectable, otherwise the registry meant to find leaks would become one. A
 * `FinalizationRegistry` removes the name once the cache is collected; `list()` also skips
 * entries whose target is already gone, because finalizers run at an unspecified later time.
 */

import { ConfigError } from '../errors.ts';

export interface CacheStats {
  readonly name: string;
  /** Entries currently held. */
  readonly size: number;
  /** Estimated bytes held; `null` when the cache is bounded by entries only (sizes not tracked). */
  readonly bytes: number | null;
  readonly maxEntries: number | null;
  readonly maxBytes: number | null;
  readonly hits: number;
  readonly misses: number;
  /** hits / (hits + misses), 0 before the first lookup. */
  readonly hitRate: number;
  /** Entries removed to respect a bound or because their TTL passed. */
  readonly evictions: number;
  readonly sets: number;
}

/** What the registry needs from a cache. `BoundedCache` implements it. */
export interface RegisteredCache {
  readonly name: string;
  stats(): CacheStats;
}

export interface RegisterOptions {
  /** Take the name over from a live cache instead of throwing. */
  replace?: boolean;
}

export class CacheRegistry {
  readonly #entries = new Map<string, WeakRef<RegisteredCache>>();
  // The held value is the name and the ref, never the cache itself: holding the cache would keep it alive.
  readonly #finalizer = new FinalizationRegistry<{ name: string; ref: WeakRef<RegisteredCache> }>(
    ({ name, ref }) => {
      if (this.#entries.get(name) === ref) this.#entries.delete(name);
    },
  );

  register(cache: RegisteredCache, options: RegisterOptions = {}): void {
    const existing = this.#entries.get(cache.name)?.deref();
    if (existing !== undefined && existing !== cache && options.replace !== true) {
      throw new ConfigError(
        'VIAL_ERR_CACHE_NAME_TAKEN',
        `A cache named "${cache.name}" already exists in this process. Give each cache a unique ` +
          'name (the name is how the admin listener and diagnostics refer to it), call dispose() on ' +
          'the old cache first, or pass `replace: true` to take the name over deliberately.',
      );
    }
    if (existing !== undefined && existing !== cache) this.unregister(existing);
    const ref = new WeakRef(cache);
    this.#entries.set(cache.name, ref);
    this.#finalizer.register(cache, { name: cache.name, ref }, ref);
  }

  /** Removes the cache if it is the one registered under its name. Returns whether it was. */
  unregister(cache: RegisteredCache): boolean {
    const ref = this.#entries.get(cache.name);
    if (ref === undefined || ref.deref() !== cache) return false;
    this.#entries.delete(cache.name);
    this.#finalizer.unregister(ref);
    return true;
  }

  /** Stats of the live cache registered under `name`. */
  get(name: string): CacheStats | undefined {
    return this.#entries.get(name)?.deref()?.stats();
  }

  has(name: string): boolean {
    return this.#entries.get(name)?.deref() !== undefined;
  }

  /** Stats of every live cache, sorted by name. */
  list(): CacheStats[] {
    const out: CacheStats[] = [];
    for (const [name, ref] of this.#entries) {
      const cache = ref.deref();
      if (cache === undefined) this.#entries.delete(name);
      else out.push(cache.stats());
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}

/** The one registry of this process (of this thread, for worker threads: each has its own heap). */
export const cacheRegistry: CacheRegistry = new CacheRegistry();
