/**
 * Per-request deadlines without a setTimeout per request: entries live in flat slot arrays
 * and one unref'd interval scans them (at 1024 in flight, a scan every 50 ms is ~20k cheap
 * comparisons a second). Handles are plain numbers (slot + generation), so tracking a request
 * allocates nothing once the arrays have grown; a stale handle can never untrack a newer
 * entry that reused its slot.
 */
import { outsideRequestContext } from '../context.ts';
import { resolveDeadlineOptions } from './options.ts';
import type { DeadlineOptions } from './options.ts';

export type DeadlineHandle = number;
export type OnExpire<T> = (arg: T) => void;

export interface DeadlineStats {
  tracked: number;
  expired: number;
  /** Handlers whose deadline answered 504 and that still run. */
  lateRunning: number;
  /** Handlers that finished after their deadline had answered 504. */
  lateFinished: number;
}

/**
 * Epoch milliseconds on the monotonic clock. Date.now() follows the wall clock, which NTP or a
 * resumed VM can step by seconds or minutes: a step forward would expire every in-flight
 * deadline at once (a burst of 504s), a step back would stretch them all.
 */
function monotonicEpochMs(): number {
  return performance.timeOrigin + performance.now();
}

// Slots are capped at 2^21 (two million concurrent deadlines); generation takes the bits above.
const SLOT_BITS = 2 ** 21;

export class DeadlineTracker {
  readonly requestTimeoutMs: number;
  readonly #intervalMs: number;
  readonly #now: () => number;
  #deadlines = new Float64Array(64);
  #generations = new Uint32Array(64);
  #callbacks: (OnExpire<never> | undefined)[] = [];
  #args: unknown[] = [];
  #free: number[] = [];
  #highWater = 0;
  #tracked = 0;
  #expired = 0;
  #lateRunning = 0;
  #lateFinished = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  // Epoch ms so deadlines read like ctx.deadlineAt, but monotonic (see above); tests inject a clock.
  constructor(options: Partial<DeadlineOptions> = {}, now: () => number = monotonicEpochMs) {
    const o = resolveDeadlineOptions(options);
    this.requestTimeoutMs = o.requestTimeoutMs;
    this.#intervalMs = o.checkIntervalMs;
    this.#now = now;
  }

  now(): number { return this.#now(); }

  /** The deadline for a request starting now; `timeoutMs` is the route's override, if any. */
  deadlineIn(timeoutMs: number = this.requestTimeoutMs): number {
    return this.#now() + timeoutMs;
  }

  /** Calls `onExpire(arg)` once when `deadlineAt` (on this tracker's clock) has passed. */
  track<T>(deadlineAt: number, onExpire: OnExpire<T>, arg: T): DeadlineHandle {
    const slot = this.#free.length !== 0 ? this.#free.pop()! : this.#grow();
    this.#deadlines[slot] = deadlineAt;
    this.#callbacks[slot] = onExpire;
    this.#args[slot] = arg;
    this.#tracked++;
    if (this.#timer === undefined && !this.#closed) {
      // Unref'd: a pending deadline must never keep a process alive that is otherwise done.
      // Created outside the request that first needs it, or it would keep that request alive.
      this.#timer = outsideRequestContext(() => setInterval(() => { this.check(); }, this.#intervalMs).unref());
    }
    return this.#generations[slot]! * SLOT_BITS + slot;
  }

  /** Returns true when the entry was still tracked (finished in time), false when it had expired. */
  untrack(handle: DeadlineHandle): boolean {
    const slot = handle % SLOT_BITS;
    if (slot >= this.#highWater || this.#callbacks[slot] === undefined) return false;
    if (this.#generations[slot]! !== Math.floor(handle / SLOT_BITS)) return false;
    this.#release(slot);
    return true;
  }

  /** True while the entry waits: neither untracked nor expired (a stale handle is not tracked). */
  isTracked(handle: DeadlineHandle): boolean {
    const slot = handle % SLOT_BITS;
    return slot < this.#highWater && this.#callbacks[slot] !== undefined && this.#generations[slot]! === Math.floor(handle / SLOT_BITS);
  }

  /**
   * Counts a handler still running after its deadline answered 504, until it settles: such handlers
   * hold memory and downstream slots the admission controller no longer sees.
   */
  countLate(pending: Promise<unknown>): void {
    this.#lateRunning++;
    const done = (): void => {
      this.#lateRunning--;
      this.#lateFinished++;
    };
    pending.then(done, done);
  }

  /** Runs one scan now; the interval calls it, and tests may too. */
  check(): void {
    const now = this.#now();
    const deadlines = this.#deadlines;
    for (let slot = 0; slot < this.#highWater; slot++) {
      if (deadlines[slot]! <= now) {
        const callback = this.#callbacks[slot];
        if (callback === undefined) continue;
        const arg = this.#args[slot] as never;
        this.#release(slot);
        this.#expired++;
        callback(arg);
      }
    }
  }

  stats(): DeadlineStats {
    return { tracked: this.#tracked, expired: this.#expired, lateRunning: this.#lateRunning, lateFinished: this.#lateFinished };
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #release(slot: number): void {
    this.#callbacks[slot] = undefined;
    this.#args[slot] = undefined;
    this.#deadlines[slot] = Infinity;
    this.#generations[slot] = (this.#generations[slot]! + 1) >>> 0;
    this.#free.push(slot);
    this.#tracked--;
  }

  #grow(): number {
    const slot = this.#highWater++;
    if (slot >= this.#deadlines.length) {
      const deadlines = new Float64Array(this.#deadlines.length * 2).fill(Infinity);
      deadlines.set(this.#deadlines);
      const generations = new Uint32Array(this.#generations.length * 2);
      generations.set(this.#generations);
      this.#deadlines = deadlines;
      this.#generations = generations;
    }
    return slot;
  }
}
