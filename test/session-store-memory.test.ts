import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemorySessionStore } from '../src/security/stores/memory.ts';
import { runStoreContract } from './session-store-contract.ts';

runStoreContract('memory', () => {
  let now = 1_000_000;
  const store = new MemorySessionStore({ now: () => now });
  return Promise.resolve({
    store,
    advance: (ms: number) => {
      now += ms;
      return Promise.resolve();
    },
  });
});

describe('memory session store bounds', () => {
  it('evicts the least recently used session beyond maxEntries', async () => {
    const store = new MemorySessionStore({ maxEntries: 3 });
    for (const key of ['a', 'b', 'c']) await store.set(key, { data: {}, createdAt: 0, lastSeenAt: 0 }, 60_000);
    await store.get('a');
    await store.set('d', { data: {}, createdAt: 0, lastSeenAt: 0 }, 60_000);
    assert.equal(store.size, 3);
    assert.equal(await store.get('b'), undefined);
    assert.notEqual(await store.get('a'), undefined);
    await store.close();
  });

  it('forgets the user index of evicted sessions, so it stays bounded too', async () => {
    const store = new MemorySessionStore({ maxEntries: 2 });
    for (let i = 0; i < 100; i++) await store.set(`k${i}`, { data: {}, userId: `u${i}`, createdAt: 0, lastSeenAt: 0 }, 60_000);
    assert.equal(store.size, 2);
    assert.equal(await store.destroyAllForUser('u0'), 0);
    assert.equal(await store.destroyAllForUser('u99'), 1);
    await store.close();
  });

  it('refuses a maxEntries that is not a positive integer', () => {
    assert.throws(() => new MemorySessionStore({ maxEntries: 0 }), { code: 'VIAL_ERR_SESSION_OPTIONS' });
  });
});
