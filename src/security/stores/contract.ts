/**
 * The contract every server-side session store fulfils; test/session-store-contract.ts runs the
 * same suite against each one.
 *
 * Stores never see the raw session id the client holds: the manager hands them a key derived
 * from it (SHA-256, base64url), so a leaked database or Redis dump holds no usable session ids.
 * Records must be JSON-serializable; stores copy on write and read, so a handler mutating a
 * loaded object never changes what is stored without a commit.
 */

export interface SessionRecord {
  readonly data: Record<string, unknown>;
  readonly userId?: string;
  /** Epoch milliseconds at creation; the absolute timeout counts from here. */
  readonly createdAt: number;
  /** Epoch milliseconds of the last request that touched the session; the idle timeout counts from here. */
  readonly lastSeenAt: number;
}

export interface SessionStore {
  /** The record, or undefined when absent or expired (an expired record is removed on the way). */
  get(key: string): Promise<SessionRecord | undefined>;
  /** Creates or replaces the record; it expires `ttlMs` from now (a positive integer). */
  set(key: string, record: SessionRecord, ttlMs: number): Promise<void>;
  /**
   * Replaces the record only if it still exists (and has not expired); returns whether it did.
   * The manager saves existing sessions this way, so a request that loaded a session before a
   * concurrent logout (or "log out everywhere") cannot bring it back by saving it afterwards.
   */
  update(key: string, record: SessionRecord, ttlMs: number): Promise<boolean>;
  /** Removes the record; removing an absent one is not an error. */
  destroy(key: string): Promise<void>;
  /** Removes every session of the user ("log out everywhere"); returns how many were removed. */
  destroyAllForUser?(userId: string): Promise<number>;
  /** Releases connections and timers the store opened itself. */
  close(): Promise<void>;
}

/** Validates the ttl a store receives: stores fail loudly rather than keep a session forever. */
export function assertTtl(ttlMs: number): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw new RangeError(`Session store ttlMs must be a positive integer, got ${ttlMs}.`);
  }
}

/** Runs synchronous store work so that a throw becomes a rejection, like the network stores. */
export function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}
