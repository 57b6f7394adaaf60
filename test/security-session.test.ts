import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import { describe, it } from 'node:test';
import { readCookie } from '../src/security/cookies.ts';
import { createSessionManager, type SessionManager } from '../src/security/session-manager.ts';
import { CSRF_SESSION_KEY } from '../src/security/session.ts';
import type { SessionRecord, SessionStore } from '../src/security/stores/contract.ts';
import { MemorySessionStore } from '../src/security/stores/memory.ts';

const MIN = 60_000;

function setup(over: { idleTimeoutMs?: number; absoluteTimeoutMs?: number } = {}) {
  const clock = { now: 1_700_000_000_000 };
  const store = new MemorySessionStore({ now: () => clock.now });
  const manager = createSessionManager({ store, now: () => clock.now, ...over });
  return { clock, store, manager };
}

/** One request: load from a cookie value, run the handler, commit. */
async function request(manager: SessionManager, cookie: string | undefined, handler: (s: Awaited<ReturnType<SessionManager['load']>>) => void = () => {}) {
  const session = await manager.load(cookie, false);
  handler(session);
  const setCookie = await manager.commit(session);
  return { session, setCookie, next: setCookie === undefined ? cookie : setCookie.value || undefined };
}

const hash = (id: string): string => createHash('sha256').update(id).digest('base64url');

describe('session manager', () => {
  it('stores nothing and sets no cookie for anonymous traffic (10,000 requests)', async () => {
    const { store, manager } = setup();
    for (let i = 0; i < 10_000; i++) {
      const { session, setCookie } = await request(manager, undefined, (s) => void s.get('x'));
      assert.equal(session.isNew, true);
      assert.equal(setCookie, undefined);
    }
    assert.equal(store.size, 0);
  });

  it('creates the session on first write with a 256-bit id in a __Host- cookie', async () => {
    const { store, manager } = setup();
    const { setCookie } = await request(manager, undefined, (s) => s.set('theme', 'dark'));
    assert.ok(setCookie);
    assert.match(setCookie.value, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(setCookie.value, 'base64url').length, 32);
    assert.match(setCookie.header, /^__Host-vial_session=[A-Za-z0-9_-]{43}; Path=\/; Secure; HttpOnly; SameSite=Lax$/);
    assert.equal(store.size, 1);
    const { session } = await request(manager, setCookie.value);
    assert.equal(session.isNew, false);
    assert.equal(session.get('theme'), 'dark');
  });

  it('keys the store by a hash of the id, never the id itself', async () => {
    const { store, manager } = setup();
    const { setCookie } = await request(manager, undefined, (s) => s.set('a', 1));
    const id = setCookie?.value ?? '';
    assert.equal(await store.get(id), undefined);
    assert.notEqual(await store.get(hash(id)), undefined);
  });

  it('never adopts an attacker-chosen id, even when the session is then written', async () => {
    const { store, manager } = setup();
    const chosen = 'A'.repeat(43);
    const { session, setCookie } = await request(manager, chosen, (s) => s.set('cart', [1]));
    assert.equal(session.isNew, true);
    assert.ok(setCookie);
    assert.notEqual(setCookie.value, chosen);
    assert.equal(await store.get(hash(chosen)), undefined);
  });

  it('clears a presented cookie it did not accept when nothing is written', async () => {
    const { manager } = setup();
    for (const bad of ['A'.repeat(43), 'short', 'x'.repeat(5000), 'has space=and;semi']) {
      const { session, setCookie } = await request(manager, bad);
      assert.equal(session.isNew, true);
      assert.match(setCookie?.header ?? '', /^__Host-vial_session=; Max-Age=0; Path=\/; Secure; HttpOnly; SameSite=Lax$/);
    }
  });

  it('treats a duplicated session cookie as anonymous', async () => {
    const { manager } = setup();
    const { setCookie } = await request(manager, undefined, (s) => s.login('alice'));
    const id = setCookie?.value ?? '';
    const header = `__Host-vial_session=${id}; __Host-vial_session=${'B'.repeat(43)}`;
    const { value, duplicated } = readCookie(header, manager.cookieName);
    assert.equal(value, id);
    assert.equal(duplicated, true);
    const session = await manager.load(value, duplicated);
    assert.equal(session.isNew, true);
    assert.equal(session.userId, undefined);
  });

  it('rotates the id on login and the pre-login id is dead', async () => {
    const { manager } = setup();
    const first = await request(manager, undefined, (s) => s.set('cart', [1]));
    const before = first.setCookie?.value ?? '';
    const login = await request(manager, before, (s) => s.login('alice'));
    const after = login.setCookie?.value ?? '';
    assert.notEqual(after, before);
    const replay = await request(manager, before);
    assert.equal(replay.session.isNew, true);
    assert.equal(replay.session.get('cart'), undefined);
    const loggedIn = await request(manager, after);
    assert.equal(loggedIn.session.userId, 'alice');
    assert.deepEqual(loggedIn.session.get('cart'), [1]);
  });

  it('clears the cookie on logout and a replayed cookie is anonymous', async () => {
    const { store, manager } = setup();
    const login = await request(manager, undefined, (s) => s.login('alice'));
    const id = login.setCookie?.value ?? '';
    const logout = await request(manager, id, (s) => s.logout());
    assert.equal(logout.setCookie?.value, '');
    assert.match(logout.setCookie?.header ?? '', /Max-Age=0/);
    assert.equal(store.size, 0);
    const replay = await request(manager, id);
    assert.equal(replay.session.isNew, true);
    assert.equal(replay.session.userId, undefined);
  });

  it('issues a fresh id when data is written after logout in the same request', async () => {
    const { manager } = setup();
    const id = (await request(manager, undefined, (s) => s.login('alice'))).setCookie?.value ?? '';
    const { setCookie } = await request(manager, id, (s) => {
      s.logout();
      s.set('flash', 'Logged out');
    });
    assert.ok(setCookie && setCookie.value !== '' && setCookie.value !== id);
    assert.equal((await request(manager, setCookie.value)).session.userId, undefined);
  });

  it('regenerates the id on other privilege changes and keeps the data', async () => {
    const { manager } = setup();
    const id = (await request(manager, undefined, (s) => s.login('alice'))).setCookie?.value ?? '';
    const { setCookie } = await request(manager, id, (s) => {
      s.set('role', 'admin');
      s.regenerate();
    });
    assert.ok(setCookie && setCookie.value !== id);
    assert.equal((await request(manager, id)).session.isNew, true);
    const next = await request(manager, setCookie.value);
    assert.equal(next.session.get('role'), 'admin');
    assert.equal(next.session.userId, 'alice');
  });

  it('expires a session idle for longer than the idle timeout', async () => {
    const { clock, manager } = setup({ idleTimeoutMs: 30 * MIN });
    const id = (await request(manager, undefined, (s) => s.login('alice'))).setCookie?.value ?? '';
    clock.now += 20 * MIN;
    assert.equal((await request(manager, id)).session.userId, 'alice');
    clock.now += 20 * MIN; // 40 minutes since login, 20 since the last request: still alive
    assert.equal((await request(manager, id)).session.userId, 'alice');
    clock.now += 30 * MIN;
    const expired = await request(manager, id);
    assert.equal(expired.session.isNew, true);
    assert.equal(expired.session.userId, undefined);
  });

  it('expires a session at the absolute timeout however active it is', async () => {
    const { clock, manager } = setup({ idleTimeoutMs: 30 * MIN, absoluteTimeoutMs: 120 * MIN });
    const id = (await request(manager, undefined, (s) => s.login('alice'))).setCookie?.value ?? '';
    for (let t = 0; t < 115; t += 10) {
      clock.now += 10 * MIN;
      if (t + 10 < 120) assert.equal((await request(manager, id)).session.userId, 'alice', `at ${t + 10} min`);
    }
    clock.now += 10 * MIN;
    assert.equal((await request(manager, id)).session.userId, undefined);
  });

  it('does not rewrite an unchanged session more than once per touch interval', async () => {
    const { manager, clock } = setup();
    const writes: string[] = [];
    const inner = new MemorySessionStore({ now: () => clock.now });
    const spy: SessionStore = {
      get: (k) => inner.get(k),
      set: (k, r: SessionRecord, ttl) => (writes.push(k), inner.set(k, r, ttl)),
      update: (k, r: SessionRecord, ttl) => (writes.push(k), inner.update(k, r, ttl)),
      destroy: (k) => inner.destroy(k),
      close: () => inner.close(),
    };
    const m = createSessionManager({ store: spy, now: () => clock.now });
    const id = (await request(m, undefined, (s) => s.set('a', 1))).setCookie?.value ?? '';
    for (let i = 0; i < 10; i++) await request(m, id);
    assert.equal(writes.length, 1);
    clock.now += 2 * MIN;
    await request(m, id);
    assert.equal(writes.length, 2);
    await manager.close();
  });

  it('does not bring back a session a concurrent request logged out', async () => {
    const { store, manager } = setup();
    const id = (await request(manager, undefined, (s) => s.login('alice'))).setCookie?.value ?? '';
    const slow = await manager.load(id, false);
    await request(manager, id, (s) => s.logout());
    slow.set('late', true);
    // No Set-Cookie at all: the browser may already hold a newer id from a concurrent login.
    assert.equal(await manager.commit(slow), undefined);
    assert.equal(store.size, 0);
    assert.equal((await request(manager, id)).session.userId, undefined);
  });

  it('does not bring back a session ended by destroyAllForUser while a request ran', async () => {
    const { store, manager } = setup();
    const id = (await request(manager, undefined, (s) => s.login('alice'))).setCookie?.value ?? '';
    const inFlight = await manager.load(id, false);
    assert.equal(await manager.destroyAllForUser('alice'), 1);
    inFlight.set('x', 1);
    await manager.commit(inFlight);
    assert.equal(store.size, 0);
  });

  it('deletes the session and clears the cookie when clear() empties it', async () => {
    const { store, manager } = setup();
    const id = (await request(manager, undefined, (s) => s.set('a', 1))).setCookie?.value ?? '';
    const { setCookie } = await request(manager, id, (s) => s.clear());
    assert.equal(setCookie?.value, '');
    assert.equal(store.size, 0);
  });

  it('continues with an empty session and reports it when the store fails on load', async () => {
    const failing: SessionStore = {
      get: () => Promise.reject(new Error('disk on fire')),
      set: () => Promise.resolve(),
      update: () => Promise.resolve(false),
      destroy: () => Promise.resolve(),
      close: () => Promise.resolve(),
    };
    const errors: unknown[] = [];
    const events: unknown[] = [];
    const onEvent = (message: unknown): void => void events.push(message);
    diagnostics.subscribe('vial:session', onEvent);
    try {
      const manager = createSessionManager({ store: failing, logger: { warn: () => {}, error: (obj) => void errors.push(obj) } });
      const session = await manager.load('C'.repeat(43), false);
      assert.equal(session.isNew, true);
      assert.equal(errors.length, 1);
      assert.ok(events.some((e) => (e as { reason?: string }).reason === 'store-error'));
    } finally {
      diagnostics.unsubscribe('vial:session', onEvent);
    }
  });

  it('fails the commit with VIAL_ERR_SESSION_STORE when the store cannot save', async () => {
    const failing: SessionStore = {
      get: () => Promise.resolve(undefined),
      set: () => Promise.reject(new Error('read-only')),
      update: () => Promise.reject(new Error('read-only')),
      destroy: () => Promise.resolve(),
      close: () => Promise.resolve(),
    };
    const manager = createSessionManager({ store: failing });
    const session = await manager.load(undefined, false);
    session.login('alice');
    await assert.rejects(manager.commit(session), { code: 'VIAL_ERR_SESSION_STORE', status: 503, expose: false });
  });

  it('falls back visibly to a non-Secure vial_session cookie in development over http', async () => {
    const warnings: unknown[] = [];
    const manager = createSessionManager({ store: new MemorySessionStore(), secure: false, logger: { warn: (o) => void warnings.push(o), error: () => {} } });
    assert.equal(manager.cookieName, 'vial_session');
    assert.equal(warnings.length, 1);
    const { setCookie } = await request(manager, undefined, (s) => s.set('a', 1));
    assert.doesNotMatch(setCookie?.header ?? '', /Secure/);
    assert.match(setCookie?.header ?? '', /^vial_session=.*HttpOnly; SameSite=Lax$/);
    assert.equal(warnings.length, 1);
  });

  it('refuses a __Host- cookie name without Secure', () => {
    assert.throws(() => createSessionManager({ store: new MemorySessionStore(), secure: false, cookieName: '__Host-x' }), { code: 'VIAL_ERR_SESSION_OPTIONS' });
  });

  it('creates the CSRF token lazily and replaces it on login', async () => {
    const { manager } = setup();
    const anon = await request(manager, undefined, (s) => assert.equal(s.peekCsrfToken(), undefined));
    assert.equal(anon.setCookie, undefined);
    let token = '';
    const first = await request(manager, undefined, (s) => (token = s.csrfToken()));
    const id = first.setCookie?.value ?? '';
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    const again = await request(manager, id, (s) => assert.equal(s.csrfToken(), token));
    assert.equal(again.setCookie, undefined);
    const login = await request(manager, id, (s) => {
      s.login('alice');
      assert.notEqual(s.csrfToken(), token);
    });
    assert.ok(login.setCookie);
  });

  it('refuses application access to the reserved CSRF key', async () => {
    const { manager } = setup();
    const session = await manager.load(undefined, false);
    assert.throws(() => session.set(CSRF_SESSION_KEY, 'x'), { code: 'VIAL_ERR_SESSION_RESERVED_KEY' });
    assert.throws(() => session.get(CSRF_SESSION_KEY), { code: 'VIAL_ERR_SESSION_RESERVED_KEY' });
  });

  it('refuses an empty user id on login', async () => {
    const { manager } = setup();
    const session = await manager.load(undefined, false);
    assert.throws(() => session.login(''), { code: 'VIAL_ERR_SESSION_USER_ID' });
  });
});
