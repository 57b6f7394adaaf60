/**
 * Messages per second per socket: a token bucket. It holds `burst` tokens, refills at `ratePerSec`,
 * and each message takes one; a message that finds the bucket empty is over the limit. A bucket
 * rather than a fixed window, so a client cannot send twice the rate across a window's edge.
 *
 * Pure module: the caller passes the time (monotonic ms), so tests advance a number, not a clock.
 */
export class MessageRate {
  readonly ratePerSec: number;
  readonly burst: number;
  #tokens: number;
  #at: number;

  constructor(ratePerSec: number, burst: number, nowMs: number) {
    this.ratePerSec = ratePerSec;
    this.burst = burst;
    this.#tokens = burst;
    this.#at = nowMs;
  }

  /** Takes a token for one message; false when the socket is over its rate. */
  take(nowMs: number): boolean {
    const elapsed = nowMs - this.#at;
    if (elapsed > 0) {
      this.#tokens = Math.min(this.burst, this.#tokens + (elapsed * this.ratePerSec) / 1000);
      this.#at = nowMs;
    }
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Whole tokens left now, for diagnostics. */
  available(nowMs: number): number {
    const elapsed = Math.max(0, nowMs - this.#at);
    return Math.floor(Math.min(this.burst, this.#tokens + (elapsed * this.ratePerSec) / 1000));
  }
}
