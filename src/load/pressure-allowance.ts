/**
 * What admission lets in while the event loop is overloaded (see pressure.ts for when that is).
 *
 * First, a turn budget: once the current loop turn has spent `turnBudgetMs` since its first
 * decision, everything else it reads is refused. Node accepts one new connection per loop turn
 * (libuv since 1.45, libuv/libuv#3696), and a request is only visible to admission once its
 * connection is accepted and read: with 50 ms turns a busy server took in ~20 connections a
 * second while ~900 sat in the kernel's accept queue for seconds, where no limit of ours sees
 * them (bench overload on /cpu). Short turns keep that queue moving and bound the wait in socket
 * buffers to about one turn. The share of the core left for successes does not depend on the
 * budget's size: refusals grow with the turn's length.
 *
 * Within the budget a request gets in when either allowance has room:
 *
 * - rate: admissions at a rate that starts at 80% of the completions per second just before the
 *   onset (the 20% left is for the refusals), then every 250 ms is cut by a quarter while the
 *   loop's delay is over its limit and raised by a tenth (up to the start) while it is under half
 *   of it. For async handlers this is what lets work in beyond the hold.
 * - hold: in-flight work stays at its level at the onset (async handlers: a request that finishes
 *   makes room for the next; a handler that finishes synchronously is never in flight, so it
 *   always fits, and the budget alone bounds it). Refusing everything instead drained in-flight
 *   work to zero while the refusals alone kept the loop over its limit, so the state never
 *   cleared (bench overload: 3% of peak).
 *
 * With no recent completions to measure (a process overloaded at birth) only the hold applies.
 * Pure: the caller passes the clock and says when a turn starts.
 */

/** How often the rate is steered by the loop's delay. */
const ADJUST_MS = 250;
/** Completions between two clock marks of the completion rate (a power of two). */
const RATE_MARK = 256;
/** The rate's share of the completion rate before the onset. */
const START_SHARE = 0.8;
/** A bucket of at most this many ms of admissions, so a quiet spell cannot bank a burst. */
const BURST_MS = 20;

export class PressureAllowance {
  /** In-flight count at the onset; -1 while the loop is not overloaded. */
  #hold = -1;
  #ratePerMs = 0;
  #startRatePerMs = 0;
  #tokens = 0;
  #refilledAt = 0;
  #adjustedAt = 0;
  // The recent completion rate: the clock every RATE_MARK completions, the last two marks kept.
  #completed = 0;
  #markAt = 0;
  #markCompleted = 0;
  #prevMarkAt = 0;
  #prevMarkCompleted = 0;
  readonly #turnBudgetMs: number;
  /** When this loop turn's first decision under pressure was taken; -1 outside a turn. */
  #turnStartedAt = -1;

  constructor(turnBudgetMs: number) {
    this.#turnBudgetMs = turnBudgetMs;
  }

  /** A new loop turn begins deciding at `now` (the caller signals each turn; see admission.ts). */
  startTurn(now: number): void {
    this.#turnStartedAt = now;
  }

  /** Counts a finished request; reads the clock once per RATE_MARK of them. */
  completed(now: () => number): void {
    if ((++this.#completed & (RATE_MARK - 1)) !== 0) return;
    this.#prevMarkAt = this.#markAt;
    this.#prevMarkCompleted = this.#markCompleted;
    this.#markAt = now();
    this.#markCompleted = this.#completed;
  }

  /** Whether a request may start now, with `inFlight` running; `delayRatio` is the loop delay over its limit. */
  admit(inFlight: number, now: number, delayRatio: number): boolean {
    if (this.#hold < 0) this.#start(inFlight, now);
    // The turn has had its share: the rest waits for a later turn's decision (a retry), not in a buffer.
    if (this.#turnStartedAt >= 0 && now - this.#turnStartedAt >= this.#turnBudgetMs) return false;
    if (this.#startRatePerMs > 0) {
      if (now - this.#adjustedAt >= ADJUST_MS) {
        this.#adjustedAt = now;
        if (delayRatio > 1) this.#ratePerMs = Math.max(this.#startRatePerMs * 0.05, this.#ratePerMs * 0.75);
        else if (delayRatio < 0.5) this.#ratePerMs = Math.min(this.#startRatePerMs, this.#ratePerMs * 1.1);
      }
      const rate = this.#ratePerMs;
      this.#tokens = Math.min(Math.max(1, rate * BURST_MS), this.#tokens + (now - this.#refilledAt) * rate);
      this.#refilledAt = now;
    }
    // Every admission spends a token when there is one, so the two allowances never add up.
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return true;
    }
    // With nothing in flight (synchronous handlers, or a loop overloaded by refusals alone) the
    // request gets in too: the turn budget above is then the bound.
    return inFlight < this.#hold || inFlight === 0;
  }

  /** The overload is over: the next one takes a new hold and rate. */
  end(): void {
    this.#hold = -1;
    this.#turnStartedAt = -1;
  }

  #start(inFlight: number, now: number): void {
    this.#hold = inFlight;
    const spanMs = now - this.#prevMarkAt;
    const recent = this.#completed - this.#prevMarkCompleted;
    this.#ratePerMs = this.#prevMarkAt > 0 && spanMs > 0 ? (START_SHARE * recent) / spanMs : 0;
    this.#startRatePerMs = this.#ratePerMs;
    this.#adjustedAt = now;
    this.#tokens = 0;
    this.#refilledAt = now;
  }
}
