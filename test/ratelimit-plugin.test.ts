/** The rateLimit plugin end to end: 429 with its headers, scoping by app/blueprint/route, keys, /metrics. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startAdmin } from '../src/admin/server.ts';
import { Blueprint, ConfigError, MemoryRateLimitStore, rateLimit } from '../src/index.ts';
import { TestClient } from '../src/testing.ts';
import { both, connect, makeApp } from './helpers/both.ts';
import type { ErrorBody } from './helpers/both.ts';

const from = (ip: string): { headers: Record<string, string> } => ({ headers: { 'x-forwarded-for': ip } });

both('a per-IP limit', (mode) => {
  it('lets a burst of `limit` through with RateLimit headers, then answers 429 with Retry-After', async (t) => {
    const app = makeApp({ trustProxy: 1 });
    app.plugin(rateLimit, { name: 'api', limit: 3, windowSec: 60, headers: true });
    app.get('/', () => 'hi');
    const c = await connect(t, mode, app);
    for (let i = 0; i < 3; i++) {
      const res = await c.get('/', from('198.51.100.1'));
      assert.equal(res.status, 200);
      assert.equal(res.header('ratelimit-policy'), '"api";q=3;w=60');
      assert.equal(res.header('ratelimit'), `"api";r=${2 - i};t=${(i + 1) * 20}`);
    }
    const refused = await c.get('/', from('198.51.100.1'));
    assert.equal(refused.status, 429);
    assert.equal(refused.header('retry-after'), '20');
    assert.equal(refused.header('ratelimit-policy'), '"api";q=3;w=60');
    assert.equal(refused.header('ratelimit'), '"api";r=0;t=60');
    assert.match(refused.header('content-type') ?? '', /^application\/json/);
    const body = refused.json<ErrorBody>();
    assert.equal(body.error.code, 'VIAL_ERR_RATE_LIMITED');
    assert.equal(body.error.status, 429);
    assert.match(body.error.message, /Too many requests \(limit "api"\)\. Try again in 20 s\./);
    // Another client has its own count.
    assert.equal((await c.get('/', from('198.51.100.2'))).status, 200);
  });
});

describe('rate-limit scoping', () => {
  function scopedApp(): ReturnType<typeof makeApp> {
    const app = makeApp({ trustProxy: 1 });
    app.plugin(rateLimit, { limit: 5, windowSec: 60, headers: true });
    const api = new Blueprint('api', { prefix: '/api' });
    api.plugin(rateLimit, { name: 'api', limit: 2, windowSec: 60, headers: true });
    api.get('/items', () => ['a']);
    app.register(api);
    app.get('/', () => 'home');
    app.get('/health', { rateLimit: false }, () => 'ok');
    app.post('/search', { rateLimit: { limit: 1, windowSec: 60 } }, () => 'found');
    return app;
  }

  it('applies the app limit and the blueprint limit to the blueprint routes, the stricter first to run out', async () => {
    const c = new TestClient(scopedApp());
    const first = await c.get('/api/items', from('203.0.113.1'));
    assert.equal(first.status, 200);
    assert.equal(first.headers['ratelimit-policy'], '"default";q=5;w=60, "api";q=2;w=60');
    assert.equal((await c.get('/api/items', from('203.0.113.1'))).status, 200);
    const refused = await c.get('/api/items', from('203.0.113.1'));
    assert.equal(refused.status, 429);
    assert.match(refused.text, /limit \\"api\\"/);
    // The blueprint limit does not reach app routes; the app limit has 2 left of 5.
    const home = await c.get('/', from('203.0.113.1'));
    assert.equal(home.status, 200);
    assert.equal(home.headers['ratelimit'], '"default";r=1;t=48');
  });

  it('exempts a route with rateLimit: false and gives a route its own limit on top of the app one', async () => {
    const c = new TestClient(scopedApp());
    for (let i = 0; i < 20; i++) assert.equal((await c.get('/health', from('203.0.113.2'))).status, 200);
    assert.equal((await c.get('/health', from('203.0.113.2'))).headers['ratelimit'], undefined);
    const search = await c.post('/search', from('203.0.113.2'));
    assert.equal(search.status, 200);
    assert.equal(search.headers['ratelimit-policy'], '"default";q=5;w=60, "route";q=1;w=60');
    assert.equal((await c.post('/search', from('203.0.113.2'))).status, 429);
    // The route's own limit counts for that route alone.
    assert.equal((await c.get('/', from('203.0.113.2'))).status, 200);
  });

  it('counts requests that match no route against the app limit', async () => {
    const c = new TestClient(scopedApp());
    for (let i = 0; i < 5; i++) assert.equal((await c.get(`/probe-${i}`, from('203.0.113.3'))).status, 404);
    const refused = await c.get('/wp-admin', from('203.0.113.3'));
    assert.equal(refused.status, 429);
    assert.equal(refused.headers['retry-after'], '12');
    assert.equal((await c.get('/', from('203.0.113.3'))).status, 429);
  });

  it('refuses bad options at registration and a bad route option at startup', async () => {
    assert.throws(() => makeApp().plugin(rateLimit, { limit: 0, windowSec: 60 }), (e: unknown) => e instanceof ConfigError && e.code === 'VIAL_ERR_RATE_LIMIT_OPTIONS' && /limit is a whole number/.test(e.message));
    assert.throws(() => makeApp().plugin(rateLimit, { limit: 1, windowSec: 60, name: 'has "quotes"' }), /name is 1 to 64/);
    const app = makeApp();
    app.plugin(rateLimit);
    app.get('/x', { rateLimit: { limit: 1, windowSec: -1 } }, () => 'x');
    await assert.rejects(new TestClient(app).get('/x'), /route GET \/x: rateLimit: windowSec/);
  });
});

describe('rate-limit keys', () => {
  it('counts by an API-key header, and requests without one by IP', async () => {
    const app = makeApp({ trustProxy: 1 });
    app.plugin(rateLimit, { limit: 1, windowSec: 60, key: { header: 'x-api-key' } });
    app.get('/', () => 'hi');
    const c = new TestClient(app);
    const key = (k: string) => ({ headers: { 'x-api-key': k, 'x-forwarded-for': '192.0.2.9' } });
    assert.equal((await c.get('/', key('alpha'))).status, 200);
    assert.equal((await c.get('/', key('alpha'))).status, 429);
    assert.equal((await c.get('/', key('beta'))).status, 200);
    assert.equal((await c.get('/', from('192.0.2.9'))).status, 200);
    assert.equal((await c.get('/', from('192.0.2.9'))).status, 429);
  });

  it('counts by the session user after the session loads, anonymous requests by IP', async () => {
    const app = makeApp({ trustProxy: 1, security: { session: { store: 'memory' } } });
    app.plugin(rateLimit, { limit: 2, windowSec: 60, key: 'user' });
    app.post('/as/<name>', { rateLimit: false }, (ctx) => {
      ctx.session.login(ctx.params['name']);
      return 'in';
    });
    app.get('/', () => 'hi');
    const alice = new TestClient(app);
    const bob = new TestClient(app);
    await alice.post('/as/alice', from('192.0.2.10'));
    await bob.post('/as/bob', from('192.0.2.10'));
    assert.equal((await alice.get('/', from('192.0.2.10'))).status, 200);
    assert.equal((await alice.get('/', from('192.0.2.10'))).status, 200);
    assert.equal((await alice.get('/', from('192.0.2.10'))).status, 429);
    // Same IP, other user: its own count.
    assert.equal((await bob.get('/', from('192.0.2.10'))).status, 200);
  });

  it('counts by a function, and does not limit a request it returns undefined for', async () => {
    const app = makeApp();
    app.plugin(rateLimit, { limit: 1, windowSec: 60, key: (ctx) => ctx.request.query.get('tenant') ?? undefined });
    app.get('/', () => 'hi');
    const c = new TestClient(app);
    assert.equal((await c.get('/?tenant=a')).status, 200);
    assert.equal((await c.get('/?tenant=a')).status, 429);
    assert.equal((await c.get('/?tenant=b')).status, 200);
    for (let i = 0; i < 3; i++) assert.equal((await c.get('/')).status, 200);
  });

  it('sends RateLimit headers only on a 429 unless asked for them on every response', async () => {
    const app = makeApp();
    app.plugin(rateLimit, { limit: 1, windowSec: 60, store: new MemoryRateLimitStore({ name: 'plugin-test-headers' }) });
    app.get('/', () => 'hi');
    const c = new TestClient(app);
    assert.equal((await c.get('/')).headers['ratelimit'], undefined);
    assert.equal((await c.get('/')).headers['ratelimit'], '"default";r=0;t=60');
  });
});

describe('rate limits in /metrics', () => {
  it('counts limited requests by route, limit and key kind', async () => {
    const app = makeApp({ trustProxy: 1 });
    app.plugin(rateLimit, { limit: 1, windowSec: 60 });
    app.get('/a', () => 'a');
    const admin = await startAdmin(app, { port: 0 });
    try {
      const c = new TestClient(app);
      for (let i = 0; i < 4; i++) await c.get('/a', from('192.0.2.20'));
      const text = await (await fetch(`${admin.url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
      assert.match(text, /^vial_ratelimit_limited_total\{route="GET \/a",limit="default",key="ip"\} 3$/m);
      assert.match(text, /^# TYPE vial_ratelimit_store_errors_total counter$/m);
    } finally {
      await admin.close();
    }
  });
});
