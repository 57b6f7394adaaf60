import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { ADMITTED, createAdmission } from '../src/load/admission.ts';
import type { Admitted, Entry, Refusal } from '../src/load/admission.ts';

function isPending(entry: Entry): entry is Promise<Admitted | Refusal> {
  return entry instanceof Promise;
}

function pending(entry: Entry): Promise<Admitted | Refusal> {
  assert.ok(isPending(entry), `expected the request to be queued, got ${JSON.stringify(entry)}`);
  return entry;
}

function refusal(entry: Entry): Refusal {
  assert.ok(entry !== ADMITTED && !isPending(entry), `expected a refusal, got ${JSON.stringify(entry)}`);
  return entry;
}

describe('admission', () => {
  it('admits synchronously with a constant while there is room', () => {
    const admission = createAdmission({ maxInFlight: 4 });
    const gate = admission.route('GET /a', { concurrency: 4 });
    for (let i = 0; i < 4; i++) assert.equal(admission.tryEnter(gate), ADMITTED);
    assert.equal(admission.inFlight, 4);
    assert.equal(gate.inFlight, 4);
  });

  it('queues over the limit and hands a freed slot to the oldest waiter', async () => {
    const admission = createAdmission({ maxInFlight: 1, maxQueue: 4 });
    const gate = admission.route('GET /a', { concurrency: 1, maxQueue: 4 });
    assert.equal(admission.tryEnter(gate), ADMITTED);
    const first = pending(admission.tryEnter(gate));
    const second = pending(admission.tryEnter(gate));
    assert.equal(admission.queued, 2);
    admission.leave(gate);
    assert.equal(await first, ADMITTED);
    assert.equal(admission.queued, 1);
    assert.equal(admission.inFlight, 1);
    admission.leave(gate);
    assert.equal(await second, ADMITTED);
    admission.leave(gate);
    assert.equal(admission.inFlight, 0);
  });

  it('refuses with queue-full and Retry-After information when the queue is full', () => {
    const admission = createAdmission({ maxInFlight: 1, maxQueue: 1, retryAfterSec: 2 });
    const gate = admission.route('GET /a', { concurrency: 1, maxQueue: 1 });
    const other = admission.route('GET /b', { concurrency: 1, maxQueue: 1 });
    assert.equal(admission.tryEnter(gate), ADMITTED);
    void pending(admission.tryEnter(other));
    const refused = refusal(admission.tryEnter(other));
    assert.equal(refused.reason, 'queue-full');
    assert.equal(refused.retryAfterSec, 2);
    assert.equal(admission.snapshot().shed['queue-full'], 1);
    admission.close();
  });

  it('refuses a waiter whose wait exceeds maxQueueWaitMs', async () => {
    const admission = createAdmission({ maxInFlight: 1, maxQueue: 2, maxQueueWaitMs: 20 });
    const gate = admission.route('GET /a', { concurrency: 1, maxQueue: 2 });
    assert.equal(admission.tryEnter(gate), ADMITTED);
    const waited = await pending(admission.tryEnter(gate));
    assert.equal(refusal(waited).reason, 'queue-timeout');
    assert.equal(admission.queued, 0);
    assert.equal(admission.snapshot().shed['queue-timeout'], 1);
  });

  it('skips expired waiters when a slot frees up', async () => {
    let now = 0;
    const admission = createAdmission({ maxInFlight: 1, maxQueue: 4, maxQueueWaitMs: 100 }, { now: () => now });
    const gate = admission.route('GET /a', { concurrency: 1, maxQueue: 4 });
    assert.equal(admission.tryEnter(gate), ADMITTED);
    const stale = pending(admission.tryEnter(gate));
    now = 60;
    const fresh = pending(admission.tryEnter(gate));
    now = 120;
    admission.leave(gate);
    assert.equal(refusal(await stale).reason, 'queue-timeout');
    assert.equal(await fresh, ADMITTED);
    admission.leave(gate);
  });

  it('admits again once load drops after refusing', async () => {
    const admission = createAdmission({ maxInFlight: 2, maxQueue: 0 });
    const gate = admission.route('GET /a', { concurrency: 2, maxQueue: 0 });
    assert.equal(admission.tryEnter(gate), ADMITTED);
    assert.equal(admission.tryEnter(gate), ADMITTED);
    assert.equal(refusal(admission.tryEnter(gate)).reason, 'queue-full');
    admission.leave(gate);
    admission.leave(gate);
    assert.equal(admission.tryEnter(gate), ADMITTED);
    admission.leave(gate);
    await admission.drained();
    assert.equal(admission.inFlight, 0);
  });

  it('refuses a flooded route while another route still admits', () => {
    const admission = createAdmission({ maxInFlight: 10, maxQueue: 10 });
    const slow = admission.route('GET /slow');
    const fast = admission.route('GET /fast');
    assert.equal(slow.concurrency, 5, 'default route concurrency is half the process limit');
    assert.equal(slow.maxQueue, 5);
    for (let i = 0; i < 5; i++) assert.equal(admission.tryEnter(slow), ADMITTED);
    for (let i = 0; i < 5; i++) void pending(admission.tryEnter(slow));
    assert.equal(refusal(admission.tryEnter(slow)).reason, 'route-full');
    assert.equal(admission.tryEnter(fast), ADMITTED);
    const snap = admission.snapshot();
    assert.equal(snap.routes.find((r) => r.route === 'GET /slow')?.shed, 1);
    assert.equal(snap.routes.find((r) => r.route === 'GET /fast')?.inFlight, 1);
    admission.close();
  });

  it('gives a freed process slot to the oldest waiter whose route has room', async () => {
    const admission = createAdmission({ maxInFlight: 2, maxQueue: 4 });
    const a = admission.route('A', { concurrency: 1, maxQueue: 2 });
    const b = admission.route('B', { concurrency: 2, maxQueue: 2 });
    assert.equal(admission.tryEnter(a), ADMITTED);
    assert.equal(admission.tryEnter(b), ADMITTED);
    const waitingA = pending(admission.tryEnter(a));
    const waitingB = pending(admission.tryEnter(b));
    admission.leave(b); // A is still at its route limit, so B's waiter gets the slot.
    assert.equal(await waitingB, ADMITTED);
    assert.equal(admission.queued, 1);
    admission.leave(a);
    assert.equal(await waitingA, ADMITTED);
    admission.leave(a);
    admission.leave(b);
    assert.equal(admission.inFlight, 0);
  });

  it('takes a queued request whose signal aborts out of the queue and gives its slot to the next', async () => {
    const admission = createAdmission({ maxInFlight: 1, maxQueue: 4 });
    const gate = admission.route('GET /a', { concurrency: 1, maxQueue: 4 });
    assert.equal(admission.tryEnter(gate), ADMITTED);
    const controller = new AbortController();
    const gone = pending(admission.tryEnter(gate, controller.signal));
    const next = pending(admission.tryEnter(gate));
    controller.abort();
    assert.equal(refusal(await gone).reason, 'aborted');
    assert.equal(admission.queued, 1);
    admission.leave(gate);
    assert.equal(await next, ADMITTED);
    assert.equal(admission.snapshot().abandoned, 1);
    admission.leave(gate);
  });

  it('withdraws a queued request through its promise', async () => {
    const admission = createAdmission({ maxInFlight: 1, maxQueue: 4 });
    const gate = admission.route('GET /a', { concurrency: 1, maxQueue: 4 });
    assert.equal(admission.tryEnter(gate), ADMITTED);
    const gone = pending(admission.tryEnter(gate));
    admission.withdraw(gone);
    assert.equal(refusal(await gone).reason, 'aborted');
    assert.equal(admission.queued, 0);
    admission.leave(gate);
  });

  /** A clock and loop turns the test drives: `turn()` ends the current turn as setImmediate would. */
  function driven(): { clock: { now: number }; now: () => number; afterTurn: (fn: () => void) => void; turn: () => void } {
    const clock = { now: 1 };
    let pendingTurn: (() => void)[] = [];
    return {
      clock,
      now: () => clock.now,
      afterTurn: (fn) => { pendingTurn.push(fn); },
      turn: () => {
        const fns = pendingTurn;
        pendingTurn = [];
        for (const fn of fns) fn();
      },
    };
  }

  it('under pressure admits work for turnBudgetMs of each loop turn and refuses the rest of the turn', () => {
    const loop = driven();
    const pressure = { overloaded: true, turnBudgetMs: 5 };
    const admission = createAdmission({ maxInFlight: 4 }, { pressure, now: loop.now, afterTurn: loop.afterTurn });
    const gate = admission.route('GET /a');
    // Synchronous 1 ms handlers: admitted at 0..4 ms into the turn, refused from 5 ms on.
    const turnOf = (requests: number): string => {
      let out = '';
      for (let i = 0; i < requests; i++) {
        const entry = admission.tryEnter(gate);
        if (entry === ADMITTED) {
          out += 'a';
          loop.clock.now += 1;
          admission.leave(gate);
        } else {
          assert.equal(refusal(entry).reason, 'pressure');
          out += 'r';
          loop.clock.now += 0.02;
        }
      }
      return out;
    };
    assert.equal(turnOf(8), 'aaaaarrr');
    assert.equal(turnOf(2), 'rr', 'still the same turn');
    loop.turn();
    assert.equal(turnOf(8), 'aaaaarrr', 'a new turn has a new budget');
    assert.equal(admission.snapshot().shed.pressure, 8);
    pressure.overloaded = false;
    assert.equal(turnOf(8), 'aaaaaaaa');
  });

  it('under pressure holds in-flight work at its level when the overload began, instead of draining it to zero', () => {
    const loop = driven();
    const pressure = { overloaded: false };
    const admission = createAdmission({ maxInFlight: 16, maxQueue: 0 }, { pressure, now: loop.now, afterTurn: loop.afterTurn });
    const gate = admission.route('GET /a', { concurrency: 16 });
    for (let i = 0; i < 3; i++) assert.equal(admission.tryEnter(gate), ADMITTED);
    pressure.overloaded = true;
    // Three in flight at the onset: one more fits (the request being decided), the excess is refused...
    assert.equal(admission.tryEnter(gate), ADMITTED);
    assert.equal(refusal(admission.tryEnter(gate)).reason, 'pressure');
    // ...but each request that finishes makes room for one more, so goodput does not collapse.
    admission.leave(gate);
    assert.equal(admission.tryEnter(gate), ADMITTED);
    assert.equal(refusal(admission.tryEnter(gate)).reason, 'pressure');
    for (let i = 0; i < 3; i++) admission.leave(gate);
    for (let i = 0; i < 3; i++) assert.equal(admission.tryEnter(gate), ADMITTED);
    assert.equal(refusal(admission.tryEnter(gate)).reason, 'pressure');
    // Recovery lifts the cap; the next overload takes a new one from what is then in flight.
    pressure.overloaded = false;
    for (let i = 0; i < 2; i++) assert.equal(admission.tryEnter(gate), ADMITTED);
    pressure.overloaded = true;
    assert.equal(admission.tryEnter(gate), ADMITTED);
    assert.equal(refusal(admission.tryEnter(gate)).reason, 'pressure');
    assert.equal(admission.inFlight, 7);
    assert.equal(admission.snapshot().shed.pressure, 4);
    // Drained to zero (every admitted request finished), the next one gets in: never stuck at zero.
    for (let i = 0; i < 7; i++) admission.leave(gate);
    assert.equal(admission.tryEnter(gate), ADMITTED);
  });

  it('under pressure lets async work in beyond the hold at 80% of its recent completion rate, steered by the loop delay', () => {
    const loop = driven();
    const pressure = { overloaded: false, delayRatio: 1 };
    const admission = createAdmission({ maxInFlight: 100_000, maxQueue: 0 }, { pressure, now: loop.now, afterTurn: loop.afterTurn });
    const gate = admission.route('GET /async', { concurrency: 100_000 });
    /** Offers `count` requests, `perMs` to a millisecond, one per loop turn; `finish` says whether each completes at once. */
    const offer = (count: number, perMs: number, finish: boolean): number => {
      let admitted = 0;
      for (let i = 0; i < count; i++) {
        loop.clock.now += 1 / perMs;
        loop.turn();
        const entry = admission.tryEnter(gate);
        if (entry === ADMITTED) {
          admitted++;
          if (finish) admission.leave(gate);
        } else {
          assert.equal(refusal(entry).reason, 'pressure');
        }
      }
      return admitted;
    };
    // 1,000 completions a second before the onset.
    assert.equal(offer(1000, 1, true), 1000);
    pressure.overloaded = true;
    // Offered three times as fast for 200 ms, nothing finishing, delay at its limit: the first
    // gets in on an empty process, then 0.8 x 1,000/s x 0.2 s = 160 on the rate.
    const first = offer(600, 3, false);
    assert.ok(first >= 150 && first <= 172, `admitted ${first}`);
    assert.equal(admission.snapshot().shed.pressure, 600 - first);
    // The loop stays over its delay limit: the rate is cut by a quarter every 250 ms...
    pressure.delayRatio = 2;
    offer(3000, 3, false); // 1 s: four cuts
    const cut = offer(600, 3, false);
    assert.ok(cut < first * 0.5, `admitted ${cut} after the cuts, ${first} before`);
    // ...and raised again, never past where it started, once the delay is well under the limit.
    pressure.delayRatio = 0.2;
    offer(15_000, 3, false); // 5 s: back at the start
    const raised = offer(600, 3, false);
    assert.ok(raised >= 150 && raised <= 170, `admitted ${raised} after recovery`);
  });

  it('under pressure on a cold start (fewer than 512 completions) still serves while one slow request is in flight', () => {
    const loop = driven();
    const pressure = { overloaded: false, delayRatio: 1 };
    const admission = createAdmission({ maxInFlight: 100_000, maxQueue: 0 }, { pressure, now: loop.now, afterTurn: loop.afterTurn });
    const gate = admission.route('GET /a', { concurrency: 100_000 });
    const slow = admission.route('GET /slow');
    assert.equal(admission.tryEnter(slow), ADMITTED, 'the slow request, still running at the onset');
    // 100 completions, one a millisecond, before the overload: far fewer than two marks of 256.
    for (let i = 0; i < 100; i++) {
      loop.clock.now += 1;
      loop.turn();
      assert.equal(admission.tryEnter(gate), ADMITTED);
      admission.leave(gate);
    }
    pressure.overloaded = true;
    loop.turn();
    // A synchronous request (finished before the next one is read) fits the hold beside the slow one.
    assert.equal(admission.tryEnter(gate), ADMITTED);
    admission.leave(gate);
    // Async requests get in at the cold-start rate: 0.8 x ~1/ms over 100 ms, plus the one above the hold.
    let admitted = 0;
    for (let i = 0; i < 300; i++) {
      loop.clock.now += 1 / 3;
      loop.turn();
      if (admission.tryEnter(gate) === ADMITTED) admitted++;
    }
    assert.ok(admitted >= 60 && admitted <= 100, `admitted ${admitted} of 300 (before: none until the slow one ended)`);
  });

  it('under pressure with no completion at all before the onset learns a rate from the completions during it', () => {
    const loop = driven();
    const pressure = { overloaded: false, delayRatio: 1 };
    const admission = createAdmission({ maxInFlight: 100_000, maxQueue: 0 }, { pressure, now: loop.now, afterTurn: loop.afterTurn });
    const gate = admission.route('GET /a', { concurrency: 100_000 });
    const slow = admission.route('GET /slow');
    assert.equal(admission.tryEnter(slow), ADMITTED);
    pressure.overloaded = true;
    // Async requests of 1 ms each, offered three a millisecond: the hold lets one run beside the
    // slow request; its completions give the rate at the first steering tick (250 ms).
    const running: number[] = [];
    const offer = (ms: number): number => {
      let admitted = 0;
      for (let i = 0; i < ms * 3; i++) {
        loop.clock.now += 1 / 3;
        loop.turn();
        while (running.length > 0 && (running[0] as number) <= loop.clock.now) {
          running.shift();
          admission.leave(gate);
        }
        if (admission.tryEnter(gate) === ADMITTED) {
          admitted++;
          running.push(loop.clock.now + 1);
        }
      }
      return admitted;
    };
    const learning = offer(250);
    assert.ok(learning >= 100 && learning <= 260, `one at a time beside the slow request: ${learning} in 250 ms`);
    // The rate learned from that is a floor, not a measured capacity: with the loop's delay well
    // under its limit it grows by a tenth every 250 ms, past where it started.
    pressure.delayRatio = 0.2;
    offer(2500);
    const grown = offer(250);
    assert.ok(grown > learning * 1.5, `with the learned rate grown: ${grown} in 250 ms, ${learning} while learning`);
  });

  it('under pressure admits queued waiters within the turn budget, deferring the rest to the next turn', () => {
    const loop = driven();
    const pressure = { overloaded: false, turnBudgetMs: 5 };
    const admission = createAdmission({ maxInFlight: 1, maxQueue: 8 }, { pressure, now: loop.now, afterTurn: loop.afterTurn });
    const gate = admission.route('GET /a', { concurrency: 1, maxQueue: 8 });
    assert.equal(admission.tryEnter(gate), ADMITTED);
    const waiters = [pending(admission.tryEnter(gate)), pending(admission.tryEnter(gate))];
    pressure.overloaded = true;
    loop.turn();
    // A turn that spends its budget (a decision at its start, 6 ms of work), then frees the slot.
    // Decided at the turn's start, within its budget, and queued behind the full slot.
    waiters.push(pending(admission.tryEnter(gate)));
    loop.clock.now += 6;
    admission.leave(gate);
    assert.equal(admission.inFlight, 0, 'the freed slot is not handed out in a turn whose budget is spent');
    assert.equal(admission.queued, 3);
    loop.turn();
    assert.equal(admission.inFlight, 1, 'the next turn admits the oldest waiter');
    assert.equal(admission.queued, 2);
    admission.leave(gate);
    assert.equal(admission.inFlight, 1, 'within the new turn\'s budget a freed slot goes to the next waiter at once');
    assert.equal(admission.queued, 1);
    admission.leave(gate);
    admission.leave(gate);
    assert.equal(admission.queued, 0);
    return Promise.all(waiters).then((outcomes) => { assert.deepEqual(outcomes, [ADMITTED, ADMITTED, ADMITTED]); });
  });

  it('under pressure does not shed a bounded population whose every request fits in the delay limit', () => {
    const loop = driven();
    const pressure = { overloaded: false, delayRatio: 1.2, turnBudgetMs: 5, maxEventLoopDelayMs: 100 };
    let connections = 64;
    const admission = createAdmission({ maxInFlight: 1000 }, { pressure, now: loop.now, afterTurn: loop.afterTurn, population: () => connections });
    const gate = admission.route('GET /cpu');
    // Synchronous 1 ms requests, all admitted before the onset: 1,000 completions a second.
    const turnOf = (requests: number): string => {
      let out = '';
      for (let i = 0; i < requests; i++) {
        if (admission.tryEnter(gate) === ADMITTED) {
          out += 'a';
          loop.clock.now += 1;
          admission.leave(gate);
        } else {
          out += 'r';
          loop.clock.now += 0.02;
        }
      }
      loop.turn();
      return out;
    };
    for (let i = 0; i < 10; i++) turnOf(100);
    pressure.overloaded = true;
    // 64 connections x 1 ms = 64 ms, under the 100 ms limit: each turn serves the whole population,
    // past the 5 ms turn budget (a refused client would only ask again at once).
    for (let i = 0; i < 3; i++) assert.equal(turnOf(64), 'a'.repeat(64));
    assert.equal(admission.snapshot().shed.pressure, 0);
    // The population grows past what fits (200 x 1 ms): the turn budget applies again.
    connections = 200;
    assert.equal(turnOf(10), 'aaaaarrrrr');
  });

  it('limits a penalized route to one request and no queue, then restores it', async () => {
    let now = 0;
    const admission = createAdmission({ maxInFlight: 8, maxQueue: 8 }, { now: () => now });
    const gate = admission.route('GET /block', { concurrency: 4, maxQueue: 4 });
    const other = admission.route('GET /ok');
    assert.equal(admission.tryEnter(gate), ADMITTED);
    assert.equal(admission.tryEnter(gate), ADMITTED);
    assert.equal(admission.tryEnter(gate), ADMITTED);
    assert.equal(admission.tryEnter(gate), ADMITTED);
    const queued = pending(admission.tryEnter(gate));
    admission.penalize('GET /block', 5000);
    const dropped = refusal(await queued);
    assert.equal(dropped.reason, 'route-blocking');
    const refused = refusal(admission.tryEnter(gate));
    assert.equal(refused.reason, 'route-blocking');
    assert.equal(refused.retryAfterSec, 5);
    assert.equal(admission.tryEnter(other), ADMITTED);
    for (let i = 0; i < 4; i++) admission.leave(gate);
    assert.equal(admission.tryEnter(gate), ADMITTED, 'one request at a time may still run');
    assert.equal(refusal(admission.tryEnter(gate)).reason, 'route-blocking');
    admission.leave(gate);
    now = 5001;
    assert.equal(admission.tryEnter(gate), ADMITTED);
    assert.equal(admission.tryEnter(gate), ADMITTED);
    assert.equal(admission.snapshot().routes.find((r) => r.route === 'GET /block')?.penalizedForMs, 0);
  });

  it('spaces the runs of a penalized synchronous route, which one-at-a-time alone never refuses', () => {
    let now = 1000;
    const admission = createAdmission({ maxInFlight: 8 }, { now: () => now });
    const gate = admission.route('GET /busy');
    admission.penalize('GET /busy', 60_000, 2_000);
    // Right after the block: refused even though nothing of the route is in flight.
    assert.equal(refusal(admission.tryEnter(gate)).reason, 'route-blocking');
    now += 2_001;
    assert.equal(admission.tryEnter(gate), ADMITTED);
    admission.leave(gate); // a synchronous handler is done before the next request is read
    assert.equal(refusal(admission.tryEnter(gate)).reason, 'route-blocking', 'the next run waits its spacing');
    now += 2_001;
    assert.equal(admission.tryEnter(gate), ADMITTED);
  });

  it('refuses with closing after close() and resolves drained() when in-flight work ends', async () => {
    const admission = createAdmission({ maxInFlight: 2, maxQueue: 2 });
    const gate = admission.route('GET /a', { concurrency: 1, maxQueue: 2 });
    assert.equal(admission.tryEnter(gate), ADMITTED);
    const queued = pending(admission.tryEnter(gate));
    let drained = false;
    const done = admission.drained().then(() => { drained = true; });
    admission.close();
    assert.equal(refusal(await queued).reason, 'closing');
    assert.equal(refusal(admission.tryEnter(gate)).reason, 'closing');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(drained, false, 'drained() waits for the request still in flight');
    admission.leave(gate);
    await done;
    assert.equal(drained, true);
  });

  it('publishes each shed on vial:shed', () => {
    const events: unknown[] = [];
    const listener = (message: unknown): void => { events.push(message); };
    subscribe('vial:shed', listener);
    try {
      const admission = createAdmission({ maxInFlight: 1, maxQueue: 0 });
      const gate = admission.route('GET /x', { concurrency: 1, maxQueue: 0 });
      assert.equal(admission.tryEnter(gate), ADMITTED);
      refusal(admission.tryEnter(gate));
      assert.deepEqual(events, [{ route: 'GET /x', reason: 'queue-full' }]);
    } finally {
      unsubscribe('vial:shed', listener);
    }
  });

  it('keeps goodput under a flood: admitted requests complete, the excess is refused', async () => {
    const admission = createAdmission({ maxInFlight: 8, maxQueue: 8, maxQueueWaitMs: 1000 });
    const gate = admission.route('GET /work', { concurrency: 8, maxQueue: 8 });
    let completed = 0;
    let refused = 0;
    const work = async (): Promise<void> => {
      let entry = admission.tryEnter(gate);
      if (isPending(entry)) entry = await entry;
      if (entry !== ADMITTED) { refused++; return; }
      try {
        await new Promise((resolve) => setImmediate(resolve));
        completed++;
      } finally {
        admission.leave(gate);
      }
    };
    await Promise.all(Array.from({ length: 100 }, work));
    assert.equal(completed, 16, 'the limit plus the queue were served');
    assert.equal(refused, 84);
    assert.equal(admission.inFlight, 0);
    assert.equal(admission.queued, 0);
  });
});
