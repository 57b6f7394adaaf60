import { it } from 'node:test';
import assert from 'node:assert/strict';
import { Blueprint, ConfigError, VialError, abort, definePlugin } from '../src/index.ts';
import type { Context, RouteView } from '../src/index.ts';
import { both, connect, makeApp } from './helpers/both.ts';
import { waitUntil } from './helpers/wait.ts';

declare module '../src/index.ts' {
  interface ContextDecorations {
    tenant: { readonly name: string; readonly createdFor: string };
  }
  interface RouteOptions {
    audit?: 'strict' | 'off';
  }
}

both('the plugin seam', (mode) => {
  it('resolves options once, frozen, and sets the plugin up with them', async (t) => {
    const seen: unknown[] = [];
    const plugin = definePlugin<{ readonly tag: string; readonly list: readonly string[] }, { tag?: string }>({
      name: 'tagger',
      options: (input) => ({ tag: input?.tag ?? 'none', list: ['a'] }),
      setup(r, options) {
        seen.push(options);
        r.afterRequest((_ctx, response) => {
          response.header('x-tag', options.tag);
        });
      },
    });
    const app = makeApp();
    app.plugin(plugin, { tag: 'hello' });
    app.get('/', () => 'ok');
    const c = await connect(t, mode, app);
    assert.equal((await c.get('/')).header('x-tag'), 'hello');
    assert.equal(seen.length, 1);
    assert.ok(Object.isFrozen(seen[0]) && Object.isFrozen((seen[0] as { list: unknown }).list));
  });

  it('scopes a plugin registered on a blueprint to that blueprint\'s routes', async (t) => {
    const marker = definePlugin<undefined>({
      name: 'marker',
      setup(r) {
        r.perRoute(() => ({ onResponse: (_ctx, response) => void response.header('x-marked', r.blueprint ?? 'app') }));
      },
    });
    const app = makeApp();
    const admin = new Blueprint('admin', { prefix: '/admin' });
    admin.plugin(marker);
    admin.get('/', () => 'admin');
    app.get('/', () => 'home');
    app.register(admin);
    const c = await connect(t, mode, app);
    assert.equal((await c.get('/admin')).header('x-marked'), 'admin');
    assert.equal((await c.get('/')).header('x-marked'), undefined);
  });

  it('runs onRequest before the CSRF guard, beforeHandler after the before hooks, onResponse on error responses', async (t) => {
    const order: string[] = [];
    const plugin = definePlugin<undefined>({
      name: 'order',
      setup(r) {
        r.perRoute((route) => ({
          onRequest: (ctx: Context) => {
            order.push(`onRequest ${route.key}`);
            if (ctx.request.header('x-stop') === '1') return { stopped: true };
            return undefined;
          },
          beforeHandler: () => void order.push('beforeHandler'),
          onResponse: (_ctx, response) => {
            order.push(`onResponse ${response.status}`);
            response.header('x-seen', 'yes');
          },
          teardown: () => void order.push('teardown'),
        }));
      },
    });
    const app = makeApp();
    app.plugin(plugin);
    app.beforeRequest(() => void order.push('before'));
    app.post('/fail', () => abort(409, 'conflict'));
    const c = await connect(t, mode, app);
    // A cross-site POST with x-stop: the plugin answers before CSRF would refuse it.
    const stopped = await c.post('/fail', { crossSite: true, headers: { 'x-stop': '1' } });
    assert.deepEqual(stopped.json(), { stopped: true });
    const failed = await c.post('/fail');
    assert.equal(failed.status, 409);
    assert.equal(failed.header('x-seen'), 'yes');
    await waitUntil('both teardowns', () => order.filter((o) => o === 'teardown').length === 2);
    assert.deepEqual(order, [
      'onRequest POST /fail', 'onResponse 200', 'teardown',
      'onRequest POST /fail', 'before', 'beforeHandler', 'onResponse 409', 'teardown',
    ]);
  });

  it('runs the app\'s after hooks on responses made by error handlers and default error pages', async (t) => {
    const app = makeApp();
    app.afterRequest((_ctx, response) => void response.header('x-after', String(response.status)));
    app.errorHandler(418, () => ({ teapot: true }));
    app.get('/teapot', () => abort(418));
    app.get('/boom', () => {
      throw new Error('internal detail');
    });
    const c = await connect(t, mode, app);
    const teapot = await c.get('/teapot');
    assert.equal(teapot.status, 418);
    assert.equal(teapot.header('x-after'), '418');
    const boom = await c.get('/boom');
    assert.equal(boom.status, 500);
    assert.equal(boom.header('x-after'), '500');
    assert.doesNotMatch(boom.text, /internal detail/);
  });

  it('keeps the error response when an after hook fails on it', async (t) => {
    const app = makeApp();
    app.afterRequest((_ctx, response) => {
      if (response.status === 404 || response.status >= 500) throw new Error('after hook broke');
    });
    app.get('/missing', () => abort(404));
    const c = await connect(t, mode, app);
    const missing = await c.get('/missing');
    assert.equal(missing.status, 404);
    assert.equal(missing.json<{ error: { code: string } }>().error.code, 'VIAL_ERR_HTTP_404');
  });

  it('gives each request its own lazily created, typed ctx decoration', async (t) => {
    let created = 0;
    const tenant = definePlugin<undefined>({
      name: 'tenant',
      setup(r) {
        r.decorate('tenant', (ctx) => {
          created++;
          return { name: ctx.request.header('x-tenant') ?? 'public', createdFor: ctx.request.path };
        });
      },
    });
    const app = makeApp();
    app.plugin(tenant);
    app.get('/who', (ctx) => ({ tenant: ctx.tenant.name, same: ctx.tenant === ctx.tenant }));
    app.get('/untouched', () => 'no tenant read');
    const c = await connect(t, mode, app);
    assert.deepEqual((await c.get('/who', { headers: { 'x-tenant': 'acme' } })).json(), { tenant: 'acme', same: true });
    assert.deepEqual((await c.get('/who')).json(), { tenant: 'public', same: true });
    await c.get('/untouched');
    assert.equal(created, 2);
  });

  it('answers unmatched requests through onUnmatched, with the routes at that path', async (t) => {
    const seen: string[][] = [];
    const preflight = definePlugin<undefined>({
      name: 'preflight',
      setup(r) {
        r.onUnmatched((ctx, { allowed }) => {
          seen.push(allowed.map((route: RouteView) => route.key));
          if (ctx.request.method === 'OPTIONS' && allowed.length > 0) return { preflight: allowed.map((route) => route.method) };
          return undefined;
        });
      },
    });
    const app = makeApp();
    app.plugin(preflight);
    app.post('/items', () => 'created');
    const c = await connect(t, mode, app);
    assert.deepEqual((await c.options('/items')).json(), { preflight: ['POST'] });
    assert.equal((await c.get('/items')).status, 405);
    assert.equal((await c.get('/nothing')).status, 404);
    assert.deepEqual(seen, [['POST /items'], ['POST /items'], []]);
  });

  it('adds response headers to every response, the fast path and refusals included', async (t) => {
    const plugin = definePlugin<undefined>({
      name: 'powered',
      setup(r) {
        r.responseHeaders({ document: [['x-powered', 'doc']], data: [['x-powered', 'data']] });
      },
    });
    const app = makeApp();
    app.plugin(plugin);
    app.get('/page', () => '<p>hi</p>');
    app.get('/data', () => ({ ok: true }));
    const c = await connect(t, mode, app);
    assert.equal((await c.get('/page')).header('x-powered'), 'doc');
    assert.equal((await c.get('/data')).header('x-powered'), 'data');
    assert.equal((await c.get('/page')).header('x-content-type-options'), 'nosniff');
  });

  it('calls perRoute once per route at startup and leaves routes it declines untouched', async (t) => {
    const decided: string[] = [];
    let calls = 0;
    const plugin = definePlugin<undefined>({
      name: 'audit',
      setup(r) {
        r.routeOption('audit', (value, route) => {
          if (value !== 'strict' && value !== 'off') throw new ConfigError('VIAL_ERR_ROUTE', `${route.key}: audit is 'strict' or 'off'`);
        });
        r.perRoute((route) => {
          decided.push(`${route.method} ${route.path}`);
          if (route.options.audit !== 'strict') return undefined;
          return { onRequest: () => void calls++ };
        });
      },
    });
    const app = makeApp();
    app.plugin(plugin);
    app.get('/strict', { audit: 'strict' }, () => 'strict');
    app.get('/plain', () => 'plain');
    const c = await connect(t, mode, app);
    for (let i = 0; i < 3; i++) await c.get('/plain');
    await c.get('/strict');
    assert.equal(calls, 1);
    // GET and the automatic HEAD of each route, decided once each.
    assert.deepEqual(decided.sort(), ['GET /plain', 'GET /strict', 'HEAD /plain', 'HEAD /strict'].sort());
  });
});

it('refuses an unknown route option at startup, naming the route and the known options', () => {
  const app = makeApp();
  app.get('/x', { timeoutMs: 100, schmea: { body: {} } } as never, () => 'x');
  assert.throws(() => app.routeList, (error: unknown) => error instanceof VialError && error.code === 'VIAL_ERR_ROUTE' && /GET \/x has an unknown option "schmea"/.test(error.message));
});

it('runs a plugin\'s own route-option check at startup', () => {
  const plugin = definePlugin<undefined>({
    name: 'audit',
    setup(r) {
      r.routeOption('audit', (value) => {
        if (value !== 'strict') throw new ConfigError('VIAL_ERR_ROUTE', 'audit must be strict');
      });
    },
  });
  const app = makeApp();
  app.plugin(plugin);
  app.get('/x', { audit: 'off' }, () => 'x');
  assert.throws(() => app.routeList, /audit must be strict/);
});

it('checks dependencies at startup and refuses a plugin registered twice in one scope', () => {
  const base = definePlugin<undefined>({ name: 'base', setup() {} });
  const needsBase = definePlugin<undefined>({ name: 'needs-base', dependencies: ['base'], setup() {} });
  const app = makeApp();
  app.plugin(needsBase);
  app.get('/', () => 'x');
  assert.throws(() => app.routeList, (error: unknown) => error instanceof VialError && error.code === 'VIAL_ERR_PLUGIN' && /needs plugin "base"/.test(error.message));

  const ok = makeApp();
  ok.plugin(base).plugin(needsBase);
  ok.get('/', () => 'x');
  assert.equal(ok.routeList.length, 2);
  assert.throws(() => ok.plugin(base), /VIAL_ERR_APP_FROZEN|after the app has started/);

  const twice = makeApp();
  twice.plugin(base);
  assert.throws(() => twice.plugin(base), /already registered on the app/);
});

it('refuses app-wide features in a blueprint and a decoration that clashes with ctx', () => {
  const headers = definePlugin<undefined>({ name: 'h', setup: (r) => void r.responseHeaders({ document: [['x-a', '1']] }) });
  const bp = new Blueprint('bp');
  bp.plugin(headers);
  assert.throws(() => makeApp().register(bp), /responseHeaders are app-wide/);
  const clash = definePlugin<undefined>({ name: 'clash', setup: (r) => void r.decorate('session' as never, () => undefined as never) });
  assert.throws(() => makeApp().plugin(clash), /already has it/);
});

it('refuses a value that is not a plugin, and a plugin without a name', () => {
  assert.throws(() => makeApp().plugin({ name: 'fake', setup() {} } as never), /definePlugin/);
  assert.throws(() => definePlugin({ name: '', setup() {} }), /non-empty `name`/);
});

it('calls onServer for each server the app creates and detaches at shutdown', async () => {
  const events: string[] = [];
  const plugin = definePlugin<undefined>({
    name: 'server-watch',
    setup(r) {
      r.onServer((server) => {
        const onUpgrade = (): void => void events.push('upgrade');
        server.on('upgrade', onUpgrade);
        events.push('attached');
        return () => {
          server.off('upgrade', onUpgrade);
          events.push('detached');
        };
      });
    },
  });
  const app = makeApp();
  app.plugin(plugin);
  app.get('/', () => 'x');
  const running = await app.listen({ port: 0, host: '127.0.0.1' });
  assert.equal(running.server.listenerCount('upgrade'), 1);
  await running.close();
  assert.deepEqual(events, ['attached', 'detached']);
});
