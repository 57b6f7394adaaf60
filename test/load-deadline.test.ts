import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DeadlineTracker } from '../src/load/deadline.ts';

describe('deadline tracker', () => {
  it('expires entries whose deadline passed, once, with their argument', () => {
    let now = 0;
    const tracker = new DeadlineTracker({ checkIntervalMs: 50 }, () => now);
    const expired: string[] = [];
    const onExpire = (id: string): void => { expired.push(id); };
    tracker.track(100, onExpire, 'a');
    tracker.track(200, onExpire, 'b');
    now = 150;
    tracker.check();
    tracker.check();
    assert.deepEqual(expired, ['a']);
    now = 250;
    tracker.check();
    assert.deepEqual(expired, ['a', 'b']);
    assert.deepEqual(tracker.stats(), { tracked: 0, expired: 2, lateRunning: 0, lateFinished: 0 });
    tracker.close();
  });

  it('does not expire an entry untracked in time, and says whether it finished in time', () => {
    let now = 0;
    const tracker = new DeadlineTracker({}, () => now);
    const expired: number[] = [];
    const onTime = tracker.track(100, (n: number) => { expired.push(n); }, 1);
    const late = tracker.track(100, (n: number) => { expired.push(n); }, 2);
    assert.equal(tracker.untrack(onTime), true);
    now = 101;
    tracker.check();
    assert.deepEqual(expired, [2]);
    assert.equal(tracker.untrack(late), false, 'an expired entry reports that it was late');
    tracker.close();
  });

  it('counts a late handler as running until it settles, then as finished', async () => {
    const tracker = new DeadlineTracker({}, () => 0);
    let settle!: () => void;
    const pending = new Promise<void>((resolve) => { settle = resolve; });
    tracker.countLate(pending);
    assert.equal(tracker.stats().lateRunning, 1);
    assert.equal(tracker.stats().lateFinished, 0);
    settle();
    await pending;
    await Promise.resolve();
    assert.equal(tracker.stats().lateRunning, 0);
    assert.equal(tracker.stats().lateFinished, 1);
    tracker.close();
  });

  it('never lets a stale handle untrack the entry that reused its slot', () => {
    let now = 0;
    const tracker = new DeadlineTracker({}, () => now);
    const expired: string[] = [];
    const first = tracker.track(100, (s: string) => { expired.push(s); }, 'first');
    assert.equal(tracker.untrack(first), true);
    tracker.track(100, (s: string) => { expired.push(s); }, 'second');
    assert.equal(tracker.untrack(first), false);
    now = 200;
    tracker.check();
    assert.deepEqual(expired, ['second']);
    tracker.close();
  });

  it('grows past its initial capacity and still expires every entry', () => {
    let now = 0;
    const tracker = new DeadlineTracker({}, () => now);
    let count = 0;
    for (let i = 0; i < 1000; i++) tracker.track(i, () => { count++; }, undefined);
    now = 1000;
    tracker.check();
    assert.equal(count, 1000);
    tracker.close();
  });

  it('fires on its own interval with the default 30 s request timeout available', async () => {
    const tracker = new DeadlineTracker({ checkIntervalMs: 5 });
    assert.equal(tracker.requestTimeoutMs, 30_000);
    const fired = new Promise<string>((resolve) => {
      tracker.track(tracker.deadlineIn(1), resolve, 'expired');
    });
    let guardTimer: NodeJS.Timeout | undefined;
    const guard = new Promise<string>((resolve) => { guardTimer = setTimeout(resolve, 5000, 'timed out'); });
    assert.equal(await Promise.race([fired, guard]), 'expired');
    clearTimeout(guardTimer);
    tracker.close();
  });

  it('ignores a step of the wall clock: deadlines run on the monotonic clock', (t) => {
    // A wall clock the test can step, installed before the tracker exists (as a real one is).
    const realNow = Date.now;
    let step = 0;
    Date.now = () => realNow() + step;
    t.after(() => { Date.now = realNow; });
    const tracker = new DeadlineTracker({ checkIntervalMs: 50 });
    const expired: string[] = [];
    tracker.track(tracker.deadlineIn(60_000), (id: string) => { expired.push(id); }, 'a');
    // NTP or a resumed VM moves the wall clock an hour ahead: nothing in flight may expire for it.
    step = 3_600_000;
    tracker.check();
    assert.deepEqual(expired, []);
    step = 0;
    assert.ok(Math.abs(tracker.deadlineIn(0) - Date.now()) < 1000, 'deadlines still read as epoch ms');
    tracker.close();
  });
});
