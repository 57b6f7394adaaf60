import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type { DatabaseSync as DatabaseSyncType } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { createSessionManager } from '../src/security/session-manager.ts';
import { SqliteSessionStore } from '../src/security/stores/sqlite.ts';
import { runStoreContract } from './session-store-contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'vial-sqlite-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
const freshPath = (): string => join(dir, `nested/${++fileNo}/sessions.sqlite`);

runStoreContract('sqlite', () => {
  let now = 1_000_000;
  const store = new SqliteSessionStore({ path: freshPath(), now: () => now });
  return Promise.resolve({
    store,
    advance: (ms: number) => {
      now += ms;
      return Promise.resolve();
    },
  });
});

const rec = { data: { v: 1 }, userId: 'u1', createdAt: 1, lastSeenAt: 2 };

// Loaded after a store has loaded node:sqlite, so Node 22 prints no ExperimentalWarning for the test's own use.
function openDb(path: string): DatabaseSyncType {
  const { DatabaseSync } = createRequire(import.meta.url)('node:sqlite') as typeof import('node:sqlite');
  return new DatabaseSync(path);
}

function rowCount(path: string): number {
  const db = openDb(path);
  try {
    return Number((db.prepare('SELECT count(*) AS n FROM vial_sessions').get() as { n: number }).n);
  } finally {
    db.close();
  }
}

describe('sqlite session store', () => {
  it('keeps sessions across a reopen of the file, as after a process restart', async () => {
    const path = freshPath();
    const first = new SqliteSessionStore({ path });
    await first.set('k', rec, 60_000);
    await first.close();
    const second = new SqliteSessionStore({ path });
    assert.deepEqual(await second.get('k'), rec);
    await second.close();
  });

  it('shares one file between two open stores, as between worker processes', async () => {
    const path = freshPath();
    const a = new SqliteSessionStore({ path });
    const b = new SqliteSessionStore({ path });
    await a.set('k', rec, 60_000);
    assert.deepEqual(await b.get('k'), rec);
    await b.destroy('k');
    assert.equal(await a.get('k'), undefined);
    await a.close();
    await b.close();
  });

  it('runs the file in WAL mode', async () => {
    const path = freshPath();
    const store = new SqliteSessionStore({ path });
    const db = openDb(path);
    assert.equal((db.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode, 'wal');
    db.close();
    await store.close();
  });

  it('sweeps expired rows in batches and leaves live ones', async () => {
    const path = freshPath();
    let now = 0;
    const store = new SqliteSessionStore({ path, now: () => now, sweepBatchSize: 7 });
    for (let i = 0; i < 30; i++) await store.set(`old${i}`, rec, 1_000);
    await store.set('live', rec, 60_000);
    now = 5_000;
    assert.equal(store.sweep(), 30);
    assert.equal(rowCount(path), 1);
    assert.notEqual(await store.get('live'), undefined);
    await store.close();
  });

  it('sweeps on its own timer', async () => {
    const path = freshPath();
    let now = 0;
    const store = new SqliteSessionStore({ path, now: () => now, sweepIntervalMs: 10 });
    await store.set('old', rec, 1_000);
    now = 5_000;
    const deadline = Date.now() + 5_000;
    while (rowCount(path) > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(rowCount(path), 0);
    await store.close();
  });

  it('removes an expired row when it is read', async () => {
    const path = freshPath();
    let now = 0;
    const store = new SqliteSessionStore({ path, now: () => now, sweepIntervalMs: 0 });
    await store.set('old', rec, 1_000);
    now = 2_000;
    assert.equal(await store.get('old'), undefined);
    assert.equal(rowCount(path), 0);
    await store.close();
  });

  it('ends every session of a user through the session manager', async () => {
    const store = new SqliteSessionStore({ path: freshPath() });
    const manager = createSessionManager({ store });
    const cookies: string[] = [];
    for (let i = 0; i < 2; i++) {
      const session = await manager.load(undefined, false);
      session.login('alice');
      cookies.push((await manager.commit(session))?.value ?? '');
    }
    assert.equal(await manager.destroyAllForUser('alice'), 2);
    for (const value of cookies) assert.equal((await manager.load(value, false)).userId, undefined);
    await manager.close();
  });

  it('refuses negative options with a ConfigError', () => {
    assert.throws(() => new SqliteSessionStore({ path: ':memory:', busyTimeoutMs: -1 }), { code: 'VIAL_ERR_SESSION_OPTIONS' });
  });
});
