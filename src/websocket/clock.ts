/**
 * A coarse monotonic clock (ms, performance.now()'s timeline) for what every message touches: the
 * rate bucket and the idle timeout. performance.now() costs ~40 ns a call, and an echo made two,
 * about as much as the rest of vial's bookkeeping for it; this is a number read, refreshed every
 * COARSE_CLOCK_MS by one unref'd interval that runs only while some socket holds the clock.
 *
 * What the coarseness costs: the rate bucket refills up to COARSE_CLOCK_MS late (ratePerSec x 0.025
 * tokens, never more than the rate allows), and the idle timeout fires within COARSE_CLOCK_MS of
 * `idleTimeoutMs`. Timing that needs precision (the backpressure deadline) reads performance.now().
 */
import { outsideRequestContext } from '../context.ts';

export const COARSE_CLOCK_MS = 25;

let nowMs = performance.now();
let holders = 0;
let timer: NodeJS.Timeout | undefined;

function tick(): void {
  nowMs = performance.now();
}

/** The time, at most COARSE_CLOCK_MS old while the clock is held. */
export function coarseNow(): number {
  return nowMs;
}

/** Starts the clock for one more socket (the first starts the interval). */
export function holdCoarseClock(): void {
  if (holders++ > 0) return;
  nowMs = performance.now();
  // Outside the request context: the interval outlives the handshake that happened to start it.
  timer = outsideRequestContext(() => setInterval(tick, COARSE_CLOCK_MS));
  timer.unref();
}

/** One socket less; the last one stops the interval. */
export function releaseCoarseClock(): void {
  if (holders === 0 || --holders > 0) return;
  clearInterval(timer);
  timer = undefined;
}
