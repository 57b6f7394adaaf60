import { it } from 'node:test';
import assert from 'node:assert/strict';
import { Blueprint, ConfigError } from '../src/index.ts';
import { cors } from '../src/cors/index.ts';
import { both, connect, makeApp } from './helpers/both.ts';

const FRONT = 'https://app.example';

function corsApp(): { app: ReturnType<typeof makeApp>; calls: string[] } {
  const calls: string[] = [];
  const app = makeApp();
  app.plugin(cors, { origins: [FRONT, /^https:\/\/[a-z0-9-]+\.preview\.example$/], credentials: true, exposeHeaders: ['x-total'], maxAgeSec: 120 });
  app.route(['GET', 'PUT'], '/items', (ctx) => {
    calls.push(ctx.request.method);
    return { ok: true };
  });
  app.get('/private', { cors: false }, () => ({ secret: 1 }));
  app.get('/open', { cors: { origins: '*', credentials: false } }, () => ({ open: true }));
  app.get('/boom', () => {
    throw new Error('boom');
  });
  const api = new Blueprint('pub', { prefix: '/pub' });
  api.plugin(cors, { origins: '*' });
  api.get('/feed', () => ({ feed: [] }));
  app.register(api);
  return { app, calls };
}

const preflight = (origin: string, method = 'PUT', headers = 'content-type'): Record<string, string> => ({
  origin,
  'access-control-request-method': method,
  'access-control-request-headers': headers,
  'sec-fetch-site': 'cross-site',
});

both('the cors plugin', (mode) => {
  it('answers a preflight from an allowed origin without running the handler', async (t) => {
    const { app, calls } = corsApp();
    const c = await connect(t, mode, app);
    const reply = await c.options('/items', { headers: preflight(FRONT) });
    assert.equal(reply.status, 204);
    assert.equal(reply.header('access-control-allow-origin'), FRONT);
    assert.equal(reply.header('access-control-allow-methods'), 'GET, HEAD, PUT');
    assert.equal(reply.header('access-control-allow-headers'), 'content-type, authorization, x-csrf-token, x-requested-with');
    assert.equal(reply.header('access-control-allow-credentials'), 'true');
    assert.equal(reply.header('access-control-max-age'), '120');
    assert.equal(reply.header('vary'), 'Origin');
    assert.deepEqual(calls, []);
  });

  it('gives another origin, a look-alike and Origin: null no Access-Control-Allow-Origin', async (t) => {
    const { app } = corsApp();
    const c = await connect(t, mode, app);
    for (const origin of ['https://evil.example', 'https://app.example.evil', 'null', 'https://x.preview.example.evil']) {
      const reply = await c.options('/items', { headers: preflight(origin) });
      assert.equal(reply.header('access-control-allow-origin'), undefined, origin);
      const got = await c.get('/items', { headers: { origin } });
      assert.equal(got.header('access-control-allow-origin'), undefined, origin);
      assert.equal(got.header('vary'), 'Origin');
    }
  });

  it('matches anchored patterns, and adds the headers to actual and error responses', async (t) => {
    const { app } = corsApp();
    const c = await connect(t, mode, app);
    const origin = 'https://pr-12.preview.example';
    const got = await c.get('/items', { headers: { origin } });
    assert.equal(got.status, 200);
    assert.equal(got.header('access-control-allow-origin'), origin);
    assert.equal(got.header('access-control-expose-headers'), 'x-total');
    const failed = await c.get('/boom', { headers: { origin } });
    assert.equal(failed.status, 500);
    assert.equal(failed.header('access-control-allow-origin'), origin);
  });

  it('honours per-route and per-blueprint settings', async (t) => {
    const { app } = corsApp();
    const c = await connect(t, mode, app);
    assert.equal((await c.get('/private', { headers: { origin: FRONT } })).header('access-control-allow-origin'), undefined);
    assert.equal((await c.options('/private', { headers: preflight(FRONT, 'GET') })).header('access-control-allow-origin'), undefined);
    const open = await c.get('/open', { headers: { origin: 'https://anyone.example' } });
    assert.equal(open.header('access-control-allow-origin'), '*');
    assert.equal(open.header('access-control-allow-credentials'), undefined);
    const feed = await c.options('/pub/feed', { headers: preflight('https://anyone.example', 'GET') });
    assert.equal(feed.header('access-control-allow-origin'), '*');
    assert.equal(feed.header('access-control-allow-credentials'), undefined, 'the blueprint policy, not the app one');
  });

  it('leaves plain OPTIONS, unknown paths and disallowed methods to the defaults', async (t) => {
    const { app } = corsApp();
    const c = await connect(t, mode, app);
    const plain = await c.options('/items');
    assert.equal(plain.status, 204);
    assert.match(plain.header('allow') ?? '', /PUT/);
    assert.equal((await c.options('/nowhere', { headers: preflight(FRONT) })).status, 404);
    assert.equal((await c.options('/items', { headers: preflight(FRONT, 'DELETE') })).header('access-control-allow-origin'), undefined);
  });

  it('does not let a CORS-allowed origin past CSRF unless CSRF trusts it', async (t) => {
    const { app, calls } = corsApp();
    const c = await connect(t, mode, app);
    const refused = await c.request('PUT', '/items', { json: {}, headers: { origin: FRONT, 'sec-fetch-site': 'cross-site' } });
    assert.equal(refused.status, 403);
    assert.equal(refused.header('access-control-allow-origin'), FRONT, 'the browser can read the refusal');
    assert.deepEqual(calls, []);

    const trusting = makeApp({ security: { csrf: { trustedOrigins: [FRONT] } } });
    trusting.plugin(cors, { origins: [FRONT], credentials: true });
    trusting.put('/items', () => ({ ok: true }));
    const t2 = await connect(t, mode, trusting);
    assert.equal((await t2.request('PUT', '/items', { json: {}, headers: { origin: FRONT, 'sec-fetch-site': 'cross-site' } })).status, 200);
  });
});

it('refuses options that would open more than was meant', () => {
  const bad = (options: unknown, pattern: RegExp): void => {
    assert.throws(() => makeApp().plugin(cors, options as never), (e: unknown) => e instanceof ConfigError && e.code === 'VIAL_ERR_CORS' && pattern.test(e.message));
  };
  bad(undefined, /needs `origins`/);
  bad({ origins: [] }, /non-empty list/);
  bad({ origins: '*', credentials: true }, /never '\*'/);
  bad({ origins: ['https://app.example/path'] }, /not an origin/);
  bad({ origins: ['app.example'] }, /not an origin/);
  bad({ origins: [/app\.example/] }, /anchored/);
  bad({ origins: [FRONT], allowHeaders: ['bad header'] }, /not a header/);
  bad({ origins: [FRONT], maxAgeSec: -1 }, /maxAgeSec/);
  const app = makeApp();
  app.plugin(cors, { origins: [FRONT] });
  app.get('/x', { cors: { origins: [/x/] } }, () => 'x');
  assert.throws(() => app.routeList, /anchored/);
});
