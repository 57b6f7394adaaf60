/**
 * The waiting line behind admission.ts: a route's gate with its counters and an intrusive
 * doubly-linked FIFO of waiters, so a waiter whose client leaves is unlinked in O(1).
 * Pure (no I/O, no timers). Internal to src/load/.
 */

/** What admission answers at once: the constant ADMITTED (no allocation), or a refusal. */
export const ADMITTED = 0;
export type Admitted = typeof ADMITTED;

export type ShedReason = 'queue-full' | 'queue-timeout' | 'route-full' | 'route-blocking' | 'pressure' | 'closing';
/** 'aborted': the client left while queued; nobody needs a response. Counted apart from sheds. */
export type RefusalReason = ShedReason | 'aborted';

export interface Refusal {
  readonly reason: RefusalReason;
  readonly retryAfterSec: number;
}

export class Waiter {
  readonly gate: Gate;
  readonly resolve: (outcome: Admitted | Refusal) => void;
  readonly expiresAt: number;
  /** Arrival order across all routes, so freed slots go to the oldest waiter anywhere. */
  readonly seq: number;
  prev: Waiter | undefined = undefined;
  next: Waiter | undefined = undefined;
  done = false;
  signal: AbortSignal | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;

  constructor(gate: Gate, resolve: (outcome: Admitted | Refusal) => void, expiresAt: number, seq: number) {
    this.gate = gate;
    this.resolve = resolve;
    this.expiresAt = expiresAt;
    this.seq = seq;
  }
}

export class Gate {
  readonly key: string;
  readonly concurrency: number;
  readonly maxQueue: number;
  inFlight = 0;
  queued = 0;
  shed = 0;
  /** 0 when not penalized; otherwise the clock time the penalty ends. */
  penalizedUntil = 0;
  /**
   * While penalized, the least time between two admissions. A synchronous handler that blocks the
   * loop is finished before the next request is even read, so "one at a time" alone never refuses
   * it: spacing its runs is what leaves the loop to the other routes.
   */
  penaltySpacingMs = 0;
  lastAdmittedAt = -Infinity;
  head: Waiter | undefined = undefined;
  tail: Waiter | undefined = undefined;

  constructor(key: string, concurrency: number, maxQueue: number) {
    this.key = key;
    this.concurrency = concurrency;
    this.maxQueue = maxQueue;
  }

  push(w: Waiter): void {
    w.prev = this.tail;
    if (this.tail === undefined) this.head = w;
    else this.tail.next = w;
    this.tail = w;
    this.queued++;
  }

  unlink(w: Waiter): void {
    if (w.prev === undefined) this.head = w.next;
    else w.prev.next = w.next;
    if (w.next === undefined) this.tail = w.prev;
    else w.next.prev = w.prev;
    w.prev = undefined;
    w.next = undefined;
    this.queued--;
  }
}
