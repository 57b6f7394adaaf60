/** Login brute-force protection: per account and per IP, the same answer for real and unknown accounts, success resets. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rateLimit, VialResponse } from '../src/index.ts';
import type { RateLimitOptions, Vial } from '../src/index.ts';
import { TestClient } from '../src/testing.ts';
import { makeApp } from './helpers/both.ts';
import { cacheRegistry } from '../src/memory/registry.ts';
import type { ErrorBody } from './helpers/both.ts';

const PASSWORDS: Record<string, string> = { alice: 'correct horse', bob: 'battery staple' };

/** `options` undefined: the app registers nothing, and gets the default login protection. */
function loginApp(options?: RateLimitOptions): Vial {
  const app = makeApp({ trustProxy: 1, security: { session: { store: 'memory' } } });
  if (options !== undefined) app.plugin(rateLimit, options);
  app.post('/login', { login: { account: 'username' } }, async (ctx) => {
    const { username, password } = await ctx.request.json<{ username: string; password: string }>();
    if (PASSWORDS[username] !== password) return new VialResponse(JSON.stringify({ ok: false }), 401, { 'content-type': 'application/json' });
    ctx.session.login(username);
    return { ok: true };
  });
  app.get('/login', () => 'the form');
  return app;
}

const attempt = (c: TestClient, username: string, password: string, ip: string) =>
  c.post('/login', { json: { username, password }, headers: { 'x-forwarded-for': ip } });

describe('login protection', () => {
  it('is on by default: an app that never registers rateLimit protects its login route, and holds no store until one is used', async () => {
    const stores = (): number => cacheRegistry.list().filter((cache) => cache.name.startsWith('ratelimit')).length;
    const before = stores();
    const c = new TestClient(loginApp());
    assert.equal((await c.get('/login')).status, 200);
    assert.equal(stores(), before, 'no store is made before a login attempt');
    for (let i = 0; i < 5; i++) assert.equal((await attempt(c, 'alice', 'guess', `198.51.100.${i}`)).status, 401);
    assert.equal((await attempt(c, 'alice', 'correct horse', '198.51.100.99')).status, 429);
    assert.equal(stores(), before + 1, 'the first attempt made the store');
    // A route that is no login is not limited.
    for (let i = 0; i < 50; i++) assert.equal((await c.get('/login')).status, 200);
  });

  it('allows 5 failures per account in 15 minutes, then answers 429 whatever the password', async () => {
    const c = new TestClient(loginApp());
    for (let i = 0; i < 5; i++) assert.equal((await attempt(c, 'alice', 'guess', `198.51.100.${i}`)).status, 401);
    const refused = await attempt(c, 'alice', 'correct horse', '198.51.100.99');
    assert.equal(refused.status, 429);
    assert.equal(refused.json<ErrorBody>().error.code, 'VIAL_ERR_LOGIN_RATE_LIMITED');
    assert.equal(refused.headers['retry-after'], '180');
    // Case and spaces do not make a new name to guess against.
    assert.equal((await attempt(c, ' ALICE ', 'guess', '198.51.100.98')).status, 429);
    // Another account is not affected.
    assert.equal((await attempt(c, 'bob', 'battery staple', '198.51.100.97')).status, 200);
  });

  it('gives the same answer for an existing and an unknown account', async () => {
    const c = new TestClient(loginApp());
    const answers: { status: number; body: unknown; retryAfter: unknown }[] = [];
    for (const name of ['alice', 'nobody-by-this-name']) {
      for (let i = 0; i < 5; i++) await attempt(c, name, 'guess', `203.0.113.${answers.length * 10 + i}`);
      const res = await attempt(c, name, 'guess', `203.0.113.${answers.length * 10 + 9}`);
      const { requestId: _, ...error } = res.json<ErrorBody>().error;
      answers.push({ status: res.status, body: error, retryAfter: res.headers['retry-after'] });
    }
    assert.equal(answers[0]?.status, 429);
    assert.deepEqual(answers[0], answers[1]);
  });

  it('limits failures per IP across accounts (20 in 15 minutes)', async () => {
    const c = new TestClient(loginApp());
    for (let i = 0; i < 20; i++) assert.equal((await attempt(c, `user${i}`, 'guess', '192.0.2.50')).status, 401);
    const refused = await attempt(c, 'alice', 'correct horse', '192.0.2.50');
    assert.equal(refused.status, 429);
    assert.equal(refused.json<ErrorBody>().error.code, 'VIAL_ERR_LOGIN_RATE_LIMITED');
    assert.equal((await attempt(c, 'alice', 'correct horse', '192.0.2.51')).status, 200);
  });

  it('resets the account count on a successful login, and successes do not use up the IP', async () => {
    const c = new TestClient(loginApp({ login: { perAccount: { limit: 3, windowSec: 900 }, perIp: { limit: 4, windowSec: 900 } } }));
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 2; i++) assert.equal((await attempt(c, 'alice', 'guess', `192.0.2.${60 + round}`)).status, 401);
      assert.equal((await attempt(c, 'alice', 'correct horse', `192.0.2.${60 + round}`)).status, 200, `round ${round}`);
    }
    // Five successes from one IP: none counts as a failure there.
    for (let i = 0; i < 5; i++) assert.equal((await attempt(c, 'bob', 'battery staple', '192.0.2.70')).status, 200);
    assert.equal((await attempt(c, 'bob', 'guess', '192.0.2.70')).status, 401);
  });

  it('leaves the GET of a login route alone and can be turned off', async () => {
    const c = new TestClient(loginApp());
    for (let i = 0; i < 30; i++) assert.equal((await c.get('/login', { headers: { 'x-forwarded-for': '192.0.2.80' } })).status, 200);
    const off = new TestClient(loginApp({ login: false }));
    for (let i = 0; i < 8; i++) assert.equal((await attempt(off, 'alice', 'guess', '192.0.2.81')).status, 401);
  });

  it('takes a success test for token APIs without sessions', async () => {
    const app = makeApp({ trustProxy: 1 });
    app.plugin(rateLimit, { login: { perAccount: { limit: 2, windowSec: 60 } } });
    app.post('/token', { login: { account: 'email', succeeded: (_ctx, res) => res.status === 200 } }, async (ctx) => {
      const { email, password } = await ctx.request.json<{ email: string; password: string }>();
      return email === 'a@example.com' && password === 'pw' ? { token: 't' } : new VialResponse('no', 401);
    });
    const c = new TestClient(app);
    const post = (password: string) => c.post('/token', { json: { email: 'a@example.com', password }, headers: { 'x-forwarded-for': '192.0.2.90' } });
    assert.equal((await post('x')).status, 401);
    assert.equal((await post('pw')).status, 200);
    assert.equal((await post('x')).status, 401);
    assert.equal((await post('x')).status, 401);
    assert.equal((await post('pw')).status, 429);
  });
});
