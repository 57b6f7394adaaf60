/**
 * Session store on Redis through ioredis, for sessions shared beyond one machine. Each session is
 * one string key written with PX, so Redis itself expires it when the idle or absolute timeout
 * runs out; a per-user set lists a user's session keys for "log out every session of this user".
 * That set gets the longest ttl of its members (PEXPIRE ... GT, Redis 7+) and stale members are
 * dropped when it is used, so it never outlives the sessions it indexes.
 */

import type { Redis } from 'ioredis';
import { outsideRequestContext } from '../../context.ts';
import { assertTtl, type SessionRecord, type SessionStore } from './contract.ts';

export interface RedisStoreOptions {
  /** An ioredis client the app owns (not closed by the store), or a redis:// URL the store connects to and closes. */
  readonly client: Redis | string;
  /** Prefix of every key, to share one Redis between apps. Default 'vial:sess:'. */
  readonly prefix?: string;
}

export class RedisSessionStore implements SessionStore {
  readonly #redis: Promise<Redis>;
  readonly #owned: boolean;
  readonly #prefix: string;

  constructor(options: RedisStoreOptions) {
    this.#owned = typeof options.client === 'string';
    this.#redis = typeof options.client === 'string' ? connect(options.client) : Promise.resolve(options.client);
    // A failed load surfaces on the first command; until then it must not count as unhandled.
    this.#redis.catch(() => undefined);
    this.#prefix = options.prefix ?? 'vial:sess:';
  }

  #key(key: string): string {
    return `${this.#prefix}s:${key}`;
  }

  #userKey(userId: string): string {
    return `${this.#prefix}u:${userId}`;
  }

  async get(key: string): Promise<SessionRecord | undefined> {
    const redis = await this.#redis;
    const json = await redis.get(this.#key(key));
    return json === null ? undefined : (JSON.parse(json) as SessionRecord);
  }

  async set(key: string, record: SessionRecord, ttlMs: number): Promise<void> {
    const redis = await this.#redis;
    assertTtl(ttlMs);
    const json = JSON.stringify(record);
    if (record.userId === undefined) {
      await redis.set(this.#key(key), json, 'PX', ttlMs);
      return;
    }
    const userKey = this.#userKey(record.userId);
    await redis
      .multi()
      .set(this.#key(key), json, 'PX', ttlMs)
      .sadd(userKey, key)
      // NX sets a ttl on a new set, GT only ever lengthens it: the set lives as long as its longest session.
      .pexpire(userKey, ttlMs, 'NX')
      .pexpire(userKey, ttlMs, 'GT')
      .exec()
      .then(throwOnFailedStep);
  }

  async update(key: string, record: SessionRecord, ttlMs: number): Promise<boolean> {
    const redis = await this.#redis;
    assertTtl(ttlMs);
    // XX: only an existing key is replaced, atomically, so a destroyed session stays destroyed.
    const written = await redis.set(this.#key(key), JSON.stringify(record), 'PX', ttlMs, 'XX');
    if (written === null) return false;
    if (record.userId !== undefined) {
      const userKey = this.#userKey(record.userId);
      throwOnFailedStep(await redis.multi().sadd(userKey, key).pexpire(userKey, ttlMs, 'NX').pexpire(userKey, ttlMs, 'GT').exec());
    }
    return true;
  }

  async destroy(key: string): Promise<void> {
    const redis = await this.#redis;
    const json = await redis.get(this.#key(key));
    const userId = json === null ? undefined : (JSON.parse(json) as SessionRecord).userId;
    const tx = redis.multi().del(this.#key(key));
    if (userId !== undefined) tx.srem(this.#userKey(userId), key);
    throwOnFailedStep(await tx.exec());
  }

  async destroyAllForUser(userId: string): Promise<number> {
    const redis = await this.#redis;
    const userKey = this.#userKey(userId);
    const keys = await redis.smembers(userKey);
    if (keys.length === 0) return 0;
    // Only keys that still belong to the user: the set may hold members that expired or moved on.
    const records = await redis.mget(...keys.map((key) => this.#key(key)));
    const owned = keys.filter((_, i) => {
      const json = records[i];
      return typeof json === 'string' && (JSON.parse(json) as SessionRecord).userId === userId;
    });
    const tx = redis.multi();
    if (owned.length > 0) tx.del(...owned.map((key) => this.#key(key)));
    tx.srem(userKey, ...keys);
    const results = throwOnFailedStep(await tx.exec());
    return owned.length > 0 ? Number(results[0]?.[1] ?? 0) : 0;
  }

  async close(): Promise<void> {
    if (!this.#owned) return;
    // A client that never loaded has nothing to close.
    const redis = await this.#redis.catch(() => undefined);
    await redis?.quit();
  }
}

/**
 * ioredis is loaded when a store first connects, so apps on the SQLite or cookie store never pay
 * for it (~24 MiB of RSS and ~100 ms of startup here). The client is created outside any request,
 * which its sockets and timers would otherwise keep alive for the life of the process.
 */
function connect(url: string): Promise<Redis> {
  return outsideRequestContext(() =>
    import('ioredis').then(({ Redis: Client }) =>
      // A bounded retry per command: a Redis outage fails requests quickly (the manager turns a
      // failed load into an anonymous session) instead of queueing them without limit.
      new Client(url, { maxRetriesPerRequest: 2 }),
    ),
  );
}

type ExecResult = [error: Error | null, result: unknown][] | null;

function throwOnFailedStep(results: ExecResult): [Error | null, unknown][] {
  if (results === null) throw new Error('Redis transaction was aborted.');
  for (const [error] of results) if (error !== null) throw error;
  return results;
}
