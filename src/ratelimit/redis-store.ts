/**
 * The Redis rate-limit store, shared by every worker and machine that points at the same Redis.
 * One GCRA step is one Lua script (EVALSHA through ioredis `defineCommand`, which falls back to
 * EVAL once after a restart emptied the script cache): atomic, one round trip, and on Redis's
 * clock (`TIME`), so machines whose clocks disagree still share one limit. Each key holds one
 * number, the TAT, with a PX expiry at the moment its bucket is full again, so Redis drops idle
 * keys by itself.
 *
 * A hung or unreachable Redis never holds a request: each call is bounded by `timeoutMs`, a client
 * that is not connected fails at once (no offline queue piling up), and after a failure the store
 * answers "unavailable" without trying for `cooldownMs`, so an outage costs one timeout per
 * cooldown, not one per request. What the request gets then is the limit's `onStoreError`.
 */
import type { Redis } from 'ioredis';
import { outsideRequestContext } from '../context.ts';
import { ConfigError } from '../errors.ts';
import { decide } from './gcra.ts';
import type { GcraPolicy, RateDecision } from './gcra.ts';
import { RateLimitStoreError } from './store.ts';
import type { RateLimitStore } from './store.ts';

export interface RedisRateLimitStoreOptions {
  /** An ioredis client the app owns (not closed by the store), or a redis:// URL the store connects to and closes. */
  readonly client: Redis | string;
  /** Prefix of every key. Default 'vial:rl:'. */
  readonly prefix?: string;
  /** Longest wait for one answer, in ms. Default 100 (a healthy Redis answers in well under 1). */
  readonly timeoutMs?: number;
  /** After a failure, how long to answer "unavailable" without trying, in ms. Default 1000. */
  readonly cooldownMs?: number;
}

/**
 * gcraStep (gcra.ts) in Lua. KEYS[1]: the key; ARGV: intervalMs, windowMs, cost, epsilon.
 * Returns { allowed (1/0), usedMs as a string } (Lua numbers would be truncated to integers).
 */
const SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local eps = tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]))
local base = now
if tat ~= nil and tat > now then base = tat end
local nxt = base + cost * interval
if cost < 0 and nxt < now then nxt = now end
if nxt - now <= window + eps then
  local ttl = math.ceil(nxt - now)
  if ttl > 0 then
    redis.call('SET', KEYS[1], string.format('%.3f', nxt), 'PX', ttl)
  else
    redis.call('DEL', KEYS[1])
  end
  return {1, string.format('%.3f', nxt - now)}
end
return {0, string.format('%.3f', base - now)}
`;

const DOWN = new Set(['reconnecting', 'close', 'end']);

type ScriptClient = Redis & { vialRateLimit(key: string, intervalMs: string, windowMs: string, cost: string, eps: string): Promise<[number, string]> };

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new ConfigError('VIAL_ERR_RATE_LIMIT_OPTIONS', `RedisRateLimitStore: ${name} is a positive number of milliseconds, got ${String(value)}.`);
  return value;
}

export class RedisRateLimitStore implements RateLimitStore {
  readonly kind = 'redis';
  readonly #redis: Promise<ScriptClient>;
  readonly #owned: boolean;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #cooldownMs: number;
  #client: ScriptClient | undefined;
  #coolUntil = 0;

  constructor(options: RedisRateLimitStoreOptions) {
    this.#owned = typeof options.client === 'string';
    this.#prefix = options.prefix ?? 'vial:rl:';
    this.#timeoutMs = positive('timeoutMs', options.timeoutMs ?? 100);
    this.#cooldownMs = positive('cooldownMs', options.cooldownMs ?? 1000);
    const loading = typeof options.client === 'string' ? connect(options.client, this.#timeoutMs) : Promise.resolve(options.client);
    this.#redis = loading.then((client) => {
      client.defineCommand('vialRateLimit', { numberOfKeys: 1, lua: SCRIPT });
      this.#client = client as ScriptClient;
      return this.#client;
    });
    // A failed load surfaces on the first hit; until then it must not count as unhandled.
    this.#redis.catch(() => undefined);
  }

  async hit(key: string, policy: GcraPolicy, cost: number): Promise<RateDecision> {
    const [allowed, usedMs] = await this.#call((redis) =>
      redis.vialRateLimit(this.#prefix + key, String(policy.windowMs / policy.limit), String(policy.windowMs), String(cost), '0.000001'),
    );
    return decide(allowed === 1, Number(usedMs), policy, cost);
  }

  async reset(key: string): Promise<void> {
    await this.#call((redis) => redis.del(this.#prefix + key));
  }

  async #call<T>(command: (redis: ScriptClient) => Promise<T>): Promise<T> {
    if (Date.now() < this.#coolUntil) throw new RateLimitStoreError(`Redis failed less than ${this.#cooldownMs} ms ago; not retried until then.`);
    const client = this.#client;
    // Lost its connection: fail now rather than queue behind a reconnect that may never come. (A
    // client still making its first connection is given the timeout.)
    if (client !== undefined && DOWN.has(client.status)) return this.#fail(new RateLimitStoreError(`Redis is not connected (status "${client.status}").`));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RateLimitStoreError(`Redis did not answer within ${this.#timeoutMs} ms.`)), this.#timeoutMs);
    });
    try {
      // The first calls wait for the client to load and connect, within the same bound.
      return await Promise.race([client === undefined ? this.#redis.then(command) : command(client), timeout]);
    } catch (error) {
      return this.#fail(error instanceof RateLimitStoreError ? error : new RateLimitStoreError(`Redis failed: ${(error as Error).message}`, { cause: error }));
    } finally {
      clearTimeout(timer);
    }
  }

  #fail(error: RateLimitStoreError): never {
    this.#coolUntil = Date.now() + this.#cooldownMs;
    throw error;
  }

  async close(): Promise<void> {
    if (!this.#owned) return;
    const redis = await this.#redis.catch(() => undefined);
    if (redis === undefined) return;
    // quit() waits for an answer a dead Redis never sends; disconnect() does not.
    if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
    else redis.disconnect();
  }
}

/**
 * ioredis is loaded on first use (apps without Redis never pay for it), outside any request so
 * its sockets and timers are not tied to one. No offline queue and one retry per command: during
 * an outage a command fails at once instead of waiting for a reconnect.
 */
function connect(url: string, timeoutMs: number): Promise<Redis> {
  return outsideRequestContext(() =>
    import('ioredis').then(({ Redis: Client }) => {
      const client = new Client(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: timeoutMs, connectTimeout: Math.max(1000, timeoutMs) });
      // Without a listener ioredis prints every reconnect error; the limiter reports outages itself.
      client.on('error', () => undefined);
      // Resolved once connected (or once the first attempt failed: calls then fail fast on status).
      return new Promise<Redis>((resolve) => {
        const done = (): void => {
          client.off('ready', done).off('error', done);
          resolve(client);
        };
        client.on('ready', done).on('error', done);
      });
    }),
  );
}
