import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolveProcessOptions } from '../src/process/options.ts';
import { VialError } from '../src/errors.ts';

describe('resolveProcessOptions', () => {
  it('fills the documented defaults and freezes the result', () => {
    const o = resolveProcessOptions();
    assert.equal(o.workers, 1);
    assert.deepEqual(o.recycle, { maxRequests: 0, maxRequestsJitter: 0, maxRssBytes: 0 });
    assert.deepEqual(o.heartbeat, { intervalMs: 1000, timeoutMs: 10_000 });
    assert.equal(o.gracefulTimeoutMs, 30_000);
    assert.ok(Object.isFrozen(o) && Object.isFrozen(o.recycle) && Object.isFrozen(o.heartbeat));
  });

  it('defaults the jitter to a tenth of maxRequests', () => {
    assert.equal(resolveProcessOptions({ recycle: { maxRequests: 1000 } }).recycle.maxRequestsJitter, 100);
  });

  it('refuses a heartbeat timeout that is not above the interval', () => {
    assert.throws(() => resolveProcessOptions({ heartbeat: { intervalMs: 1000, timeoutMs: 1000 } }),
      (err: unknown) => err instanceof VialError && err.code === 'VIAL_ERR_PROCESS_OPTIONS' && /timeoutMs/.test(err.message));
  });

  it('refuses a worker count that is not a positive integer', () => {
    for (const workers of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => resolveProcessOptions({ workers }), { code: 'VIAL_ERR_PROCESS_OPTIONS' });
    }
  });

  it('accepts an already resolved object unchanged', () => {
    const o = resolveProcessOptions({ workers: 3, recycle: { maxRequests: 50, maxRequestsJitter: 7 } });
    assert.deepEqual(resolveProcessOptions(o), o);
  });
});
