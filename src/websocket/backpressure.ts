/**
 * What to do about a socket's send buffer. A peer that reads slower than the app writes makes the
 * kernel buffer fill and then ws' own buffer grow without bound: the classic WebSocket memory leak.
 * The policy, checked after every send and on every drain:
 *   - at or below `maxBufferedBytes`: read the peer's messages as usual;
 *   - above it: stop reading (socket.pause()), so a client that floods requests while ignoring the
 *     replies is slowed to the rate it consumes them, and remember when the buffer went over;
 *   - still above it `slowConsumerTimeoutMs` later, or above 4x the bound at any time: drop the
 *     consumer (close 1008), which frees its buffer. 0 for the timeout drops at once.
 *
 * Pure module: the caller passes the buffered amount and the time.
 */
export type BackpressureAction = 'read' | 'pause' | 'drop';

/** Past this multiple of the bound the buffer is dropped at once, whatever the timeout. */
export const HARD_BOUND_FACTOR = 4;

export class BackpressurePolicy {
  readonly maxBufferedBytes: number;
  readonly slowConsumerTimeoutMs: number;
  /** When the buffer went over the bound (monotonic ms), or undefined while it is under. */
  #overSince: number | undefined;

  constructor(maxBufferedBytes: number, slowConsumerTimeoutMs: number) {
    this.maxBufferedBytes = maxBufferedBytes;
    this.slowConsumerTimeoutMs = slowConsumerTimeoutMs;
  }

  get paused(): boolean {
    return this.#overSince !== undefined;
  }

  /** The action for the buffer as it is now. */
  check(bufferedBytes: number, nowMs: number): BackpressureAction {
    if (bufferedBytes <= this.maxBufferedBytes) {
      this.#overSince = undefined;
      return 'read';
    }
    if (bufferedBytes > this.maxBufferedBytes * HARD_BOUND_FACTOR) return 'drop';
    this.#overSince ??= nowMs;
    return nowMs - this.#overSince >= this.slowConsumerTimeoutMs ? 'drop' : 'pause';
  }

  /** When the next check is due while paused (the caller arms one timer for it), else undefined. */
  deadline(): number | undefined {
    return this.#overSince === undefined ? undefined : this.#overSince + this.slowConsumerTimeoutMs;
  }
}
