/**
 * The in-process rate-limit store: one TAT per key in a BoundedCache, so a flood of distinct keys
 * (spoofed IPv6 addresses, random API keys) cannot grow memory past `maxEntries`. When it is full
 * the least recently used key is forgotten: a client hammering the app is always recent, so what
 * goes first is the long-idle key whose bucket has mostly drained anyway. Each worker process has
 * its own store; use the Redis store to share limits between workers and machines.
 *
 * No timers: a TAT in the past means a full bucket, so stale entries are simply ignored until the
 * bound pushes them out. The clock is injectable for tests.
 */
import { BoundedCache } from '../memory/bounded-cache.ts';
import { ConfigError } from '../errors.ts';
import { decide, gcraStep } from './gcra.ts';
import type { GcraPolicy, RateDecision } from './gcra.ts';
import type { RateLimitStore } from './store.ts';

export interface MemoryRateLimitStoreOptions {
  /**
   * Most keys held. Default 100,000: about 12 MiB at ~120 bytes per key (a 40-character key and a
   * number, with lru-cache's bookkeeping), whatever the traffic.
   */
  readonly maxEntries?: number;
  /** Cache name in /metrics and the admin listener. Default 'ratelimit', numbered if taken. */
  readonly name?: string;
  /** Milliseconds since the epoch; default Date.now. Tests pass a fake clock. */
  readonly now?: () => number;
}

let instances = 0;

/** Mutable on purpose: an allowed request updates the TAT in place, sparing the cache a set(). */
interface Entry {
  tat: number;
}

export class MemoryRateLimitStore implements RateLimitStore {
  readonly kind = 'memory';
  readonly #cache: BoundedCache<string, Entry>;
  readonly #now: () => number;

  constructor(options: MemoryRateLimitStoreOptions = {}) {
    const maxEntries = options.maxEntries ?? 100_000;
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
      throw new ConfigError('VIAL_ERR_RATE_LIMIT_OPTIONS', `MemoryRateLimitStore: maxEntries is a positive integer, got ${String(maxEntries)}.`);
    }
    instances++;
    this.#cache = new BoundedCache<string, Entry>({ name: options.name ?? (instances === 1 ? 'ratelimit' : `ratelimit-${instances}`), maxEntries });
    this.#now = options.now ?? Date.now;
  }

  hit(key: string, policy: GcraPolicy, cost: number): RateDecision {
    const now = this.#now();
    const entry = this.#cache.get(key);
    const step = gcraStep(entry?.tat, now, policy, cost);
    // An empty bucket needs no entry: absent and "TAT in the past" mean the same.
    if (step.tat <= now) {
      if (entry !== undefined) this.#cache.delete(key);
    } else if (entry !== undefined) entry.tat = step.tat;
    else this.#cache.set(key, { tat: step.tat });
    return decide(step.allowed, step.usedMs, policy, cost);
  }

  reset(key: string): void {
    this.#cache.delete(key);
  }

  /** Keys held now (bounded by maxEntries). */
  get size(): number {
    return this.#cache.size;
  }

  get maxEntries(): number {
    return this.#cache.maxEntries ?? 0;
  }

  close(): Promise<void> {
    this.#cache.dispose();
    return Promise.resolve();
  }
}

/**
 * The default store: a MemoryRateLimitStore made on first use, so an app whose routes never hit a
 * limit (login protection is on by default, most routes are no login) holds no cache at all.
 */
export class LazyMemoryRateLimitStore implements RateLimitStore {
  readonly kind = 'memory';
  #store: MemoryRateLimitStore | undefined;

  hit(key: string, policy: GcraPolicy, cost: number): RateDecision {
    this.#store ??= new MemoryRateLimitStore();
    return this.#store.hit(key, policy, cost);
  }

  reset(key: string): void {
    this.#store?.reset(key);
  }

  close(): Promise<void> {
    return this.#store?.close() ?? Promise.resolve();
  }
}
