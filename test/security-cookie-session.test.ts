import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCookieSessionManager } from '../src/security/cookie-session.ts';
import type { SessionManager } from '../src/security/session-manager.ts';

const OLD = 'old-secret-0123456789abcdefghijklmnopqrstuvwxyzABCD';
const NEW = 'new-secret-ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxw';
const MIN = 60_000;

async function roundTrip(manager: SessionManager, cookie: string | undefined, handler: (s: Awaited<ReturnType<SessionManager['load']>>) => void = () => {}) {
  const session = await manager.load(cookie, false);
  handler(session);
  const setCookie = await manager.commit(session);
  return { session, setCookie };
}

function flipByte(value: string, index: number): string {
  const raw = Buffer.from(value, 'base64url');
  raw[index] = (raw[index] ?? 0) ^ 0x01;
  return raw.toString('base64url');
}

describe('cookie sessions', () => {
  it('round-trips data and user id through a sealed cookie', async () => {
    const manager = createCookieSessionManager({ secrets: [NEW] });
    const { setCookie } = await roundTrip(manager, undefined, (s) => {
      s.login('alice');
      s.set('cart', [1, 2]);
    });
    assert.ok(setCookie);
    assert.match(setCookie.header, /^__Host-vial_session=[A-Za-z0-9_-]+; Path=\/; Secure; HttpOnly; SameSite=Lax$/);
    assert.doesNotMatch(Buffer.from(setCookie.value, 'base64url').toString('latin1'), /alice|cart/);
    const { session } = await roundTrip(manager, setCookie.value);
    assert.equal(session.isNew, false);
    assert.equal(session.userId, 'alice');
    assert.deepEqual(session.get('cart'), [1, 2]);
  });

  it('writes no cookie for anonymous traffic', async () => {
    const manager = createCookieSessionManager({ secrets: [NEW] });
    assert.equal((await roundTrip(manager, undefined, (s) => void s.get('x'))).setCookie, undefined);
  });

  it('gives an empty session for any tampered byte and clears the cookie', async () => {
    const manager = createCookieSessionManager({ secrets: [NEW] });
    const sealed = (await roundTrip(manager, undefined, (s) => s.login('alice'))).setCookie?.value ?? '';
    const length = Buffer.from(sealed, 'base64url').length;
    for (const index of [0, 1, 3, 15, 20, length - 17, length - 1]) {
      const { session, setCookie } = await roundTrip(manager, flipByte(sealed, index));
      assert.equal(session.isNew, true, `byte ${index}`);
      assert.equal(session.userId, undefined);
      assert.equal(setCookie?.value, '');
    }
    for (const junk of ['', 'not base64!', 'AAAA', sealed.slice(0, -4), `${sealed}x`]) {
      assert.equal((await manager.load(junk, false)).isNew, true);
    }
  });

  it('refuses a sealed value moved to a cookie of another name', async () => {
    const a = createCookieSessionManager({ secrets: [NEW], cookieName: '__Host-a' });
    const b = createCookieSessionManager({ secrets: [NEW], cookieName: '__Host-b' });
    const sealed = (await roundTrip(a, undefined, (s) => s.login('alice'))).setCookie?.value ?? '';
    assert.equal((await b.load(sealed, false)).userId, undefined);
  });

  it('opens cookies sealed with an old secret and reseals with the new one', async () => {
    const before = createCookieSessionManager({ secrets: [OLD] });
    const sealedOld = (await roundTrip(before, undefined, (s) => s.login('alice'))).setCookie?.value ?? '';
    const rotated = createCookieSessionManager({ secrets: [NEW, OLD] });
    const { session, setCookie } = await roundTrip(rotated, sealedOld, (s) => s.set('seen', true));
    assert.equal(session.userId, 'alice');
    const sealedNew = setCookie?.value ?? '';
    const onlyNew = createCookieSessionManager({ secrets: [NEW] });
    assert.equal((await onlyNew.load(sealedNew, false)).userId, 'alice');
    assert.equal((await onlyNew.load(sealedOld, false)).userId, undefined);
  });

  it('fails with a clear error when the data outgrows the cookie', async () => {
    const manager = createCookieSessionManager({ secrets: [NEW] });
    const session = await manager.load(undefined, false);
    session.set('blob', 'x'.repeat(4000));
    await assert.rejects(manager.commit(session), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'VIAL_ERR_SESSION_COOKIE_TOO_LARGE');
      assert.match(error.message, /server-side store/);
      return true;
    });
  });

  it('refuses an oversized incoming cookie without trying to open it', async () => {
    const manager = createCookieSessionManager({ secrets: [NEW] });
    assert.equal((await manager.load('A'.repeat(10_000), false)).isNew, true);
  });

  it('treats a duplicated cookie as anonymous', async () => {
    const manager = createCookieSessionManager({ secrets: [NEW] });
    const sealed = (await roundTrip(manager, undefined, (s) => s.login('alice'))).setCookie?.value ?? '';
    assert.equal((await manager.load(sealed, true)).userId, undefined);
  });

  it('enforces idle and absolute timeouts from the sealed timestamps', async () => {
    const clock = { now: 1_700_000_000_000 };
    const manager = createCookieSessionManager({ secrets: [NEW], now: () => clock.now, idleTimeoutMs: 30 * MIN, absoluteTimeoutMs: 60 * MIN });
    let cookie = (await roundTrip(manager, undefined, (s) => s.login('alice'))).setCookie?.value ?? '';
    clock.now += 31 * MIN;
    assert.equal((await manager.load(cookie, false)).userId, undefined, 'idle');
    clock.now -= 31 * MIN;
    for (let i = 0; i < 5; i++) {
      clock.now += 10 * MIN;
      const { session, setCookie } = await roundTrip(manager, cookie);
      assert.equal(session.userId, 'alice');
      if (setCookie !== undefined) cookie = setCookie.value;
    }
    clock.now += 10 * MIN;
    assert.equal((await manager.load(cookie, false)).userId, undefined, 'absolute');
  });

  it('clears the cookie on logout', async () => {
    const manager = createCookieSessionManager({ secrets: [NEW] });
    const sealed = (await roundTrip(manager, undefined, (s) => s.login('alice'))).setCookie?.value ?? '';
    const { setCookie } = await roundTrip(manager, sealed, (s) => s.logout());
    assert.equal(setCookie?.value, '');
    assert.match(setCookie?.header ?? '', /Max-Age=0/);
  });

  it('says plainly that it cannot end sessions on the server', async () => {
    const manager = createCookieSessionManager({ secrets: [NEW] });
    await assert.rejects(manager.destroyAllForUser('alice'), { code: 'VIAL_ERR_SESSION_UNSUPPORTED' });
  });

  it('refuses to start without a secret', () => {
    assert.throws(() => createCookieSessionManager({ secrets: [] }), { code: 'VIAL_ERR_SESSION_OPTIONS' });
  });
});
