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
 * - hold: in-flight work stays at most one above its level at the onset (async handlers: a
 *   request that finishes makes room for the next; a handler that finishes synchronously is never
 *   in flight, so it always fits, and the budget alone bounds it, even with slow requests running). Refusing everything instead drained in-flight
 *   work to zero while the refusals alone kept the loop over its limit, so the state never
 *   cleared (bench overload: 3% of peak).
 *
 * The rate needs completions to start from. Before it has two marks of RATE_MARK completions (a
 * cold start under load) it is taken from every completion since the first; with none at all
 * before the onset it is learned from the completions during the overload, at the first steering
 * tick that has some; that rate only says what got through, so it may grow past its start while
 * the delay is well under its limit. Without that, a process overloaded before its 512th completion started with
 * no rate, and with one slow request in flight the hold (1) refused everything until it ended.
 *
 * A bounded population is not shed. HTTP/1.1 carries one request at a time per connection, so N
 * open connections have at most N requests outstanding; when N times the cost of a request (the
 * completion rate before the onset, measured while every request was admitted) fits in the delay
 * limit, admitting all of them keeps every answer within the limit, and a refusal only makes its
 * client come back at once (wrk at 256 connections on /cpu was shed to ~60% of what it got
 * unshed, at a latency its own size bounded). Once the connections grow past that, the budget,
 * rate and hold apply again.
 * Pure: the caller passes the clock, the population and says when a turn starts.
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
  /** When the first request completed (-1: none yet): the cold-start rate counts from there. */
  #firstCompletedAt = -1;
  /** Completions when the overload began, to learn a rate during it when there was none before. */
  #onsetCompleted = 0;
  #onsetAt = 0;
  /** The rate was learned during the overload (a floor, free to grow), not measured before it. */
  #learned = false;
  readonly #turnBudgetMs: number;
  readonly #delayLimitMs: number;
  /** Ms of loop time per request at the onset (from the completion rate before it); Infinity when unknown. */
  #costMs = Number.POSITIVE_INFINITY;
  /** When this loop turn's first decision under pressure was taken; -1 outside a turn. */
  #turnStartedAt = -1;

  /** `delayLimitMs`: the loop delay a bounded population may cause (load.pressure.maxEventLoopDelayMs). */
  constructor(turnBudgetMs: number, delayLimitMs = 0) {
    this.#turnBudgetMs = turnBudgetMs;
    this.#delayLimitMs = delayLimitMs;
  }

  /** A new loop turn begins deciding at `now` (the caller signals each turn; see admission.ts). */
  startTurn(now: number): void {
    this.#turnStartedAt = now;
  }

  /** Counts a finished request; reads the clock once per RATE_MARK of them. */
  completed(now: () => number): void {
    if (this.#firstCompletedAt < 0) this.#firstCompletedAt = now();
    if ((++this.#completed & (RATE_MARK - 1)) !== 0) return;
    this.#prevMarkAt = this.#markAt;
    this.#prevMarkCompleted = this.#markCompleted;
    this.#markAt = now();
    this.#markCompleted = this.#completed;
  }

  /** Whether this loop turn has used its budget (a request decided now would be refused). */
  turnSpent(now: number): boolean {
    return this.#turnStartedAt >= 0 && now - this.#turnStartedAt >= this.#turnBudgetMs;
  }

  /**
   * Whether a request may start now, with `inFlight` running; `delayRatio` is the loop delay over
   * its limit; `population` the most requests that can be outstanding (open connections; Infinity
   * when unknown).
   */
  admit(inFlight: number, now: number, delayRatio: number, population = Number.POSITIVE_INFINITY): boolean {
    if (this.#hold < 0) this.#start(inFlight, now);
    if (population * this.#costMs < this.#delayLimitMs) return true;
    // The turn has had its share: the rest waits for a later turn's decision (a retry), not in a buffer.
    if (this.turnSpent(now)) return false;
    if (this.#startRatePerMs === 0 && now - this.#adjustedAt >= ADJUST_MS) this.#learnRate(now);
    if (this.#startRatePerMs > 0) {
      if (now - this.#adjustedAt >= ADJUST_MS) {
        this.#adjustedAt = now;
        if (delayRatio > 1) this.#ratePerMs = Math.max(this.#startRatePerMs * 0.05, this.#ratePerMs * 0.75);
        else if (delayRatio < 0.5) this.#ratePerMs = this.#learned ? this.#ratePerMs * 1.1 : Math.min(this.#startRatePerMs, this.#ratePerMs * 1.1);
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
    // The hold counts the request being decided as fitting while in-flight work is at its onset
    // level: a synchronous handler never stays in flight, so it always fits (the turn budget above
    // is then the bound), and async work may run one above that level, so a process whose only
    // in-flight request is a slow one still serves (and completes, which the rate learns from).
    return inFlight <= this.#hold;
  }

  /** The overload is over: the next one takes a new hold and rate. */
  end(): void {
    this.#hold = -1;
    this.#turnStartedAt = -1;
  }

  #start(inFlight: number, now: number): void {
    this.#hold = inFlight;
    this.#onsetCompleted = this.#completed;
    this.#onsetAt = now;
    let perMs = 0;
    if (this.#prevMarkAt > 0) {
      // The last 256..512 completions: the rate just before the onset.
      const spanMs = now - this.#prevMarkAt;
      if (spanMs > 0) perMs = (this.#completed - this.#prevMarkCompleted) / spanMs;
    } else if (this.#completed >= 2 && now > this.#firstCompletedAt) {
      // Fewer than two marks (a cold start): every completion since the first.
      perMs = (this.#completed - 1) / (now - this.#firstCompletedAt);
    }
    this.#setStartRate(START_SHARE * perMs);
    this.#costMs = perMs > 0 ? 1 / perMs : Number.POSITIVE_INFINITY;
    this.#learned = false;
    this.#adjustedAt = now;
    this.#tokens = 0;
    this.#refilledAt = now;
  }

  /** No rate at the onset: take one from what completed since, once something has. */
  #learnRate(now: number): void {
    const done = this.#completed - this.#onsetCompleted;
    if (done > 0 && now > this.#onsetAt) {
      this.#setStartRate((START_SHARE * done) / (now - this.#onsetAt));
      this.#learned = true;
      this.#adjustedAt = now;
      this.#refilledAt = now;
    }
  }

  #setStartRate(perMs: number): void {
    this.#ratePerMs = perMs;
    this.#startRatePerMs = perMs;
  }
}
