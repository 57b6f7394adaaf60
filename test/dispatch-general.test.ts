/**
 * The general path (src/dispatch-general.ts, dispatch-steps.ts): requests the fast path does not
 * finish. Its steps run synchronously until one waits, so these check that both halves keep the
 * lifecycle: hooks, after hooks and teardown on a synchronous POST; the deadline and the client's
 * disconnect while a hook or the handler waits; and that nothing aborts a request already answered.
 * Handlers park on promises the test resolves, so no test depends on how fast the machine is.
 */
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { VialResponse } from '../src/index.ts';
import type { Context } from '../src/index.ts';
import { both, connect, makeApp } from './helpers/both.ts';
import type { ErrorBody } from './helpers/both.ts';
import { waitUntil } from './helpers/wait.ts';

function latch(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** The deadline scan is unref'd: with the in-process client nothing else keeps the loop alive. */
function keepLoopAlive(t: TestContext): void {
  const timer = setInterval(() => {}, 1000);
  t.after(() => clearInterval(timer));
}

both('the general path', (mode) => {
  it('runs synchronous before hooks, the handler, after hooks and teardown on a POST, in order', async (t) => {
    const app = makeApp();
    const order: string[] = [];
    app.beforeRequest((ctx) => {
      order.push(`before ${ctx.request.method}`);
    });
    app.afterRequest((_ctx, response) => {
      order.push('after');
      response.headers['x-after'] = '1';
      return response;
    });
    app.teardownRequest((_ctx, error) => {
      order.push(`teardown ${error === undefined ? 'ok' : 'failed'}`);
    });
    app.post('/sync', () => {
      order.push('handler');
      return { ok: true };
    });
    const c = await connect(t, mode, app);
    const res = await c.post('/sync');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { ok: true });
    assert.equal(res.header('x-after'), '1');
    await waitUntil('teardown ran', () => order.length === 4);
    assert.deepEqual(order, ['before POST', 'handler', 'after', 'teardown ok']);
    await waitUntil('the slot is released', () => app.load.admission.inFlight === 0);
    assert.equal(app.load.deadlines.stats().tracked, 0);
  });

  it('answers a value a synchronous before hook returns, and a synchronous throw as its error response', async (t) => {
    const app = makeApp();
    app.beforeRequest((ctx) => {
      if (ctx.request.path === '/short') return new VialResponse('from the hook', 202);
      if (ctx.request.path === '/throw') throw new Error('hook broke');
      return undefined;
    });
    app.post('/short', () => 'handler');
    app.post('/throw', () => 'handler');
    const c = await connect(t, mode, app);
    const short = await c.post('/short');
    assert.equal(short.status, 202);
    assert.equal(short.text, 'from the hook');
    const thrown = await c.post('/throw');
    assert.equal(thrown.status, 500);
    assert.equal(thrown.json<ErrorBody>().error.code, 'VIAL_ERR_INTERNAL');
  });

  it('answers 504 when the deadline passes while an async before hook waits, and never runs the handler', async (t) => {
    keepLoopAlive(t);
    const app = makeApp();
    const hook = latch();
    let handled = false;
    app.beforeRequest(async () => {
      await hook.promise;
    });
    app.post('/slow-hook', { timeoutMs: 100 }, () => {
      handled = true;
      return 'too late';
    });
    const c = await connect(t, mode, app);
    const res = await c.post('/slow-hook');
    assert.equal(res.status, 504);
    assert.equal(res.json<ErrorBody>().error.code, 'VIAL_ERR_DEADLINE');
    hook.open();
    await waitUntil('the slot is released', () => app.load.admission.inFlight === 0);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(handled, false);
  });

  it('reads a JSON body after an async before hook and answers from it', async (t) => {
    const app = makeApp();
    app.beforeRequest(async (ctx) => {
      await Promise.resolve();
      ctx.g['seen'] = true;
    });
    app.post('/echo', async (ctx) => ({ got: await ctx.request.json(), seen: ctx.g['seen'] }));
    const c = await connect(t, mode, app);
    const res = await c.post('/echo', { body: '{"a":[1,{"b":2}]}', headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { got: { a: [1, { b: 2 }] }, seen: true });
  });

  it('refuses a wrong content type with a rejected promise from json(), never a synchronous throw', async (t) => {
    const app = makeApp();
    app.post('/typed', (ctx) => {
      const reading = ctx.request.json();
      assert.ok(reading instanceof Promise);
      return reading.then(
        () => 'parsed',
        (error: { status?: number }) => `refused ${error.status}`,
      );
    });
    const c = await connect(t, mode, app);
    const res = await c.post('/typed', { body: 'a=1', headers: { 'content-type': 'text/plain' } });
    assert.equal(res.text, 'refused 415');
  });
});

describe('the general path and the client (real server)', () => {
  it('aborts ctx.signal and frees the slot when the client leaves while a POST handler waits after an async hook', async (t) => {
    const app = makeApp({ load: { admission: { maxInFlight: 1, maxQueue: 0 } } });
    let reason: unknown;
    app.beforeRequest(async () => {
      await Promise.resolve();
    });
    app.post('/hang', async (ctx: Context) => {
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
      reason = ctx.signal.reason;
    });
    app.get('/ok', () => 'ok');
    const conn = await connect(t, 'server', app);
    const agent = new Agent({ keepAlive: false });
    t.after(() => agent.destroy());
    const req = request({ host: '127.0.0.1', port: conn.port, path: '/hang', method: 'POST', agent });
    req.on('error', () => {}); // the socket is destroyed on purpose
    req.end();
    await waitUntil('the request is admitted', () => app.load.admission.inFlight === 1);
    req.destroy();
    await waitUntil('the handler saw the abort', () => reason !== undefined);
    assert.equal((reason as { code?: string }).code, 'VIAL_ERR_CLIENT_GONE');
    await waitUntil('the slot is released', () => app.load.admission.inFlight === 0);
    assert.equal((await conn.get('/ok')).status, 200);
  });

  it('never aborts a request that was answered before its client left', async (t) => {
    const app = makeApp();
    let signal: AbortSignal | undefined;
    let socket: { destroyed: boolean } | undefined;
    app.post('/answered', async (ctx: Context) => {
      signal = ctx.signal;
      socket = ctx.request.raw.socket;
      await Promise.resolve();
      return 'answered';
    });
    const conn = await connect(t, 'server', app);
    const agent = new Agent({ keepAlive: true });
    t.after(() => agent.destroy());
    const body = await new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: conn.port, path: '/answered', method: 'POST', agent }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(body, 'answered');
    await waitUntil('the slot is released', () => app.load.admission.inFlight === 0);
    agent.destroy();
    await waitUntil('the server saw the connection close', () => socket?.destroyed === true);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(signal?.aborted, false);
  });
});
