import { it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../src/index.ts';
import { both, connect, makeApp } from './helpers/both.ts';

function urlApp(options: Parameters<typeof makeApp>[0] = {}): ReturnType<typeof makeApp> {
  const app = makeApp(options);
  app.get('/users/<int:id>', { name: 'user' }, (ctx) => ({
    relative: ctx.urlFor('user', { id: 7 }, { tab: 'posts' }),
    external: ctx.urlFor('user', { id: 7 }, { query: { tab: 'posts' }, external: true }),
    viaApp: app.urlFor('user', { id: 8 }, { external: true }),
  }));
  return app;
}

both('urlFor with { external: true }', (mode) => {
  it('builds absolute URLs from the request host in development', async (t) => {
    const c = await connect(t, mode, urlApp());
    const body = (await c.get('/users/1')).json<Record<string, string>>();
    const host = mode === 'client' ? 'localhost' : `127.0.0.1:${c.port}`;
    assert.deepEqual(body, { relative: '/users/7?tab=posts', external: `http://${host}/users/7?tab=posts`, viaApp: `http://${host}/users/8` });
  });

  it('uses the configured public origin whatever Host says', async (t) => {
    // allowedHosts '*': otherwise step 0 refuses evil.example before urlFor is reached.
    const c = await connect(t, mode, urlApp({ origin: 'https://app.example.com', allowedHosts: ['*'] }));
    const body = (await c.get('/users/1', { headers: { host: 'evil.example' } })).json<Record<string, string>>();
    assert.equal(body['external'], 'https://app.example.com/users/7?tab=posts');
  });

  it('follows X-Forwarded-Proto and -Host only with trustProxy', async (t) => {
    // The trusted proxy appends to what the client sent: its own entry is the rightmost; the
    // leftmost is the client's word (security/proxy.ts, as Werkzeug's ProxyFix).
    const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example, public.example' };
    const trusted = await connect(t, mode, urlApp({ trustProxy: true }));
    assert.equal((await trusted.get('/users/1', { headers: forwarded })).json<Record<string, string>>()['viaApp'], 'https://public.example/users/8');
    const untrusted = await connect(t, mode, urlApp());
    assert.doesNotMatch((await untrusted.get('/users/1', { headers: forwarded })).json<Record<string, string>>()['viaApp'] ?? '', /public\.example/);
  });

  it('answers 400 rather than build a link from a malformed Host', async (t) => {
    const c = await connect(t, mode, urlApp());
    const reply = await c.get('/users/1', { headers: { host: 'a@evil.example' } });
    assert.equal(reply.status, 400);
    assert.equal(reply.json<{ error: { code: string } }>().error.code, 'VIAL_ERR_BAD_HOST');
  });

  it('refuses to trust Host in production without origin, a checked allowedHosts list or trustProxy', async (t) => {
    const c = await connect(t, mode, urlApp({ env: 'production', allowedHosts: ['*'] }));
    assert.equal((await c.get('/users/1')).status, 500);
  });
});

it('needs the public origin for an external URL outside a request', () => {
  const app = urlApp();
  assert.throws(() => app.urlFor('user', { id: 1 }, { external: true }), (e: unknown) => e instanceof ConfigError && /set `origin`/.test(e.message));
  assert.equal(urlApp({ origin: 'https://a.example' }).urlFor('user', { id: 1 }, { external: true }), 'https://a.example/users/1');
});

it('refuses a parameter the route does not have, naming where it belongs', () => {
  const app = urlApp();
  assert.throws(() => app.urlFor('user', { id: 1, _external: true }), (e: unknown) => e instanceof ConfigError && e.code === 'VIAL_ERR_URL_FOR' && /not a parameter/.test(e.message));
  // @ts-expect-error an unknown option is a type error
  assert.equal(app.urlFor('user', { id: 1 }, { _external: true }).startsWith('/users/1'), true);
});
