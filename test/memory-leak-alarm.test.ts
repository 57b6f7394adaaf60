import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import { fileURLToPath } from 'node:url';
import { createAllocationSampler } from '../src/memory/allocation.ts';
import { createLeakAlarm } from '../src/memory/leak-alarm.ts';
import type { AllocationSampler } from '../src/memory/allocation.ts';
import type { LeakAlarmEvent } from '../src/memory/leak-alarm.ts';
import { evaluateWindow } from '../src/memory/leak-alarm.ts';
import { serve } from './fixtures/memory/leaky-app.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const fixture = fileURLToPath(new URL('./fixtures/memory/leaky-app.ts', import.meta.url));

// Small thresholds: each round of 10,000 leaky requests retains about 3 MB.
const ROUND = 10_000;
const options = { warmupMs: 0, windowSamples: 4, minGrowthBytes: 2 * 1024 * 1024 };

function recorder() {
  const warnings: string[] = [];
  const events: LeakAlarmEvent[] = [];
  const onLeak = (msg: unknown): void => void events.push(msg as LeakAlarmEvent);
  diagnostics.subscribe('vial:leak', onLeak);
  return { warnings, events, log: { warn: (_obj: object, msg: string) => void warnings.push(msg) }, close: () => diagnostics.unsubscribe('vial:leak', onLeak) };
}

describe('leak alarm', () => {
  let sampler: AllocationSampler;
  before(() => (sampler = createAllocationSampler({ samplingIntervalBytes: 8192 })).start());
  after(() => sampler.stop());

  it('does not fire for a bounded cache under the same traffic', async () => {
    const rec = recorder();
    const alarm = createLeakAlarm({ ...options, sampler, log: rec.log, gc });
    try {
      for (let round = 0; round < 8; round++) {
        serve('bounded', ROUND);
        assert.equal(await alarm.check(), undefined);
      }
      assert.equal(alarm.state.samples, 4);
      assert.deepEqual(rec.events, []);
      assert.deepEqual(rec.warnings, []);
    } finally {
      alarm.stop();
      rec.close();
    }
  });

  it('fires once on a growing map, names the fixture file:line, and re-arms after the growth stops', async () => {
    const rec = recorder();
    const alarm = createLeakAlarm({ ...options, sampler, log: rec.log, gc });
    try {
      const results: (LeakAlarmEvent | undefined)[] = [];
      for (let round = 0; round < 6; round++) {
        serve('leaky', ROUND);
        results.push(await alarm.check());
      }
      assert.deepEqual(results.map((r) => r !== undefined), [false, false, false, true, false, false]);
      assert.equal(rec.events.length, 1);
      const event = rec.events[0]!;
      assert.equal(event, results[3]);
      assert.ok(event.floorGrowthBytes >= options.minGrowthBytes);
      assert.ok(event.growthBytesPerMin > 0);
      assert.ok(event.heapUsedBytes > 0);
      assert.equal(event.topSites[0]?.functionName, 'handleLeaky');
      assert.equal(event.topSites[0]?.file, fixture);
      assert.ok(event.routes.some((r) => r.route === 'GET /leaky' && r.requests > 0));
      assert.equal(rec.warnings.length, 1);
      assert.match(rec.warnings[0]!, new RegExp(`${fixture.replaceAll('.', '\\.')}:${event.topSites[0].line} \\(handleLeaky\\)`));
      assert.equal(alarm.state.armed, false);

      // Growth stops: once the window is flat the alarm re-arms, and a new episode fires again.
      for (let round = 0; round < 4; round++) assert.equal(await alarm.check(), undefined);
      assert.equal(alarm.state.armed, true);
      let fired = 0;
      for (let round = 0; round < 4; round++) {
        serve('leaky', ROUND);
        if ((await alarm.check()) !== undefined) fired++;
      }
      assert.equal(fired, 1);
      assert.equal(rec.events.length, 2);
      assert.equal(rec.events[1]?.topSites[0]?.functionName, 'handleLeaky');
    } finally {
      alarm.stop();
      rec.close();
    }
  });

  it('takes its samples from major GCs it observes when it may not force one', async () => {
    const rec = recorder();
    // A long warm-up keeps the timer out of the way; check() samples the observed floor.
    const alarm = createLeakAlarm({ ...options, warmupMs: 600_000, log: rec.log });
    alarm.start();
    try {
      assert.equal(await alarm.check(), undefined);
      assert.equal(alarm.state.samples, 0, 'no major GC seen yet, so no sample');
      let fired: LeakAlarmEvent | undefined;
      for (let round = 0; round < 4; round++) {
        serve('leaky', ROUND);
        gc();
        const seen: number = alarm.state.samples;
        // The gc entry reaches the observer on a later tick; wait for it, boundedly.
        for (let i = 0; i < 200 && alarm.state.samples === seen; i++) {
          await sleep(5);
          fired = (await alarm.check()) ?? fired;
        }
        assert.equal(alarm.state.samples, seen + 1);
      }
      assert.ok(fired, 'alarm did not fire');
      assert.deepEqual(fired.topSites, []);
      assert.match(rec.warnings[0]!, /start an allocation sampler/);
    } finally {
      alarm.stop();
      rec.close();
    }
  });
});

describe('evaluateWindow', () => {
  const mb = 1024 * 1024;
  const win = (...bytes: number[]) => bytes.map((b, i) => ({ atMs: i * 1000, bytes: b * mb }));

  it('calls a steadily rising floor growing', () => {
    const v = evaluateWindow(win(10, 12, 14, 16, 18, 20), 4 * mb);
    assert.equal(v.growing, true);
    assert.equal(v.floorGrowthBytes, 8 * mb);
    assert.equal(Math.round(v.slope * 1000), 2 * mb);
  });

  it('does not call a single spike growing', () => {
    assert.equal(evaluateWindow(win(10, 10, 10, 10, 40, 10), 4 * mb).growing, false);
  });

  it('does not call a flat, noisy floor growing', () => {
    assert.equal(evaluateWindow(win(10, 11, 10, 12, 10, 11), 4 * mb).growing, false);
  });
});
