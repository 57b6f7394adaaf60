import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { VialError } from '../src/errors.ts';
import { Bulkhead } from '../src/load/bulkhead.ts';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}

describe('Bulkhead', () => {
  it('runs calls up to its concurrency and queues the next in order', async () => {
    const db = new Bulkhead({ name: 'db', concurrency: 2, maxQueue: 2 });
    const release = deferred();
    const order: number[] = [];
    const call = (n: number) => db.run(async () => { order.push(n); await release.promise; return n; });
    const results = Promise.all([call(1), call(2), call(3), call(4)]);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(order, [1, 2]);
    assert.deepEqual(db.stats(), { name: 'db', concurrency: 2, inFlight: 2, queued: 2, refused: 0 });
    release.resolve();
    assert.deepEqual(await results, [1, 2, 3, 4]);
    assert.deepEqual(order, [1, 2, 3, 4]);
    assert.equal(db.stats().inFlight, 0);
  });

  it('refuses with VIAL_ERR_BULKHEAD_FULL (503) when slots and queue are taken', async () => {
    const api = new Bulkhead({ name: 'payments-api', concurrency: 1 });
    const release = deferred();
    const first = api.run(() => release.promise);
    await assert.rejects(api.run(() => 'never'), (error: unknown) => {
      assert.ok(error instanceof VialError);
      assert.equal(error.code, 'VIAL_ERR_BULKHEAD_FULL');
      assert.equal(error.status, 503);
      assert.equal(error.headers['Retry-After'], '1');
      assert.match(error.message, /payments-api/);
      return true;
    });
    release.resolve();
    await first;
    assert.equal(await api.run(() => 'again'), 'again', 'it admits again once the slot is free');
    assert.equal(api.stats().refused, 1);
  });

  it('refuses a caller that waited longer than maxQueueWaitMs', async () => {
    const slow = new Bulkhead({ name: 'slow', concurrency: 1, maxQueue: 1, maxQueueWaitMs: 10 });
    const release = deferred();
    const first = slow.run(() => release.promise);
    await assert.rejects(slow.run(() => 'late'), { code: 'VIAL_ERR_BULKHEAD_FULL' });
    release.resolve();
    await first;
  });

  it('rejects with the abort reason when a queued caller is aborted, and frees its place', async () => {
    const b = new Bulkhead({ name: 'abortable', concurrency: 1, maxQueue: 1 });
    const release = deferred();
    const first = b.run(() => release.promise);
    const controller = new AbortController();
    const waiting = b.run(() => 'unreached', { signal: controller.signal });
    controller.abort(new Error('client left'));
    await assert.rejects(waiting, /client left/);
    const next = b.run(() => 'next');
    release.resolve();
    await first;
    assert.equal(await next, 'next');
  });

  it('releases its slot when the call throws', async () => {
    const b = new Bulkhead({ name: 'throws', concurrency: 1 });
    await assert.rejects(b.run(() => { throw new Error('boom'); }), /boom/);
    assert.equal(b.stats().inFlight, 0);
    assert.equal(await b.run(() => 1), 1);
  });
});
