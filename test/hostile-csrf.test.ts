/**
 * CSRF's last gaps and anonymous visitors (issue 13, classes 5 and 6): tokens masked per response
 * (BREACH, as Django and Rails), login CSRF (no Sec-Fetch-Site, no Origin, no session cookie and
 * no token: the login is refused), scheme-aware Origin comparison, and anonymous pages that embed
 * ctx.csrfToken() without creating a stored session (a cookie-bound token, Django's csrftoken).
 */
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { MemorySessionStore } from '../src/index.ts';
import type { Vial, VialOptions } from '../src/index.ts';
import { checkCsrf } from '../src/security/csrf.ts';
import { maskToken, tokenMatches, unmaskToken } from '../src/security/csrf-token.ts';
import { TestClient } from '../src/testing.ts';
import { makeApp } from './helpers/both.ts';
import { rawRequest } from './helpers/raw.ts';
import type { RawResponse } from './helpers/raw.ts';

const KEY = 'k8Jd2-vQ9mZr4TxW7yLb3NcH6pAsE1uF0gKiOwYtRnM';

function loginApp(store: MemorySessionStore, options: VialOptions = {}): { app: Vial; logins: { n: number } } {
  const logins = { n: 0 };
  const app = makeApp({ env: 'development', ...options, security: { ...options.security, session: { store } } });
  // A synchronous page (the dispatcher's fast path) and an async one both embed a token.
  app.get('/form', (ctx) => `<input name="_csrf" value="${ctx.csrfToken()}">`);
  app.get('/form-async', async (ctx) => {
    await Promise.resolve();
    return ctx.csrfToken();
  });
  app.post('/login', async (ctx) => {
    const form = await ctx.request.form();
    ctx.session.login(String(form.get('user')));
    logins.n++;
    return 'welcome';
  });
  // An API route that changes state without a login: cookieless clients keep working.
  app.post('/api/items', () => 'created');
  return { app, logins };
}

async function listen(t: TestContext, app: Vial): Promise<number> {
  const running = await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => running.close());
  return running.port;
}

/** An old browser's form post: no Sec-Fetch-Site, no Origin. */
function formPost(path: string, form: Record<string, string>, cookie?: string): string {
  const body = new URLSearchParams(form).toString();
  const lines = [`POST ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Content-Type: application/x-www-form-urlencoded', `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close'];
  if (cookie !== undefined) lines.push(`Cookie: ${cookie}`);
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

function csrfCookie(res: RawResponse): string {
  const line = res.headers.get('set-cookie')?.find((l) => l.startsWith('vial_csrf=') || l.startsWith('__Host-vial_csrf='));
  assert.ok(line !== undefined, `a csrf cookie: ${res.raw.slice(0, 400)}`);
  return line.split(';')[0] as string;
}

function tokenIn(res: RawResponse): string {
  const token = /value="([\w-]+)"/.exec(res.body)?.[1] ?? res.body;
  assert.match(token, /^[\w-]{86}$/);
  return token;
}

describe('masked tokens (BREACH)', () => {
  it('masks the same secret differently every time, and unmasks to it', () => {
    const secret = 'q3F5Ry8mLw0aXkT2bN6vC1zH9dJ4sP7uE5gY0iO8kQw';
    const a = maskToken(secret);
    const b = maskToken(secret);
    assert.notEqual(a, b);
    assert.equal(unmaskToken(a), secret);
    assert.equal(unmaskToken(b), secret);
    assert.equal(tokenMatches(a, [undefined, secret]), true);
    assert.equal(tokenMatches(secret, [secret]), true, 'a raw secret is accepted too (API clients)');
    assert.equal(tokenMatches(`${a.slice(0, -2)}AA`, [secret]), false);
    assert.equal(tokenMatches('short', [secret]), false);
  });

  it('gives every response a different token that verifies, for anonymous and session-bound pages', async () => {
    const { app } = loginApp(new MemorySessionStore());
    const client = new TestClient(app);
    const first = (await client.get('/form-async')).text;
    const second = (await client.get('/form-async')).text;
    assert.notEqual(first, second, 'no stable bytes for a compression oracle');
    assert.equal(unmaskToken(first), unmaskToken(second), 'one secret behind both');
  });
});

describe('login CSRF: no Sec-Fetch-Site, no Origin, no session cookie', () => {
  it('refuses the login without a valid token (403 VIAL_ERR_CSRF), stores nothing and sets no session cookie', async (t) => {
    const store = new MemorySessionStore();
    const { app, logins } = loginApp(store);
    const port = await listen(t, app);
    const res = await rawRequest(port, formPost('/login', { user: 'attacker' }));
    assert.equal(res.status, 403, res.raw);
    assert.equal((JSON.parse(res.body) as { error: { code: string } }).error.code, 'VIAL_ERR_CSRF');
    assert.equal(logins.n, 0);
    assert.equal(store.size, 0);
    assert.ok(!(res.headers.get('set-cookie') ?? []).some((l) => l.startsWith('vial_session=')), 'no session cookie');
    assert.equal(app.security.csrfRefusals['login-token'], 1);

    const forged = await rawRequest(port, formPost('/login', { user: 'attacker', _csrf: maskToken('q3F5Ry8mLw0aXkT2bN6vC1zH9dJ4sP7uE5gY0iO8kQw') }));
    assert.equal(forged.status, 403, 'a token for no secret of this client');
    assert.equal(logins.n, 0);
  });

  it('lets the login through with the token of the page it came from (anonymous, cookie-bound)', async (t) => {
    const store = new MemorySessionStore();
    const { app, logins } = loginApp(store);
    const port = await listen(t, app);
    const page = await rawRequest(port, 'GET /form HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    const res = await rawRequest(port, formPost('/login', { user: 'ada', _csrf: tokenIn(page) }, csrfCookie(page)));
    assert.equal(res.status, 200, res.raw);
    assert.equal(logins.n, 1);
    assert.equal(store.size, 1, 'the stored session starts at login');
  });

  it('leaves cookieless API clients alone: a state change that does not log in needs no token', async (t) => {
    const { app } = loginApp(new MemorySessionStore());
    const port = await listen(t, app);
    assert.equal((await rawRequest(port, formPost('/api/items', { name: 'x' }))).status, 200);
  });

  it('with a secret key, signs the csrf cookie: a planted cookie with a chosen secret does not verify', async (t) => {
    const { app, logins } = loginApp(new MemorySessionStore(), { security: { secretKey: KEY } });
    const port = await listen(t, app);
    const chosen = 'q3F5Ry8mLw0aXkT2bN6vC1zH9dJ4sP7uE5gY0iO8kQw';
    const res = await rawRequest(port, formPost('/login', { user: 'attacker', _csrf: maskToken(chosen) }, `vial_csrf=${chosen}`));
    assert.equal(res.status, 403, res.raw);
    assert.equal(logins.n, 0);
    const page = await rawRequest(port, 'GET /form HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    assert.match(csrfCookie(page), /^vial_csrf=[\w-]{43}\.[\w-]{43}$/, 'value.signature');
    assert.equal((await rawRequest(port, formPost('/login', { user: 'ada', _csrf: tokenIn(page) }, csrfCookie(page)))).status, 200);
  });
});

describe('anonymous visitors add nothing to the store', () => {
  it('serves 500 anonymous form views (sync and async pages) without a single stored session', async () => {
    const store = new MemorySessionStore();
    const { app } = loginApp(store);
    const client = new TestClient(app);
    for (let i = 0; i < 250; i++) {
      for (const path of ['/form', '/form-async']) {
        const res = await client.get(path, { noCookies: true });
        assert.equal(res.status, 200);
        assert.match(res.header('set-cookie') ?? '', /^vial_csrf=[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax$/, 'a browser-session cookie (no Max-Age)');
      }
    }
    assert.equal(store.size, 0);
  });

  it('reuses the csrf cookie it set instead of issuing a new one per page', async () => {
    const { app } = loginApp(new MemorySessionStore());
    const client = new TestClient(app);
    assert.ok((await client.get('/form')).header('set-cookie') !== undefined);
    assert.equal((await client.get('/form')).header('set-cookie'), undefined);
  });
});

describe('Origin is compared scheme included (Django, Rails; Go compares only the host)', () => {
  it('refuses an http Origin for an https request and the other way round, without appOrigin', () => {
    const base = { method: 'POST', hasSessionCookie: true } as const;
    assert.deepEqual(checkCsrf({ ...base, headers: { origin: 'http://app.example', host: 'app.example', scheme: 'https' } }), { ok: false, reason: 'origin-mismatch' });
    assert.deepEqual(checkCsrf({ ...base, headers: { origin: 'https://app.example', host: 'app.example', scheme: 'http' } }), { ok: false, reason: 'origin-mismatch' });
    assert.deepEqual(checkCsrf({ ...base, headers: { origin: 'https://app.example', host: 'app.example:443', scheme: 'https' } }), { ok: true }, 'default port');
    assert.deepEqual(checkCsrf({ ...base, headers: { origin: 'https://app.example:8443', host: 'app.example:8443', scheme: 'https' } }), { ok: true });
  });
});
