import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { VialError } from '../src/errors.ts';
import { createOffloadPool } from '../src/load/offload.ts';
import type { OffloadPool } from '../src/load/offload.ts';
import { runOffloadedHandler } from '../src/load/offload-handler.ts';
import type { OffloadRequest } from '../src/load/offload-handler.ts';

const worker = { filename: new URL('./fixtures/load/cpu-worker.ts', import.meta.url) };
const handlerModule = new URL('./fixtures/load/handler-ok.ts', import.meta.url);

const pools: OffloadPool[] = [];
function pool(options: Parameters<typeof createOffloadPool>[0]): OffloadPool {
  const p = createOffloadPool(options);
  pools.push(p);
  return p;
}
after(async () => { await Promise.all(pools.map((p) => p.close())); });

function request(path: string, extra: Partial<OffloadRequest> = {}): OffloadRequest {
  return { method: 'GET', path, params: {}, query: [], headers: {}, ...extra };
}

describe('offload pool', () => {
  it('runs a TypeScript worker module and returns its result', async () => {
    const p = pool({ maxThreads: 1, maxQueue: 1 });
    assert.equal(await p.run<number>(worker, { n: 100 }), 5050);
    assert.deepEqual(await p.run({ ...worker, name: 'echo' }, { list: [1, 2] }), { list: [1, 2] });
    assert.equal(p.stats().completed, 2);
  });

  it('refuses with VIAL_ERR_OFFLOAD_QUEUE_FULL (503, Retry-After) when threads and queue are taken, and cancels a queued task whose signal aborts', async () => {
    const p = pool({ maxThreads: 1, maxQueue: 1 });
    const gate = new SharedArrayBuffer(4);
    const running = p.run<number>(worker, { n: 1, waitOn: gate });
    const controller = new AbortController();
    const queued = p.run<number>(worker, { n: 2 }, { signal: controller.signal });
    await assert.rejects(p.run(worker, { n: 3 }), (error: unknown) => {
      assert.ok(error instanceof VialError);
      assert.equal(error.code, 'VIAL_ERR_OFFLOAD_QUEUE_FULL');
      assert.equal(error.status, 503);
      assert.equal(error.headers['Retry-After'], '1');
      return true;
    });
    controller.abort();
    await assert.rejects(queued, { name: 'AbortError' });
    assert.equal(p.stats().refused, 1);
    // The aborted task's place is free again while the first task still holds the thread.
    const next = p.run<number>(worker, { n: 4 });
    const flag = new Int32Array(gate);
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    assert.equal(await running, 1);
    assert.equal(await next, 10);
    assert.equal(p.stats().active, 0);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const p = pool({ maxThreads: 1, maxQueue: 0 });
    await assert.rejects(p.run(worker, { n: 1 }, { signal: AbortSignal.abort() }), { name: 'AbortError' });
    assert.equal(p.stats().active, 0);
  });
});

describe('offloaded handler', () => {
  it('round-trips a string result as HTML', async () => {
    const p = pool({ maxThreads: 1, maxQueue: 4 });
    const res = await runOffloadedHandler(p, handlerModule, request('/text', { params: { name: 'ada' } }));
    assert.deepEqual(res, { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: 'hello ada' });
  });

  it('serialises a plain object as JSON in the worker, with query entries and a binary body', async () => {
    const p = pool({ maxThreads: 1, maxQueue: 4 });
    const res = await runOffloadedHandler(p, handlerModule.href, request('/json', {
      method: 'POST', query: [['a', '1'], ['a', '2']], body: new Uint8Array([1, 2, 3]),
    }));
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
    assert.deepEqual(JSON.parse(res.body as string), { method: 'POST', query: [['a', '1'], ['a', '2']], bytes: 3 });
  });

  it('passes a { status, headers, body } result through, given the module as a file path', async () => {
    const p = pool({ maxThreads: 1, maxQueue: 4 });
    const res = await runOffloadedHandler(p, fileURLToPath(handlerModule), request('/full'));
    assert.equal(res.status, 201);
    assert.equal(res.headers['x-made-in'], 'worker');
    assert.deepEqual(JSON.parse(res.body as string), { ok: true });
  });

  it('rejects with AbortError when the request was aborted before the handler ran', async () => {
    const p = pool({ maxThreads: 1, maxQueue: 4 });
    await assert.rejects(runOffloadedHandler(p, handlerModule, request('/text'), AbortSignal.abort()), { name: 'AbortError' });
  });

  it('turns a handler error or an unusable result into VIAL_ERR_OFFLOAD_HANDLER_FAILED (500, not exposed)', async () => {
    const p = pool({ maxThreads: 1, maxQueue: 4 });
    for (const path of ['/throw', '/number']) {
      await assert.rejects(runOffloadedHandler(p, handlerModule, request(path)), (error: unknown) => {
        assert.ok(error instanceof VialError);
        assert.equal(error.code, 'VIAL_ERR_OFFLOAD_HANDLER_FAILED');
        assert.equal(error.status, 500);
        assert.equal(error.expose, false);
        return true;
      });
    }
  });
});
