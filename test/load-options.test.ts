import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../src/errors.ts';
import { resolveLoadOptions } from '../src/load/options.ts';

describe('resolveLoadOptions', () => {
  it('fills the documented defaults, all protections on, and freezes the result', () => {
    const o = resolveLoadOptions();
    assert.equal(o.admission.maxInFlight, 1024);
    assert.equal(o.admission.maxQueue, 512);
    assert.equal(o.admission.maxQueueWaitMs, 1000);
    assert.equal(o.admission.routeConcurrencyShare, 0.5);
    assert.equal(o.deadlines.requestTimeoutMs, 30_000);
    assert.equal(o.pressure.enabled, true);
    assert.equal(o.pressure.maxEventLoopDelayMs, 100);
    assert.equal(o.server.headersTimeoutMs, 10_000);
    assert.equal(o.server.maxHeaderSizeBytes, 16_384);
    assert.ok(o.offload.maxThreads >= 1);
    assert.ok(Object.isFrozen(o) && Object.isFrozen(o.admission) && Object.isFrozen(o.server));
  });

  it('keeps what the caller set', () => {
    const o = resolveLoadOptions({ admission: { maxInFlight: 64 }, pressure: { enabled: false } });
    assert.equal(o.admission.maxInFlight, 64);
    assert.equal(o.admission.maxQueue, 512);
    assert.equal(o.pressure.enabled, false);
  });

  it('refuses out-of-range values with a ConfigError that names the option', () => {
    for (const bad of [
      { admission: { maxInFlight: 0 } },
      { admission: { maxQueueWaitMs: 1.5 } },
      { pressure: { maxEventLoopUtilization: 2 } },
      { offload: { maxThreads: Number.NaN } },
      { server: { headersTimeoutMs: 20_000, requestTimeoutMs: 10_000 } },
    ]) {
      assert.throws(() => resolveLoadOptions(bad), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.code, 'VIAL_ERR_LOAD_OPTION');
        assert.match(error.message, /load\.\w+\.\w+/);
        return true;
      });
    }
  });
});
