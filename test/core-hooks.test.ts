import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Blueprint, VialError, VialResponse, abort, json } from '../src/index.ts';
import type { Context } from '../src/index.ts';
import { both, connect, makeApp } from './helpers/both.ts';
import type { ErrorBody } from './helpers/both.ts';
import { waitUntil } from './helpers/wait.ts';

// The test's own codes, added to the registry as a plugin adds its own (docs/errors.md).
declare module '../src/error-codes.ts' {
  interface VialErrorCodes {
    VIAL_ERR_TEST: true;
  }
}

both('blueprints', (mode) => {
  it('mounts routes under the blueprint prefix, or the prefix given to register', async (t) => {
    const app = makeApp();
    const api = new Blueprint('api', { prefix: '/api/' });
    api.get('/', () => 'api root');
    api.get('/items/<int:id>', (ctx) => ({ id: ctx.params['id'], bp: ctx.route?.blueprint }));
    const other = new Blueprint('other', { prefix: '/ignored' });
    other.get('/x', () => 'x');
    app.register(api).register(other, { prefix: '/v2' });
    const c = await connect(t, mode, app);
    assert.equal((await c.get('/api')).text, 'api root');
    assert.deepEqual((await c.get('/api/items/3')).json(), { id: 3, bp: 'api' });
    assert.equal((await c.get('/v2/x')).text, 'x');
    assert.equal((await c.get('/ignored/x')).status, 404);
  });

  it('runs app before hooks, then blueprint before hooks, and only for the blueprint routes', async (t) => {
    const app = makeApp();
    app.beforeRequest((ctx) => {
      ctx.g['order'] = ['app'];
    });
    const bp = new Blueprint('bp', { prefix: '/bp' });
    bp.beforeRequest((ctx) => {
      (ctx.g['order'] as string[]).push('bp');
    });
    bp.get('/', (ctx) => ctx.g['order'] as string[]);
    app.get('/plain', (ctx) => ctx.g['order'] as string[]);
    app.register(bp);
    const c = await connect(t, mode, app);
    assert.deepEqual((await c.get('/bp')).json(), ['app', 'bp']);
    assert.deepEqual((await c.get('/plain')).json(), ['app']);
  });

  it('runs after hooks blueprint first, then app, each newest first', async (t) => {
    const app = makeApp();
    const order: string[] = [];
    const mark = (name: string) => (_ctx: Context, res: VialResponse): void => {
      order.push(name);
      res.header('x-after', order.join(','));
    };
    app.afterRequest(mark('app1'));
    app.afterRequest(mark('app2'));
    const bp = new Blueprint('bp', { prefix: '/bp' });
    bp.afterRequest(mark('bp1'));
    bp.afterRequest(mark('bp2'));
    bp.get('/', () => 'ok');
    app.register(bp);
    const c = await connect(t, mode, app);
    const res = await c.get('/bp');
    assert.equal(res.header('x-after'), 'bp2,bp1,app2,app1');
  });

  it('runs blueprint teardown hooks before app ones, each with the request', async (t) => {
    const app = makeApp();
    const seen: string[] = [];
    app.teardownRequest((ctx) => void seen.push(`app:${ctx.request.path}`));
    const bp = new Blueprint('bp', { prefix: '/bp' });
    bp.teardownRequest((ctx) => void seen.push(`bp:${ctx.request.path}`));
    bp.get('/', () => 'ok');
    app.register(bp);
    const c = await connect(t, mode, app);
    await c.get('/bp');
    await waitUntil('teardown hooks', () => seen.length === 2);
    assert.deepEqual(seen, ['bp:/bp', 'app:/bp']);
  });

  it('uses the blueprint error handler for its routes and the app one elsewhere', async (t) => {
    const app = makeApp();
    app.errorHandler(418, () => 'app teapot');
    const bp = new Blueprint('bp', { prefix: '/bp' });
    bp.errorHandler(418, () => 'bp teapot');
    bp.get('/tea', () => abort(418));
    app.get('/tea', () => abort(418));
    app.register(bp);
    const c = await connect(t, mode, app);
    const inBp = await c.get('/bp/tea');
    assert.equal(inBp.status, 418);
    assert.equal(inBp.text, 'bp teapot');
    const inApp = await c.get('/tea');
    assert.equal(inApp.status, 418);
    assert.equal(inApp.text, 'app teapot');
  });

  it('falls back to the app error handler when the blueprint has none for that error', async (t) => {
    const app = makeApp();
    app.errorHandler(409, (e: VialError) => json({ handled: 'app', code: e.code }, { status: 409 }));
    const bp = new Blueprint('bp', { prefix: '/bp' });
    bp.get('/conflict', () => abort(409));
    app.register(bp);
    const c = await connect(t, mode, app);
    const res = await c.get('/bp/conflict');
    assert.equal(res.status, 409);
    assert.deepEqual(res.json(), { handled: 'app', code: 'VIAL_ERR_HTTP_409' });
  });
});

both('request hooks', (mode) => {
  it('short-circuits when a before hook returns a value: later hooks and the handler do not run', async (t) => {
    const app = makeApp();
    let later = 0;
    let handled = 0;
    app.beforeRequest((ctx) => (ctx.query.get('token') === 'ok' ? undefined : json({ denied: true }, { status: 401 })));
    app.beforeRequest(() => void later++);
    app.get('/secret', () => {
      handled++;
      return 'secret';
    });
    const c = await connect(t, mode, app);
    const denied = await c.get('/secret');
    assert.equal(denied.status, 401);
    assert.deepEqual(denied.json(), { denied: true });
    assert.equal(later, 0);
    assert.equal(handled, 0);
    assert.equal((await c.get('/secret?token=ok')).text, 'secret');
    assert.equal(later, 1);
    assert.equal(handled, 1);
  });

  it('mixes synchronous and async before hooks in order, for GET (the fast path) and POST alike', async (t) => {
    const app = makeApp({ security: { csrf: { enabled: false } } });
    app.beforeRequest((ctx) => {
      ctx.g['order'] = ['sync 1'];
    });
    app.beforeRequest(async (ctx) => {
      await Promise.resolve();
      (ctx.g['order'] as string[]).push('async 2');
    });
    app.beforeRequest((ctx) => {
      (ctx.g['order'] as string[]).push('sync 3');
      return ctx.query.get('stop') === '3' ? { stoppedAt: 3, order: ctx.g['order'] } : undefined;
    });
    let handled = 0;
    const handler = (ctx: Context): { order: string[] } => {
      handled++;
      return { order: ctx.g['order'] as string[] };
    };
    app.get('/order', handler);
    app.post('/order', handler);
    const c = await connect(t, mode, app);
    assert.deepEqual((await c.get('/order')).json(), { order: ['sync 1', 'async 2', 'sync 3'] });
    assert.deepEqual((await c.post('/order')).json(), { order: ['sync 1', 'async 2', 'sync 3'] });
    assert.deepEqual((await c.get('/order?stop=3')).json(), { stoppedAt: 3, order: ['sync 1', 'async 2', 'sync 3'] });
    assert.equal(handled, 2);
  });

  it('answers a synchronous before hook\'s throw through the error handler, and runs no later hook or handler', async (t) => {
    const app = makeApp();
    let later = 0;
    app.beforeRequest(() => {
      throw new VialError('VIAL_ERR_TEST', 'no entry', { status: 403 });
    });
    app.beforeRequest(() => void later++);
    app.errorHandler(VialError, (error) => json({ handled: error.code }, { status: error.status }));
    app.get('/x', () => {
      later++;
      return 'x';
    });
    const c = await connect(t, mode, app);
    const res = await c.get('/x');
    assert.equal(res.status, 403);
    assert.deepEqual(res.json(), { handled: 'VIAL_ERR_TEST' });
    assert.equal(later, 0);
  });

  it('stops a hook chain at its deadline: a slow async hook gets 504, and the hooks after it and the handler never run', async (t) => {
    const app = makeApp();
    let later = 0;
    let release: () => void = () => undefined;
    const slow = new Promise<void>((resolve) => (release = resolve));
    app.beforeRequest(() => undefined);
    app.beforeRequest(() => slow);
    app.beforeRequest(() => void later++);
    app.get('/slow', { timeoutMs: 50 }, () => {
      later++;
      return 'late';
    });
    const c = await connect(t, mode, app);
    // The deadline timer is unref'd (it never holds a process open) and the test client has no
    // socket, so something must keep this process's loop alive until the 504.
    const alive = setInterval(() => undefined, 1000);
    t.after(() => clearInterval(alive));
    assert.equal((await c.get('/slow')).status, 504);
    release();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(later, 0);
  });

  it('lets after hooks change the response or replace it', async (t) => {
    const app = makeApp();
    app.afterRequest((_ctx, res) => {
      res.status = 201;
      res.header('x-changed', 'yes');
    });
    app.afterRequest((ctx, res) => (ctx.query.has('replace') ? new VialResponse(`replaced ${typeof res.body === 'string' ? res.body : '?'}`, 200, { 'content-type': 'text/plain' }) : undefined));
    app.get('/', () => 'original');
    const c = await connect(t, mode, app);
    const changed = await c.get('/');
    assert.equal(changed.status, 201);
    assert.equal(changed.header('x-changed'), 'yes');
    assert.equal(changed.text, 'original');
    const replaced = await c.get('/?replace=1');
    // The newest after hook runs first, so the replacement is the one the older hook then changes.
    assert.equal(replaced.text, 'replaced original');
    assert.equal(replaced.status, 201);
    assert.equal(replaced.header('x-changed'), 'yes');
  });

  it('runs teardown after success with no error, and after a failure with the error', async (t) => {
    const app = makeApp();
    const seen: Array<{ path: string; error: unknown }> = [];
    app.teardownRequest((ctx, error) => void seen.push({ path: ctx.request.path, error }));
    app.get('/ok', () => 'ok');
    app.get('/boom', () => {
      throw new Error('boom');
    });
    app.get('/before', () => 'never');
    app.beforeRequest((ctx) => {
      if (ctx.request.path === '/before') throw new VialError('VIAL_ERR_TEST', 'hook failed', { status: 422 });
    });
    const c = await connect(t, mode, app);
    assert.equal((await c.get('/ok')).status, 200);
    assert.equal((await c.get('/boom')).status, 500);
    assert.equal((await c.get('/before')).status, 422);
    await waitUntil('three teardowns', () => seen.length === 3);
    const byPath = new Map(seen.map((s) => [s.path, s.error]));
    assert.equal(byPath.get('/ok'), undefined);
    assert.ok(byPath.get('/boom') instanceof Error);
    assert.equal((byPath.get('/boom') as Error).message, 'boom');
    assert.equal((byPath.get('/before') as VialError).code, 'VIAL_ERR_TEST');
  });

  it('runs every teardown hook even when one of them throws', async (t) => {
    const app = makeApp();
    const ran: string[] = [];
    app.teardownRequest(() => void ran.push('first registered'));
    app.teardownRequest(() => {
      ran.push('failing');
      throw new Error('teardown failed');
    });
    app.teardownRequest(async () => {
      await Promise.resolve();
      ran.push('newest');
    });
    app.get('/', () => 'fine');
    const c = await connect(t, mode, app);
    const res = await c.get('/');
    assert.equal(res.status, 200);
    assert.equal(res.text, 'fine');
    await waitUntil('all teardowns', () => ran.length === 3);
    assert.deepEqual(ran, ['newest', 'failing', 'first registered']);
  });

  it('turns an error thrown by an after hook into an error response and still tears down', async (t) => {
    const app = makeApp();
    let failure: unknown;
    app.afterRequest(() => abort(503, 'after hook refused'));
    app.teardownRequest((_ctx, error) => {
      failure = error;
    });
    app.get('/', () => 'would be fine');
    const c = await connect(t, mode, app);
    const res = await c.get('/');
    assert.equal(res.status, 503);
    assert.equal(res.json<ErrorBody>().error.code, 'VIAL_ERR_INTERNAL');
    await waitUntil('teardown', () => failure !== undefined);
    assert.equal((failure as VialError).status, 503);
  });
});

describe('startup and shutdown hooks', () => {
  it('runs startup hooks once before the first request, in order', async () => {
    const app = makeApp();
    const ran: string[] = [];
    app.onStartup(async () => {
      await Promise.resolve();
      ran.push('one');
    });
    app.onStartup(() => void ran.push('two'));
    app.get('/', () => ran.join(','));
    const { TestClient } = await import('../src/testing.ts');
    const client = new TestClient(app);
    assert.equal((await client.get('/')).text, 'one,two');
    await client.get('/');
    await app.start();
    assert.deepEqual(ran, ['one', 'two']);
  });

  it('runs startup before listening and shutdown newest first on close, past a failing hook', async () => {
    const app = makeApp();
    const ran: string[] = [];
    app.onStartup(() => void ran.push('startup'));
    app.onShutdown(() => void ran.push('shutdown old'));
    app.onShutdown(() => {
      ran.push('shutdown failing');
      throw new Error('cannot flush');
    });
    app.onShutdown(() => void ran.push('shutdown new'));
    app.get('/', () => 'up');
    const server = await app.listen({ port: 0 });
    try {
      assert.deepEqual(ran, ['startup']);
      const res = await fetch(`${server.url}/`);
      assert.equal(await res.text(), 'up');
    } finally {
      await server.close();
    }
    assert.deepEqual(ran, ['startup', 'shutdown new', 'shutdown failing', 'shutdown old']);
    await server.close();
    assert.equal(ran.length, 4, 'close() twice runs shutdown hooks once');
  });

  it('refuses to listen when a startup hook fails', async () => {
    const app = makeApp();
    app.onStartup(() => {
      throw new Error('database unreachable');
    });
    await assert.rejects(app.listen({ port: 0 }), /database unreachable/);
  });
});
