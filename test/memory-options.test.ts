import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { resolveMemoryOptions } from '../src/memory/options.ts';

describe('resolveMemoryOptions', () => {
  it('turns every protection on by default and freezes the result', () => {
    const o = resolveMemoryOptions();
    assert.deepEqual(o, {
      allocationSampling: { enabled: true, samplingIntervalBytes: 524288, includeInternal: false },
      leakAlarm: { enabled: true, warmupMs: 120_000, sampleIntervalMs: 30_000, windowSamples: 20, minGrowthBytes: 16 * 1024 * 1024 },
      heapSnapshot: { dir: os.tmpdir(), maxHeapFraction: 0.5 },
    });
    assert.ok(Object.isFrozen(o) && Object.isFrozen(o.leakAlarm) && Object.isFrozen(o.allocationSampling) && Object.isFrozen(o.heapSnapshot));
  });

  it('keeps given values and fills the rest', () => {
    const o = resolveMemoryOptions({ leakAlarm: { windowSamples: 5, enabled: false }, heapSnapshot: { dir: '/var/snap' } });
    assert.equal(o.leakAlarm.windowSamples, 5);
    assert.equal(o.leakAlarm.enabled, false);
    assert.equal(o.leakAlarm.warmupMs, 120_000);
    assert.equal(o.heapSnapshot.dir, '/var/snap');
  });

  it('rejects out-of-bounds values with a message naming the option', () => {
    assert.throws(() => resolveMemoryOptions({ leakAlarm: { windowSamples: 2 } }), { code: 'VIAL_ERR_MEMORY_OPTIONS', message: /memory\.leakAlarm\.windowSamples must be an integer from 3/ });
    assert.throws(() => resolveMemoryOptions({ allocationSampling: { samplingIntervalBytes: 10 } }), { code: 'VIAL_ERR_MEMORY_OPTIONS' });
    assert.throws(() => resolveMemoryOptions({ heapSnapshot: { maxHeapFraction: 1.5 } }), { code: 'VIAL_ERR_MEMORY_OPTIONS' });
    assert.throws(() => resolveMemoryOptions({ leakAlarm: { minGrowthBytes: 0 } }), { code: 'VIAL_ERR_MEMORY_OPTIONS' });
  });
});
