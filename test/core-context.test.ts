import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { ContextError, g, request, session } from '../src/index.ts';
import type { Context } from '../src/index.ts';
import { both, connect, makeApp } from './helpers/both.ts';

function isContextError(what: string) {
  return (e: unknown): boolean =>
    e instanceof ContextError &&
    e.code === 'VIAL_ERR_NO_CONTEXT' &&
    e.message.includes('Working outside of request context') &&
    e.message.includes(`\`${what}`) &&
    e.message.includes('test client');
}

/** Resolves with `value`, or with 'timeout' after `ms`; the timer never outlives the test. */
function within<T>(t: { after(fn: () => void): void }, promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  return new Promise<T | 'timeout'>((resolve, reject) => {
    const timer = setTimeout(() => resolve('timeout'), ms);
    t.after(() => clearTimeout(timer));
    promise.then(resolve, reject);
  });
}

describe('context accessors outside a request', () => {
  it('throw a ContextError that says what to do for g, request and session', () => {
    assert.throws(() => g['user'], isContextError('g'));
    assert.throws(() => {
      g['user'] = 'x';
    }, isContextError('g'));
    assert.throws(() => 'user' in g, isContextError('g'));
    assert.throws(() => Object.keys(g), isContextError('g'));
    assert.throws(() => request.path, isContextError('request'));
    assert.throws(() => request.json(), isContextError('request'));
    assert.throws(() => session.get('x'), isContextError('session'));
  });

  it('throw again after a request has finished (no context leaks out of a request)', async () => {
    const app = makeApp();
    let captured: Promise<unknown> | undefined;
    app.get('/', () => {
      g['user'] = 'ada';
      captured = Promise.resolve().then(() => g['user']);
      return 'ok';
    });
    const { TestClient } = await import('../src/testing.ts');
    assert.equal((await new TestClient(app).get('/')).text, 'ok');
    assert.equal(await captured, 'ada', 'work started inside the request keeps its context');
    assert.throws(() => g['user'], isContextError('g'));
  });
});

both('request context', (mode) => {
  it('gives each request its own g, readable through the accessor, ctx.g and after awaits', async (t) => {
    const app = makeApp();
    app.beforeRequest((ctx) => {
      g['user'] = ctx.query.get('user');
    });
    app.get('/me', async (ctx) => {
      await new Promise((resolve) => setImmediate(resolve));
      return { viaG: g['user'], viaCtx: ctx.g['user'], keys: Object.keys(g), has: 'user' in g, path: request.path };
    });
    const c = await connect(t, mode, app);
    const [a, b] = await Promise.all([c.get('/me?user=ada'), c.get('/me?user=bob')]);
    assert.deepEqual(a.json(), { viaG: 'ada', viaCtx: 'ada', keys: ['user'], has: true, path: '/me' });
    assert.deepEqual(b.json(), { viaG: 'bob', viaCtx: 'bob', keys: ['user'], has: true, path: '/me' });
  });

  it('binds request methods through the accessor so await request.json() works', async (t) => {
    const app = makeApp();
    app.post('/echo', async () => ({ body: await request.json(), method: request.method }));
    const c = await connect(t, mode, app);
    assert.deepEqual((await c.post('/echo', { json: { x: 1 } })).json(), { body: { x: 1 }, method: 'POST' });
  });

  it('binds session methods through the accessor to the current request', async (t) => {
    const app = makeApp();
    app.get('/s', () => {
      session.set('visits', ((session.get<number>('visits')) ?? 0) + 1);
      return { visits: session.get('visits'), has: session.has('visits') };
    });
    const c = await connect(t, mode, app);
    assert.deepEqual((await c.get('/s')).json(), { visits: 1, has: true });
  });

  it('adds ctx.header() values to the response, also to error responses', async (t) => {
    const app = makeApp();
    app.beforeRequest((ctx) => void ctx.header('X-Trace', 'abc'));
    app.get('/ok', () => 'ok');
    app.get('/fail', () => {
      throw new Error('x');
    });
    const c = await connect(t, mode, app);
    assert.equal((await c.get('/ok')).header('x-trace'), 'abc');
    assert.equal((await c.get('/fail')).header('x-trace'), 'abc');
  });

  it('gives every request a distinct id, sent as x-request-id', async (t) => {
    const app = makeApp({ log: { requestIdHeader: 'always' } });
    app.get('/id', (ctx) => ctx.id);
    const c = await connect(t, mode, app);
    const replies = await Promise.all([1, 2, 3, 4].map(() => c.get('/id')));
    const ids = replies.map((r) => r.header('x-request-id'));
    assert.deepEqual(replies.map((r) => r.text), ids);
    assert.equal(new Set(ids).size, 4);
  });
});

describe('ctx.signal', () => {
  it('aborts when the client disconnects mid-handler', async (t) => {
    const app = makeApp();
    let started: () => void = () => undefined;
    const handlerStarted = new Promise<void>((resolve) => (started = resolve));
    let aborted: (reason: unknown) => void = () => undefined;
    const signalAborted = new Promise<unknown>((resolve) => (aborted = resolve));
    app.get('/slow', async (ctx: Context) => {
      const signal = ctx.signal;
      signal.addEventListener('abort', () => aborted(signal.reason), { once: true });
      started();
      // Waits for the abort (bounded by the test's own timeout below).
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      return 'too late';
    });
    const c = await connect(t, 'server', app);
    const socket = netConnect(c.port ?? 0, '127.0.0.1');
    t.after(() => socket.destroy());
    socket.on('error', () => undefined);
    socket.write('GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    assert.notEqual(await within(t, handlerStarted, 5000), 'timeout', 'the handler started');
    socket.destroy();
    const reason = await within(t, signalAborted, 5000);
    assert.notEqual(reason, 'timeout', 'ctx.signal aborted');
    assert.equal((reason as { code?: string }).code, 'VIAL_ERR_CLIENT_GONE');
  });

  it('is not aborted for a request that completes normally', async (t) => {
    const app = makeApp();
    let signal: AbortSignal | undefined;
    app.get('/', (ctx) => {
      signal = ctx.signal;
      return 'done';
    });
    const c = await connect(t, 'server', app);
    assert.equal((await c.get('/')).text, 'done');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(signal?.aborted, false);
  });
});

both('ctx.remainingMs()', (mode) => {
  it('gives a synchronous handler on the fast path its route\'s whole timeout', async (t) => {
    const app = makeApp();
    app.get('/sync', { timeoutMs: 5_000 }, (ctx) => ({ remaining: ctx.remainingMs() }));
    const c = await connect(t, mode, app);
    assert.deepEqual((await c.get('/sync')).json(), { remaining: 5_000 });
  });

  it('counts down from the deadline on the monotonic clock after an await, never below 0', async (t) => {
    const app = makeApp();
    app.get('/async', { timeoutMs: 5_000 }, async (ctx) => {
      await new Promise((resolve) => setImmediate(resolve));
      return { remaining: ctx.remainingMs(), deadlineAt: ctx.deadlineAt };
    });
    app.get('/default', async (ctx) => {
      await Promise.resolve();
      return { remaining: ctx.remainingMs() };
    });
    const c = await connect(t, mode, app);
    const { remaining, deadlineAt } = (await c.get('/async')).json<{ remaining: number; deadlineAt: number }>();
    assert.ok(remaining > 0 && remaining <= 5_000, `0 < ${remaining} <= 5000`);
    assert.ok(deadlineAt > 0, 'the deadline was set');
    const fallback = (await c.get('/default')).json<{ remaining: number }>();
    assert.ok(fallback.remaining > 0 && fallback.remaining <= app.load.deadlines.requestTimeoutMs, 'the app default applies');
  });
});
