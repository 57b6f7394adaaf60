/**
 * CPU offload through the real app: whole routes in the worker-thread pool (`worker:`),
 * `ctx.offload()` from a normal handler, refusal when the pool is full, and a main thread that
 * keeps answering while a worker thread burns CPU.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import type { Context } from '../src/context.ts';
import { both, connect, makeApp } from './helpers/both.ts';
import type { ErrorBody } from './helpers/both.ts';
import { waitUntil } from './helpers/wait.ts';

const CPU_ROUTE = new URL('./fixtures/app-load/cpu-route.ts', import.meta.url);
const CPU_TASK = new URL('./fixtures/app-load/cpu-task.ts', import.meta.url);

both('offload through the app', (mode) => {
  it('runs a worker: route in the pool and answers JSON computed from params, query and body', async (t) => {
    const app = makeApp({ load: { offload: { maxThreads: 1 } } });
    app.post('/sum/<int:n>', { worker: CPU_ROUTE });
    t.after(() => app.load.offload.close());
    const conn = await connect(t, mode, app);
    const res = await conn.post('/sum/10', { query: { times: '3' }, json: { add: 5 } });
    assert.equal(res.status, 200);
    assert.match(res.header('content-type') ?? '', /application\/json/);
    assert.deepEqual(res.json(), { method: 'POST', n: 10, times: 3, add: 5, total: 170 });
  });

  it('runs ctx.offload(file, payload) from a normal handler', async (t) => {
    const app = makeApp({ load: { offload: { maxThreads: 1 } } });
    app.get('/sum', async (ctx: Context) => ({ total: await ctx.offload<number>(CPU_TASK, { n: Number(ctx.query.get('n')) }) }));
    t.after(() => app.load.offload.close());
    const conn = await connect(t, mode, app);
    const res = await conn.get('/sum', { query: { n: '100' } });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { total: 5050 });
  });

  it('refuses with 503 VIAL_ERR_OFFLOAD_QUEUE_FULL and Retry-After when the pool and its queue are full', async (t) => {
    const app = makeApp({ load: { offload: { maxThreads: 1, maxQueue: 1 } } });
    const gate = new SharedArrayBuffer(4);
    app.get('/hold', (ctx: Context) => ctx.offload<string>(CPU_TASK, { gate }, { name: 'hold' }));
    const release = (): void => {
      Atomics.store(new Int32Array(gate), 0, 1);
      Atomics.notify(new Int32Array(gate), 0);
    };
    // Even if an assertion fails, the held threads are released before the pool closes.
    t.after(async () => {
      release();
      await app.load.offload.close();
    });
    const conn = await connect(t, mode, app);
    const held = [conn.get('/hold'), conn.get('/hold')];
    await waitUntil('one task runs and one waits', () => app.load.offload.stats().active === 2);
    const refused = await conn.get('/hold');
    assert.equal(refused.status, 503);
    assert.equal(refused.json<ErrorBody>().error.code, 'VIAL_ERR_OFFLOAD_QUEUE_FULL');
    assert.ok(Number(refused.header('retry-after')) >= 1, 'Retry-After is set');
    release();
    for (const res of await Promise.all(held)) assert.equal(res.text, 'released');
  });

  it('answers a plain route while a worker: route burns CPU in a thread', async (t) => {
    const app = makeApp({ load: { offload: { maxThreads: 1 } } });
    app.get('/burn', { worker: CPU_ROUTE });
    app.get('/ping', () => 'pong');
    t.after(() => app.load.offload.close());
    const conn = await connect(t, mode, app);
    const order: string[] = [];
    const burn = conn.get('/burn', { query: { ms: '1000' } }).then((res) => {
      order.push('burn');
      return res;
    });
    await waitUntil('the CPU route is in the pool', () => app.load.offload.stats().active === 1);
    const ping = await conn.get('/ping');
    order.push('ping');
    assert.equal(ping.text, 'pong');
    assert.deepEqual((await burn).json(), { burned: true });
    assert.deepEqual(order, ['ping', 'burn'], 'the main thread answered before the CPU route finished');
  });
});
