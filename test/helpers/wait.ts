/**
 * The one way tests wait for something that happens asynchronously (a counter moving after a
 * response was written, a child process reporting, teardown finishing). Polls instead of sleeping a
 * fixed time, and fails with what it was waiting for, never with a bare "timed out".
 *
 * Bounds are generous (10 s by default): they only decide how long a broken test takes to fail, not
 * how fast a passing one runs, so a loaded CI machine does not turn them into timing thresholds.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  /** Give up after this long. Default 10,000. */
  readonly timeoutMs?: number;
  /** Time between checks. Default 10. */
  readonly intervalMs?: number;
}

/**
 * Resolves with the first value `check` returns that is not `undefined` (or `false`); rejects with
 * `timed out waiting for <what>` once `timeoutMs` has passed.
 */
export async function pollUntil<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, options: WaitOptions = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  const intervalMs = options.intervalMs ?? 10;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${options.timeoutMs ?? 10_000} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Resolves once `check` holds; rejects naming `what` after `timeoutMs`. */
export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, options: WaitOptions = {}): Promise<void> {
  await pollUntil(what, async () => (await check()) || undefined, options);
}

/**
 * Polls like `waitUntil` but answers whether `check` came to hold, for tests that assert a thing
 * does NOT happen within a bound, or report their own message.
 */
export async function holdsWithin(check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 10): Promise<boolean> {
  try {
    await waitUntil('a condition', check, { timeoutMs, intervalMs });
    return true;
  } catch {
    return false;
  }
}
