/**
 * The Redis rate-limit store against a real redis-server (started on a free loopback port, killed
 * by pid): the Lua step agrees with the JS one, two apps with their own clients share one limit,
 * and a Redis that stops or hangs mid-test gives each limit its chosen failure mode.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { rateLimit, RedisRateLimitStore } from '../src/index.ts';
import { rateLimitChannel } from '../src/ratelimit/events.ts';
import type { RateLimitEvent } from '../src/ratelimit/events.ts';
import { TestClient } from '../src/testing.ts';
import { makeApp } from './helpers/both.ts';
import type { ErrorBody } from './helpers/both.ts';
import { freePort } from './helpers/net.ts';
import { startRedis } from './helpers/redis.ts';
import type { RedisServer } from './helpers/redis.ts';
import { pollUntil } from './helpers/wait.ts';

let shared: RedisServer | undefined;
before(async () => {
  shared = await startRedis();
});
after(async () => {
  await shared?.stop();
});
const url = (): string => (shared as RedisServer).url;
let prefixNo = 0;
const prefix = (): string => `rltest${++prefixNo}:`;

/** A redis-server of this test's own, for the tests that stop or freeze it. */
async function ownRedis(): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawn('/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => 50, maxRetriesPerRequest: 0 });
  probe.on('error', () => undefined);
  await pollUntil('the test redis-server to answer PING', () => probe.ping().then((p) => p === 'PONG', () => false));
  probe.disconnect();
  return {
    url: `redis://127.0.0.1:${port}`,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      process.kill(child.pid, 'SIGCONT');
      process.kill(child.pid, 'SIGKILL');
      await once(child, 'exit');
    },
  };
}

const from = (ip: string): { headers: Record<string, string> } => ({ headers: { 'x-forwarded-for': ip } });

describe('redis rate-limit store', () => {
  it('runs the same GCRA step as the memory store, with a key that expires when the bucket is full again', async () => {
    const client = new Redis(url());
    const p = prefix();
    const store = new RedisRateLimitStore({ client, prefix: p });
    const policy = { limit: 10, windowMs: 60_000 };
    for (let i = 0; i < 10; i++) {
      const d = await store.hit('k', policy, 1);
      assert.equal(d.allowed, true);
      assert.equal(d.remaining, 9 - i);
    }
    const refused = await store.hit('k', policy, 1);
    assert.equal(refused.allowed, false);
    // Derived from Redis's clock: a few ms of it passed between the calls, never more than a second.
    assert.ok(refused.retryAfterMs > 5_000 && refused.retryAfterMs <= 6_000, `retryAfterMs ${refused.retryAfterMs}`);
    const ttl = await client.pttl(`${p}k`);
    assert.ok(ttl > 59_000 && ttl <= 60_000, `pttl ${ttl}`);
    const refund = await store.hit('k', policy, -1);
    assert.equal(refund.remaining, 1);
    await store.reset('k');
    assert.equal(await client.exists(`${p}k`), 0);
    await store.close();
    // The store does not close a client it was given.
    assert.equal(await client.ping(), 'PONG');
    await client.quit();
  });

  it('shares one limit between two apps with their own Redis clients', async () => {
    const p = prefix();
    const given = new Redis(url());
    const apps = [0, 1].map((i) => {
      const app = makeApp({ trustProxy: 1 });
      // One app connects from a URL (the store owns that client), the other is given one.
      app.plugin(rateLimit, { limit: 4, windowSec: 60, store: new RedisRateLimitStore({ client: i === 0 ? url() : given, prefix: p }) });
      app.get('/', () => 'hi');
      return app;
    });
    const clients = apps.map((app) => new TestClient(app));
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await (clients[i % 2] as TestClient).get('/', from('198.51.100.7'))).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 429, 429]);
    // Another client address still has its own four.
    assert.equal((await (clients[1] as TestClient).get('/', from('198.51.100.8'))).status, 200);
    for (const app of apps) await app.shutdown();
    await given.quit();
  });
});

describe('redis down', () => {
  function outageApp(redisUrl: string, mode: 'open' | 'closed'): ReturnType<typeof makeApp> {
    const app = makeApp({ trustProxy: 1 });
    app.plugin(rateLimit, { name: `outage-${mode}`, limit: 2, windowSec: 60, headers: true, onStoreError: mode, store: new RedisRateLimitStore({ client: redisUrl, prefix: prefix(), cooldownMs: 50 }) });
    app.get('/', () => 'hi');
    return app;
  }

  it("lets requests through with onStoreError 'open' once Redis stops, counting each and logging once", async () => {
    const redis = await ownRedis();
    const events: RateLimitEvent[] = [];
    const listen = (e: RateLimitEvent): void => void events.push(e);
    rateLimitChannel.subscribe(listen);
    const app = outageApp(redis.url, 'open');
    const warnings: string[] = [];
    app.log.warn = ((_: unknown, message: string) => void warnings.push(message)) as typeof app.log.warn;
    try {
      const c = new TestClient(app);
      assert.deepEqual([await c.get('/', from('192.0.2.1')), await c.get('/', from('192.0.2.1')), await c.get('/', from('192.0.2.1'))].map((r) => r.status), [200, 200, 429]);
      await redis.stop();
      for (let i = 0; i < 5; i++) {
        const res = await c.get('/', from('192.0.2.1'));
        assert.equal(res.status, 200);
        assert.equal(res.headers['ratelimit'], undefined);
      }
      const errors = events.filter((e) => e.outcome === 'store-error' && e.limit === 'outage-open');
      assert.equal(errors.length, 5);
      assert.ok(errors.every((e) => e.mode === 'open' && e.key === 'ip'));
      assert.deepEqual(warnings, ["vial: the rate-limit store failed; until it answers, requests it should limit pass unlimited (onStoreError: 'open')"]);
    } finally {
      rateLimitChannel.unsubscribe(listen);
      await app.shutdown();
      await redis.stop();
    }
  });

  it("answers 503 with a clear body with onStoreError 'closed'", async () => {
    const redis = await ownRedis();
    const app = outageApp(redis.url, 'closed');
    try {
      const c = new TestClient(app);
      assert.equal((await c.get('/', from('192.0.2.2'))).status, 200);
      await redis.stop();
      const res = await c.get('/', from('192.0.2.2'));
      assert.equal(res.status, 503);
      assert.equal(res.headers['retry-after'], '1');
      const { error } = res.json<ErrorBody>();
      assert.equal(error.code, 'VIAL_ERR_RATE_LIMIT_UNAVAILABLE');
      assert.match(error.message, /rate limit "outage-closed" cannot be checked right now \(its store did not answer\)/);
    } finally {
      await app.shutdown();
      await redis.stop();
    }
  });

  it('does not hang requests on a Redis that stops answering (SIGSTOP), and limits again once it answers', async () => {
    const redis = await ownRedis();
    const app = makeApp({ trustProxy: 1 });
    app.plugin(rateLimit, { limit: 100, windowSec: 60, headers: true, store: new RedisRateLimitStore({ client: redis.url, prefix: prefix(), timeoutMs: 200 }) });
    app.get('/', () => 'hi');
    const infos: string[] = [];
    app.log.info = ((_: unknown, message: string) => void infos.push(message)) as typeof app.log.info;
    try {
      const c = new TestClient(app);
      assert.equal((await c.get('/', from('192.0.2.3'))).headers['ratelimit'], '"default";r=99;t=1');
      process.kill(redis.child.pid as number, 'SIGSTOP');
      // Fails open after timeoutMs; the cooldown then answers the next ones without waiting.
      const results = await Promise.all([0, 1, 2].map(() => c.get('/', from('192.0.2.3'))));
      assert.deepEqual(results.map((r) => [r.status, r.headers['ratelimit']]), [[200, undefined], [200, undefined], [200, undefined]]);
      process.kill(redis.child.pid as number, 'SIGCONT');
      await pollUntil('the limit to apply again after SIGCONT', async () => (await c.get('/', from('192.0.2.3'))).headers['ratelimit'] !== undefined);
      assert.deepEqual(infos, ['vial: the rate-limit store answers again; limits apply']);
    } finally {
      await app.shutdown();
      await redis.stop();
    }
  });
});
