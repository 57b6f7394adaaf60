/**
 * Session cookie lifetime and key rotation (issue 13, classes 7 and 10): a browser-session cookie
 * by default (no Max-Age or Expires; the server's idle and absolute timeouts still bound it), a
 * persistent one only for an explicit "remember me"; and a cookie session opened with an old key
 * re-sealed with the current key on its next response, read-only ones included.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCookieSessionManager } from '../src/security/cookie-session.ts';
import { createSessionManager } from '../src/security/session-manager.ts';
import type { SessionManager } from '../src/security/session-manager.ts';
import { MemorySessionStore } from '../src/security/stores/memory.ts';

const OLD = 'old-secret-0123456789abcdefghijklmnopqrstuvwxyzABCD';
const NEW = 'new-secret-ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxw';
const HOUR = 3_600_000;

async function roundTrip(manager: SessionManager, cookie: string | undefined, handler: (s: Awaited<ReturnType<SessionManager['load']>>) => void = () => {}) {
  const session = await manager.load(cookie, false);
  handler(session);
  const setCookie = await manager.commit(session);
  return { session, setCookie };
}

function managers(): Array<[string, SessionManager]> {
  return [
    ['server-side store', createSessionManager({ store: new MemorySessionStore(), idleTimeoutMs: HOUR, absoluteTimeoutMs: 8 * HOUR })],
    ['cookie sessions', createCookieSessionManager({ secrets: [NEW], idleTimeoutMs: HOUR, absoluteTimeoutMs: 8 * HOUR })],
  ];
}

describe('session cookie lifetime (OWASP: non-persistent by default)', () => {
  for (const [what, manager] of managers()) {
    it(`${what}: a login gives a browser-session cookie, without Max-Age or Expires`, async () => {
      const { setCookie } = await roundTrip(manager, undefined, (s) => s.login('ada'));
      assert.ok(setCookie !== undefined);
      assert.doesNotMatch(setCookie.header, /Max-Age|Expires/i);
    });

    it(`${what}: login(id, { remember: true }) makes it persistent up to the absolute timeout`, async () => {
      const { session, setCookie } = await roundTrip(manager, undefined, (s) => s.login('ada', { remember: true }));
      assert.equal(session.remembered, true);
      assert.match(setCookie?.header ?? '', /; Max-Age=28800;/);
      // Still remembered when the session is read back; a plain login drops it again.
      const again = await roundTrip(manager, setCookie?.value, (s) => s.login('ada'));
      assert.equal(again.session.remembered, false);
      assert.doesNotMatch(again.setCookie?.header ?? '', /Max-Age/);
    });

    it(`${what}: the remember flag is not an ordinary session key`, async () => {
      const { session } = await roundTrip(manager, undefined, (s) => s.login('ada', { remember: true }));
      assert.throws(() => session.get('_vial_remember'), { code: 'VIAL_ERR_SESSION_RESERVED_KEY' });
    });
  }

  it('cookie sessions keep Max-Age on every re-seal of a remembered session', async () => {
    const manager = createCookieSessionManager({ secrets: [NEW] });
    const first = await roundTrip(manager, undefined, (s) => s.login('ada', { remember: true }));
    const next = await roundTrip(manager, first.setCookie?.value, (s) => s.set('n', 1));
    assert.match(next.setCookie?.header ?? '', /Max-Age=\d+/);
  });
});

describe('cookie-session key rotation completes', () => {
  it('re-seals a cookie opened with the old key on its next response, even a read-only one', async () => {
    const sealedOld = (await roundTrip(createCookieSessionManager({ secrets: [OLD] }), undefined, (s) => s.login('alice'))).setCookie?.value;
    const rotated = createCookieSessionManager({ secrets: [NEW, OLD] });
    const { session, setCookie } = await roundTrip(rotated, sealedOld);
    assert.equal(session.userId, 'alice');
    assert.ok(setCookie !== undefined, 'a new cookie although nothing changed');
    const onlyNew = createCookieSessionManager({ secrets: [NEW] });
    assert.equal((await onlyNew.load(setCookie.value, false)).userId, 'alice', 'the old key can now be dropped');
    // A cookie already under the current key is not re-issued on a read-only response.
    assert.equal((await roundTrip(rotated, setCookie.value)).setCookie, undefined);
  });
});
