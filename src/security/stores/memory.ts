/**
 * Bounded in-memory session store, for tests and single-process development. Bounded by entry
 * count: the least recently used session is evicted first, so a flood of logins cannot grow the
 * heap (failure #1 in DESIGN.md). Nothing survives a restart and nothing is shared between
 * workers: use the SQLite or Redis store for that.
 *
 * No timers: expiry is checked on read against the injected clock.
 */

import { LRUCache } from 'lru-cache';
import { ConfigError } from '../../errors.ts';
import { assertTtl, settle, type SessionRecord, type SessionStore } from './contract.ts';

export interface MemoryStoreOptions {
  /** Sessions kept before the least recently used is evicted. Default 10,000. */
  readonly maxEntries?: number;
  /** Clock in epoch milliseconds; tests inject one to expire records without waiting. */
  readonly now?: () => number;
}

interface Entry {
  readonly json: string;
  readonly userId: string | undefined;
  readonly expiresAt: number;
}

export class MemorySessionStore implements SessionStore {
  readonly #cache: LRUCache<string, Entry>;
  readonly #byUser = new Map<string, Set<string>>();
  readonly #now: () => number;

  constructor(options: MemoryStoreOptions = {}) {
    const maxEntries = options.maxEntries ?? 10_000;
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
      throw new ConfigError('VIAL_ERR_SESSION_OPTIONS', `Memory session store maxEntries must be a positive integer, got ${maxEntries}.`);
    }
    this.#now = options.now ?? Date.now;
    this.#cache = new LRUCache<string, Entry>({
      max: maxEntries,
      // Keeps the per-user index exactly as large as the cache, whatever removed the entry.
      dispose: (entry, key) => this.#unindex(entry.userId, key),
    });
  }

  get size(): number {
    return this.#cache.size;
  }

  get(key: string): Promise<SessionRecord | undefined> {
    return settle(() => {
      const entry = this.#cache.get(key);
      if (entry === undefined) return undefined;
      if (entry.expiresAt <= this.#now()) {
        this.#cache.delete(key);
        return undefined;
      }
      return JSON.parse(entry.json) as SessionRecord;
    });
  }

  set(key: string, record: SessionRecord, ttlMs: number): Promise<void> {
    return settle(() => this.#set(key, record, ttlMs));
  }

  #set(key: string, record: SessionRecord, ttlMs: number): void {
    assertTtl(ttlMs);
    // Serialized like the other stores, so non-JSON data fails here too and copies never alias.
    const entry: Entry = { json: JSON.stringify(record), userId: record.userId, expiresAt: this.#now() + ttlMs };
    this.#cache.set(key, entry);
    if (entry.userId !== undefined) {
      let keys = this.#byUser.get(entry.userId);
      if (keys === undefined) this.#byUser.set(entry.userId, (keys = new Set()));
      keys.add(key);
    }
  }

  update(key: string, record: SessionRecord, ttlMs: number): Promise<boolean> {
    return settle(() => {
      const entry = this.#cache.peek(key);
      if (entry === undefined || entry.expiresAt <= this.#now()) return false;
      this.#set(key, record, ttlMs);
      return true;
    });
  }

  destroy(key: string): Promise<void> {
    this.#cache.delete(key);
    return Promise.resolve();
  }

  destroyAllForUser(userId: string): Promise<number> {
    const keys = this.#byUser.get(userId);
    if (keys === undefined) return Promise.resolve(0);
    let removed = 0;
    for (const key of [...keys]) {
      const entry = this.#cache.peek(key);
      if (entry !== undefined && entry.userId === userId) {
        if (entry.expiresAt > this.#now()) removed++;
        this.#cache.delete(key);
      }
    }
    this.#byUser.delete(userId);
    return Promise.resolve(removed);
  }

  close(): Promise<void> {
    this.#cache.clear();
    return Promise.resolve();
  }

  #unindex(userId: string | undefined, key: string): void {
    if (userId === undefined) return;
    const keys = this.#byUser.get(userId);
    if (keys === undefined) return;
    keys.delete(key);
    if (keys.size === 0) this.#byUser.delete(userId);
  }
}
