import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMITTED } from '../src/load/admission.ts';
import { createLoadProtection } from '../src/load/protection.ts';
import { resolveLoadOptions } from '../src/load/options.ts';
import type { PressureSample, PressureSource } from '../src/load/pressure.ts';

describe('createLoadProtection', () => {
  it('wires event-loop pressure into admission and closes everything it started', async () => {
    const samples: PressureSample[] = [];
    const source: PressureSource = { start() {}, sample: () => samples.shift() ?? { delayP99Ms: 0, utilization: 0 }, stop() {} };
    const load = createLoadProtection(resolveLoadOptions({ pressure: { overloadSamples: 1 } }), source);
    const gate = load.admission.route('GET /');
    assert.equal(load.admission.tryEnter(gate), ADMITTED);
    load.pressure.observe({ delayP99Ms: 1000, utilization: 1 });
    // One in flight at the onset: one more fits beside it, the next is refused.
    assert.equal(load.admission.tryEnter(gate), ADMITTED);
    const refused = load.admission.tryEnter(gate);
    assert.deepEqual(refused, { reason: 'pressure', retryAfterSec: 1 });
    let closed = false;
    const closing = load.close().then(() => { closed = true; });
    assert.deepEqual(load.admission.tryEnter(gate), { reason: 'closing', retryAfterSec: 1 });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(closed, false, 'close waits for the requests in flight');
    load.admission.leave(gate);
    load.admission.leave(gate);
    await closing;
    assert.equal(closed, true);
  });

  it('leaves pressure out of admission when it is disabled', async () => {
    const load = createLoadProtection(resolveLoadOptions({ pressure: { enabled: false, overloadSamples: 1 } }));
    load.pressure.observe({ delayP99Ms: 1000, utilization: 1 });
    const gate = load.admission.route('GET /');
    assert.equal(load.admission.tryEnter(gate), ADMITTED);
    load.admission.leave(gate);
    await load.close();
    assert.equal(load.admission.snapshot().closing, true);
  });
});
