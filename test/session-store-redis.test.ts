/**
 * Runs the store contract against a real redis-server this file starts on a free loopback port
 * and kills (by pid) when done. CI installs redis-server; a missing binary fails loudly.
 */

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createSessionManager } from '../src/security/session-manager.ts';
import { RedisSessionStore } from '../src/security/stores/redis.ts';
import { runStoreContract } from './session-store-contract.ts';
import { startRedis } from './helpers/redis.ts';
import type { RedisServer } from './helpers/redis.ts';

let redisServer: RedisServer | undefined;
let port = 0;
let prefixNo = 0;

before(async () => {
  redisServer = await startRedis();
  port = redisServer.port;
});

after(async () => {
  await redisServer?.stop();
});

const url = (): string => `redis://127.0.0.1:${port}`;

runStoreContract('redis', () =>
  Promise.resolve({
    store: new RedisSessionStore({ client: url(), prefix: `t${++prefixNo}:` }),
    // Redis expires keys on its own clock: wait for real, a little beyond the ttl.
    advance: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms + 50)),
  }),
);

describe('redis session store', () => {
  it('writes keys under the prefix with a ttl, and a per-user set that expires too', async () => {
    const client = new Redis(url());
    const store = new RedisSessionStore({ client, prefix: 'app1:' });
    await store.set('k', { data: {}, userId: 'alice', createdAt: 0, lastSeenAt: 0 }, 60_000);
    const sessionTtl = await client.pttl('app1:s:k');
    const userTtl = await client.pttl('app1:u:alice');
    assert.ok(sessionTtl > 0 && sessionTtl <= 60_000, `session key ttl ${sessionTtl}`);
    assert.ok(userTtl > 0 && userTtl <= 60_000, `user set ttl ${userTtl}`);
    assert.deepEqual(await client.smembers('app1:u:alice'), ['k']);
    await store.destroy('k');
    assert.deepEqual(await client.smembers('app1:u:alice'), []);
    await store.close();
    // The store does not close a client it was given.
    assert.equal(await client.ping(), 'PONG');
    await client.quit();
  });

  it('never shortens the per-user set below its longest session', async () => {
    const client = new Redis(url());
    const store = new RedisSessionStore({ client, prefix: 'app2:' });
    await store.set('long', { data: {}, userId: 'bob', createdAt: 0, lastSeenAt: 0 }, 600_000);
    await store.set('short', { data: {}, userId: 'bob', createdAt: 0, lastSeenAt: 0 }, 1_000);
    assert.ok((await client.pttl('app2:u:bob')) > 1_000);
    await client.quit();
  });

  it('ends every session of a user through the session manager', async () => {
    const manager = createSessionManager({ store: new RedisSessionStore({ client: url(), prefix: 'app3:' }) });
    const cookies: string[] = [];
    for (let i = 0; i < 3; i++) {
      const session = await manager.load(undefined, false);
      session.login('carol');
      cookies.push((await manager.commit(session))?.value ?? '');
    }
    assert.equal(await manager.destroyAllForUser('carol'), 3);
    for (const value of cookies) assert.equal((await manager.load(value, false)).userId, undefined);
    await manager.close();
  });
});
