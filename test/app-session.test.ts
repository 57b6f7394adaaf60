/**
 * Sessions through the whole app (issue 5): fixation, rotation, logout, anonymous traffic, restarts,
 * timeouts, hostile cookies, cookie flags, cache rules, "log out everywhere" on Redis and SQLite,
 * and encrypted cookie sessions with key rotation.
 */
import { after, before, describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemorySessionStore } from '../src/index.ts';
import type { SecurityOptions, Vial, VialOptions } from '../src/index.ts';
import { makeApp } from './helpers/both.ts';
import { startRedis } from './helpers/redis.ts';
import type { RedisServer } from './helpers/redis.ts';
import { cookieFrom, JarClient, MODES, serve } from './fixtures/browser/jar-client.ts';
import type { Mode, Sent } from './fixtures/browser/jar-client.ts';

const COOKIE = 'vial_session';
const SAME_ORIGIN = { 'sec-fetch-site': 'same-origin' };

interface Who {
  user: string | null;
  n: number | null;
}

/** An app with the routes every test here uses; `security` replaces the session options. */
function sessionApp(security: SecurityOptions = { session: { store: 'memory' } }, options: VialOptions = {}): Vial {
  const app = makeApp({ env: 'development', ...options, security });
  app.get('/who', (ctx) => ({ user: ctx.session.userId ?? null, n: ctx.session.get<number>('n') ?? null }));
  app.get('/plain', () => 'no session here');
  app.get('/token', (ctx) => ctx.csrfToken());
  app.get('/remember', (ctx) => {
    ctx.session.set('n', 11);
    return 'remembered';
  });
  app.post('/plain', () => 'posted, no session');
  app.post('/write', async (ctx) => {
    const n = ctx.request.contentType === '' ? '1' : ((await ctx.request.form()).get('n') ?? '1');
    ctx.session.set('n', Number(n));
    return 'written';
  });
  app.post('/login', async (ctx) => {
    const user = ctx.request.contentType === '' ? 'alice' : ((await ctx.request.form()).get('user') ?? 'alice');
    ctx.session.login(user);
    return 'logged in';
  });
  app.post('/logout', (ctx) => {
    ctx.session.logout();
    return 'logged out';
  });
  app.post('/regenerate', (ctx) => {
    ctx.session.regenerate();
    return 'regenerated';
  });
  return app;
}

async function who(client: JarClient, cookie?: string): Promise<Who> {
  const res = await client.get('/who', cookie === undefined ? {} : { jar: false, headers: { cookie: `${COOKIE}=${cookie}` } });
  assert.equal(res.status, 200, res.text);
  return res.json<Who>();
}

function issued(res: Sent, name = COOKIE): string {
  const cookie = cookieFrom(res, name);
  assert.ok(cookie !== undefined && cookie.value !== '', `expected a new ${name} cookie, got ${JSON.stringify(res.setCookies)}`);
  return cookie.value;
}

async function client(t: TestContext, mode: Mode, app: Vial): Promise<JarClient> {
  return new JarClient(await serve(t, mode, app), SAME_ORIGIN);
}

for (const mode of MODES) {
  describe(`sessions through the app (${mode === 'client' ? 'test client' : 'real server'})`, () => {
    it('never adopts an attacker-chosen id: a write gets a different, fresh id', async (t) => {
      const store = new MemorySessionStore();
      const c = await client(t, mode, sessionApp({ session: { store } }));
      const planted = randomBytes(32).toString('base64url');
      c.cookies.set(COOKIE, planted);
      const res = await c.post('/write', { form: { n: '7' } });
      assert.equal(res.status, 200);
      const id = issued(res);
      assert.notEqual(id, planted);
      assert.equal(store.size, 1);
      assert.deepEqual(await who(c), { user: null, n: 7 });
      assert.deepEqual(await who(c, planted), { user: null, n: null }, 'the planted id stays worthless');
    });

    it('rotates the id on login and the pre-login id is dead', async (t) => {
      const c = await client(t, mode, sessionApp());
      const before = issued(await c.post('/write', { form: { n: '1' } }));
      const after = issued(await c.post('/login', { form: { user: 'alice' } }));
      assert.notEqual(after, before);
      assert.deepEqual(await who(c), { user: 'alice', n: 1 }, 'login keeps the data');
      assert.deepEqual(await who(c, before), { user: null, n: null }, 'replaying the old cookie is anonymous');
    });

    it('clears the cookie on logout, and a cookie replayed after logout is anonymous', async (t) => {
      const c = await client(t, mode, sessionApp());
      const id = issued(await c.post('/login', { form: { user: 'alice' } }));
      const out = await c.post('/logout');
      assert.match(cookieFrom(out, COOKIE)?.line ?? '', /Max-Age=0/);
      assert.equal(c.cookies.has(COOKIE), false);
      assert.deepEqual(await who(c, id), { user: null, n: null });
    });

    it('rotates the id on regenerate() and keeps the data', async (t) => {
      const c = await client(t, mode, sessionApp());
      const first = issued(await c.post('/write', { form: { n: '3' } }));
      const second = issued(await c.post('/regenerate'));
      assert.notEqual(second, first);
      assert.deepEqual(await who(c), { user: null, n: 3 });
      assert.deepEqual(await who(c, first), { user: null, n: null });
    });

    it('gives tampered, malformed, duplicated and oversized cookies an empty session and a 200, never a 500', async (t) => {
      const c = await client(t, mode, sessionApp());
      const id = issued(await c.post('/login', { form: { user: 'alice' } }));
      const flipped = `${id.slice(0, -1)}${id.endsWith('A') ? 'B' : 'A'}`;
      const hostile: Record<string, string> = {
        tampered: `${COOKIE}=${flipped}`,
        malformed: `${COOKIE}=not!a;valid id`,
        'quoted garbage': `${COOKIE}="${'x'.repeat(10)}"`,
        duplicated: `${COOKIE}=${id}; ${COOKIE}=${id}`,
        'duplicated with a planted twin': `${COOKIE}=${randomBytes(32).toString('base64url')}; ${COOKIE}=${id}`,
        oversized: `${COOKIE}=${'a'.repeat(8000)}`,
      };
      for (const [what, cookie] of Object.entries(hostile)) {
        const res = await c.get('/who', { jar: false, headers: { cookie } });
        assert.equal(res.status, 200, `${what}: ${res.text}`);
        assert.deepEqual(res.json(), { user: null, n: null }, what);
        assert.match(cookieFrom(res, COOKIE)?.line ?? '', /Max-Age=0/, `${what}: the rejected cookie is cleared`);
      }
      assert.deepEqual(await who(c), { user: 'alice', n: null }, 'the genuine session is untouched');
    });

    it('stores nothing for a CSRF token on a first, cookieless visit, and persists the first session write', async (t) => {
      const store = new MemorySessionStore();
      const c = await client(t, mode, sessionApp({ session: { store } }));
      const token = await c.get('/token');
      assert.equal(token.status, 200);
      assert.equal(store.size, 0, 'the anonymous token lives in its own cookie, not in the store');
      assert.ok(c.cookies.has('vial_csrf'), 'the csrf cookie was set');
      assert.ok(!c.cookies.has(COOKIE), 'no session cookie yet');
      c.cookies.clear();
      issued(await c.get('/remember'));
      assert.deepEqual(await who(c), { user: null, n: 11 });
      assert.equal(store.size, 1);
    });

    it('marks responses that touch a session Cache-Control: no-store and Vary: Cookie, and leaves cookieless ones alone', async (t) => {
      const c = await client(t, mode, sessionApp());
      const written = await c.post('/write');
      const read = await c.get('/who');
      for (const res of [written, read]) {
        assert.equal(res.header('cache-control'), 'no-store');
        assert.match(res.header('vary') ?? '', /\bCookie\b/i);
      }
      // Intentionally conservative: any request carrying the session cookie loads the session, so
      // its response is personal too (the layer cannot know whether the handler read it).
      assert.equal((await c.get('/plain')).header('cache-control'), 'no-store');
      const plain = await c.get('/plain', { jar: false });
      assert.notEqual(plain.header('cache-control'), 'no-store');
      assert.doesNotMatch(plain.header('vary') ?? '', /cookie/i);
      assert.equal(plain.setCookies.length, 0);
    });
  });
}

describe('sessions: storage and lifetime', () => {
  it('leaves the store empty after 10,000 anonymous GETs and same-origin POSTs that write nothing', async (t) => {
    const store = new MemorySessionStore();
    const c = await client(t, 'client', sessionApp({ session: { store } }));
    let ok = 0;
    for (let batch = 0; batch < 100; batch++) {
      const replies = await Promise.all(
        Array.from({ length: 100 }, (_, i) => (i % 3 === 0 ? c.post('/plain') : i % 3 === 1 ? c.get('/who') : c.get('/plain'))),
      );
      for (const res of replies) if (res.status === 200 && res.setCookies.length === 0) ok++;
    }
    assert.equal(ok, 10_000, 'every request answered 200 without a Set-Cookie');
    assert.equal(store.size, 0);
  });

  it('keeps a SQLite session across a process restart (a second app on the same file)', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'vial-session-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const security: SecurityOptions = { session: { store: 'sqlite', sqlitePath: join(dir, 'sessions.sqlite') } };
    const first = sessionApp(security);
    const c1 = new JarClient(await serve(t, 'server', first), SAME_ORIGIN);
    await c1.post('/login', { form: { user: 'alice' } });
    await c1.post('/write', { form: { n: '42' } });
    const id = c1.cookies.get(COOKIE);
    assert.ok(id !== undefined);
    await first.shutdown();

    const c2 = new JarClient(await serve(t, 'server', sessionApp(security)), SAME_ORIGIN);
    assert.deepEqual(await who(c2, id), { user: 'alice', n: 42 });
  });

  it('ends a session after its idle timeout, and after its absolute timeout even while in use', async (t) => {
    // A fake wall clock (security.session.now): the test steps time instead of sleeping through it.
    let nowMs = Date.parse('2026-01-01T00:00:00Z');
    const minute = 60_000;
    const c = await client(t, 'server', sessionApp({ session: { store: 'memory', idleTimeoutMs: 30 * minute, absoluteTimeoutMs: 120 * minute, now: () => nowMs } }));
    const idle = issued(await c.post('/login', { form: { user: 'idle' } }));
    nowMs += 29 * minute;
    assert.deepEqual(await who(c, idle), { user: 'idle', n: null }, 'alive just inside idleTimeoutMs');
    nowMs += 30 * minute + 1;
    assert.deepEqual(await who(c, idle), { user: null, n: null }, 'idle for longer than idleTimeoutMs');

    c.cookies.clear();
    const busy = issued(await c.post('/login', { form: { user: 'busy' } }));
    const seen: (string | null)[] = [];
    // A request every 20 minutes keeps the idle timer moving; the absolute timeout still ends it at 2 h.
    for (let i = 0; i < 8; i++) {
      seen.push((await who(c, busy)).user);
      nowMs += 20 * minute;
    }
    assert.deepEqual(seen, ['busy', 'busy', 'busy', 'busy', 'busy', 'busy', null, null], 'alive for 100 minutes of activity, past three idle timeouts; gone at 120');
  });

});

describe('sessions: cookie flags', () => {
  it('uses __Host- with Secure, HttpOnly, SameSite=Lax and Path=/ in production over https', async (t) => {
    // The real server is reached as 127.0.0.1; production refuses Hosts it does not list.
    const app = sessionApp({ session: { store: 'memory' } }, { env: 'production', origin: 'https://app.example', allowedHosts: ['app.example', '127.0.0.1'] });
    const c = await client(t, 'server', app);
    const res = await c.post('/write');
    const cookie = cookieFrom(res, '__Host-vial_session');
    assert.ok(cookie !== undefined, JSON.stringify(res.setCookies));
    const attrs = cookie.line.split(';').slice(1).map((a) => a.trim());
    for (const flag of ['Secure', 'HttpOnly', 'SameSite=Lax', 'Path=/']) assert.ok(attrs.includes(flag), `${flag} in ${cookie.line}`);
    assert.ok(!attrs.some((a) => /^domain=/i.test(a)), 'no Domain attribute');
  });

  it('falls back to a visible, unprefixed, non-Secure cookie in development over http', async (t) => {
    const c = await client(t, 'server', sessionApp());
    const cookie = cookieFrom(await c.post('/write'), COOKIE);
    assert.ok(cookie !== undefined);
    assert.doesNotMatch(cookie.line, /Secure/);
    assert.match(cookie.line, /HttpOnly/);
    assert.match(cookie.line, /SameSite=Lax/);
  });
});

// --- "log out every session of this user" on the stores that can do it -------------------------

let redis: RedisServer | undefined;
let redisPort = 0;

describe('sessions: log out every session of a user', () => {
  before(async () => {
    redis = await startRedis();
    redisPort = redis.port;
  });
  after(async () => {
    await redis?.stop();
  });

  const stores: ReadonlyArray<readonly [string, (dir: string) => SecurityOptions]> = [
    ['redis', () => ({ session: { store: 'redis', redisUrl: `redis://127.0.0.1:${redisPort}`, redisPrefix: `app-session-${process.pid}:` } })],
    ['sqlite', (dir) => ({ session: { store: 'sqlite', sqlitePath: join(dir, 'sessions.sqlite') } })],
  ];
  for (const [name, security] of stores) {
    it(`ends every session of one user and no one else's (${name})`, async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'vial-logout-all-'));
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      const app = sessionApp(security(dir));
      const target = await serve(t, 'server', app);
      const laptop = new JarClient(target, SAME_ORIGIN);
      const phone = new JarClient(target, SAME_ORIGIN);
      const other = new JarClient(target, SAME_ORIGIN);
      await laptop.post('/login', { form: { user: 'alice' } });
      await phone.post('/login', { form: { user: 'alice' } });
      await other.post('/login', { form: { user: 'bob' } });
      assert.equal((await who(phone)).user, 'alice');

      assert.equal(await app.security.sessionManager().destroyAllForUser('alice'), 2);
      assert.equal((await who(laptop)).user, null);
      assert.equal((await who(phone)).user, null);
      assert.equal((await who(other)).user, 'bob');
    });
  }
});

describe('sessions: encrypted cookie sessions', () => {
  const oldKey = randomBytes(32).toString('base64url');
  const newKey = randomBytes(32).toString('base64url');
  const cookieApp = (keys: string[]): Vial => sessionApp({ secretKeys: keys, session: { store: 'cookie' } });

  it('round-trips data and login through the sealed cookie, and refuses a tampered one', async (t) => {
    const c = await client(t, 'server', cookieApp([oldKey]));
    await c.post('/login', { form: { user: 'carol' } });
    await c.post('/write', { form: { n: '5' } });
    assert.deepEqual(await who(c), { user: 'carol', n: 5 });
    const sealed = c.cookies.get(COOKIE) ?? '';
    assert.ok(!sealed.includes('carol'), 'the cookie does not carry the data in clear');
    const flipped = `${sealed.slice(0, 20)}${sealed[20] === 'A' ? 'B' : 'A'}${sealed.slice(21)}`;
    assert.deepEqual(await who(c, flipped), { user: null, n: null });
  });

  it('opens cookies sealed with an older key after rotation, and drops them once the key is retired', async (t) => {
    const c = await client(t, 'client', cookieApp([oldKey]));
    await c.post('/login', { form: { user: 'dave' } });
    const sealedWithOld = c.cookies.get(COOKIE) ?? '';

    const rotated = await client(t, 'client', cookieApp([newKey, oldKey]));
    assert.equal((await who(rotated, sealedWithOld)).user, 'dave', 'the old key still opens');
    rotated.cookies.set(COOKIE, sealedWithOld);
    await rotated.post('/write', { form: { n: '9' } });
    const resealed = rotated.cookies.get(COOKIE) ?? '';
    assert.notEqual(resealed, sealedWithOld);

    const retired = await client(t, 'client', cookieApp([newKey]));
    assert.deepEqual(await who(retired, resealed), { user: 'dave', n: 9 }, 'resealed with the new key');
    assert.deepEqual(await who(retired, sealedWithOld), { user: null, n: null }, 'the retired key no longer opens');
  });
});
