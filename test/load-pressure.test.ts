import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { PressureMonitor, eventLoopSource } from '../src/load/pressure.ts';
import type { PressureSample, PressureSource } from '../src/load/pressure.ts';

const calm: PressureSample = { delayP99Ms: 5, utilization: 0.3 };
const busy: PressureSample = { delayP99Ms: 500, utilization: 0.5 };
const saturated: PressureSample = { delayP99Ms: 60, utilization: 0.999 };
const busyButPrompt: PressureSample = { delayP99Ms: 5, utilization: 0.999 };
const between: PressureSample = { delayP99Ms: 90, utilization: 0.5 };

function monitor(): PressureMonitor {
  return new PressureMonitor({ maxEventLoopDelayMs: 100, maxEventLoopUtilization: 0.98, overloadSamples: 3, recoverSamples: 4, recoverRatio: 0.8 });
}

describe('event-loop pressure', () => {
  it('turns on only after N consecutive samples over the delay limit', () => {
    const p = monitor();
    p.observe(busy);
    p.observe(busy);
    p.observe(calm);
    p.observe(busy);
    p.observe(busy);
    assert.equal(p.overloaded, false, 'a calm sample breaks the streak');
    p.observe(busy);
    assert.equal(p.overloaded, true);
  });

  it('turns on when utilisation stays above its limit while delay climbs past half its limit', () => {
    const p = monitor();
    for (let i = 0; i < 3; i++) p.observe(saturated);
    assert.equal(p.overloaded, true);
  });

  it('does not shed a loop that is fully busy but still answers promptly', () => {
    const p = monitor();
    for (let i = 0; i < 10; i++) p.observe(busyButPrompt);
    assert.equal(p.overloaded, false);
  });

  it('turns off only after M consecutive samples under the lower threshold (no flapping)', () => {
    const p = monitor();
    for (let i = 0; i < 3; i++) p.observe(busy);
    for (let i = 0; i < 10; i++) p.observe(between);
    assert.equal(p.overloaded, true, 'just under the limit is not low enough to recover');
    p.observe(calm);
    p.observe(calm);
    p.observe(calm);
    p.observe(busy);
    p.observe(calm);
    assert.equal(p.overloaded, true, 'a busy sample restarts the recovery count');
    for (let i = 0; i < 3; i++) p.observe(calm);
    assert.equal(p.overloaded, false);
  });

  it('publishes transitions on vial:pressure', () => {
    const events: unknown[] = [];
    const listener = (message: unknown): void => { events.push(message); };
    subscribe('vial:pressure', listener);
    try {
      const p = monitor();
      for (let i = 0; i < 3; i++) p.observe(busy);
      for (let i = 0; i < 4; i++) p.observe(calm);
      assert.deepEqual(events, [{ overloaded: true, ...busy }, { overloaded: false, ...calm }]);
    } finally {
      unsubscribe('vial:pressure', listener);
    }
  });

  it('samples an injected source on its timer and stops it', async () => {
    let started = 0;
    let stopped = 0;
    let samples = 0;
    let resolve!: () => void;
    const promise = new Promise<void>((r) => { resolve = r; });
    const source: PressureSource = {
      start() { started++; },
      sample() { if (++samples === 3) resolve(); return busy; },
      stop() { stopped++; },
    };
    const p = new PressureMonitor({ sampleIntervalMs: 10, overloadSamples: 3 }, source).start();
    const keepAlive = setTimeout(() => { resolve(); }, 5000);
    await promise;
    clearTimeout(keepAlive);
    p.stop();
    assert.equal(samples >= 3, true);
    assert.equal(p.overloaded, true);
    assert.deepEqual([started, stopped], [1, 1]);
  });

  it('reads real event-loop delay and utilisation from the default source', async () => {
    const source = eventLoopSource();
    source.start();
    // The delay histogram records on its own 10 ms timer; on a busy machine one block and one
    // wait may end before it fires, so block and wait again (bounded) until it has a reading.
    let sample = { delayP99Ms: 0, utilization: 0 };
    for (let attempt = 0; attempt < 20 && sample.delayP99Ms === 0; attempt++) {
      const end = Date.now() + 30;
      while (Date.now() < end) { /* intentionally block the loop to produce delay */ }
      await new Promise((resolve) => setTimeout(resolve, 20));
      sample = source.sample();
    }
    source.stop();
    assert.ok(sample.utilization > 0 && sample.utilization <= 1, `utilization ${sample.utilization}`);
    assert.ok(sample.delayP99Ms > 0, `delay ${sample.delayP99Ms}`);
  });
});
