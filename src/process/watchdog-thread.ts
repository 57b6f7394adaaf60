/**
 * The watchdog's worker thread (started by watchdog.ts, never imported). It watches the main
 * thread's heartbeat counter in a SharedArrayBuffer; when the counter stops moving for longer
 * than `thresholdMs`, it asks the main thread for its stack and active route through the
 * inspector *while the loop is still blocked*, waits for the heartbeat to move again and posts
 * one `BlockMessage`.
 *
 * How the main thread answers while it is busy: Node hands inspector messages from a
 * `connectToMainThread()` session to the main isolate with a V8 interrupt, which runs at the
 * next safe point of whatever JavaScript is executing. `Runtime.evaluate` therefore runs the
 * probe on top of the blocked stack, inside the blocked request's async context, so both
 * `Error.captureStackTrace` and AsyncLocalStorage see the culprit (checked on Node 22 and 24).
 * Intentionally not Debugger.enable + Debugger.pause: enabling the Debugger domain makes V8
 * announce (and hash) every loaded script first, which added 75-430 ms to each block in our
 * measurements, and pausing could resume a breakpoint someone is sitting on.
 *
 * Time is measured with this thread's own monotonic clock only: the main thread publishes a
 * counter, not a timestamp, so the two threads' clocks never need to agree.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Session as SessionType } from 'node:inspector/promises';

export interface ThreadData {
  sab: SharedArrayBuffer;
  thresholdMs: number;
  checkIntervalMs: number;
  captureTimeoutMs: number;
  /** Evaluated on the main thread; returns a `ProbeResult`. */
  probeExpression: string;
  /** The second look: returns a `ProbeResult` with `sameRequest` and no stack. */
  confirmExpression: string;
}

export interface ThreadFrame {
  functionName: string;
  url: string;
  line: number;
  column: number;
}

/** What the main thread's probe returns (see watchdog.ts). */
export interface ProbeResult {
  /** Heartbeat counter when the probe ran: unchanged means the probe ran inside the block. */
  tick: number;
  route: string | null;
  stack: ThreadFrame[];
  /** Second look only: the request running now is the one the first look found. */
  sameRequest?: boolean;
}

export type ThreadMessage =
  | {
      type: 'block';
      route: string | null;
      durationMs: number;
      at: number;
      stack: ThreadFrame[];
      stackError: string | null;
      confirmed: boolean;
    }
  | { type: 'unavailable' | 'failed'; reason: string }
  /** Sent once the thread is watching, so a block right after start is not missed. */
  | { type: 'watching' };

// Cell layout of the shared Int32Array; watchdog.ts uses the same indexes.
const TICK = 0;
const STOP = 1;

interface Capture {
  route: string | null;
  stack: ThreadFrame[];
  stackError: string | null;
  confirmed: boolean;
}

/**
 * The pause between the two looks: long enough that a turn of many short requests has moved on
 * to another one (each takes well under a millisecond), short enough that a block only just over
 * the threshold is still on when the second look lands (the first lands up to one check interval
 * past the threshold).
 */
const CONFIRM_AFTER_MS = 5;
/**
 * A first reply slower than this means the interrupt could not run: JavaScript was stopped inside
 * one native call. Replies take 1-5 ms when JavaScript is running, even in a turn of many requests.
 */
const SLOW_REPLY_MS = 25;

/**
 * Milliseconds on this thread's monotonic clock. Intentionally `process.hrtime` and not
 * `performance.now()`: the `performance` global makes the thread load Node's perf_hooks modules,
 * ~0.5 MiB of RSS (Node 24) in a thread that every vial process runs (issue 16).
 */
function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

const data = workerData as ThreadData;
const cells = new Int32Array(data.sab);
const port = parentPort;

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * One deadline for a whole capture. Intentionally a ref'd timer: pending inspector replies do
 * not keep a worker's event loop alive (seen on Node 22 and 24: the thread silently exits
 * mid-capture), so this timer is what keeps the thread running until the capture ends.
 */
function deadline(): { within: <T>(promise: Promise<T>) => Promise<T>; clear: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`the main thread gave no answer within ${data.captureTimeoutMs} ms`));
    }, data.captureTimeoutMs);
  });
  // Intentionally observed here: the race below reports it; an unobserved rejection would not.
  expired.catch(() => undefined);
  return {
    within: (promise) => Promise.race([promise, expired]),
    clear: () => {
      clearTimeout(timer);
    },
  };
}

function isProbeResult(value: unknown): value is ProbeResult {
  return typeof value === 'object' && value !== null && 'tick' in value && 'stack' in value && Array.isArray(value.stack);
}

async function capture(Session: typeof SessionType, tick: number): Promise<Capture> {
  const out: Capture = { route: null, stack: [], stackError: null, confirmed: false };
  const session = new Session();
  const { within, clear } = deadline();
  try {
    session.connectToMainThread();
    const sentAt = nowMs();
    const { result, exceptionDetails } = await within(
      session.post('Runtime.evaluate', { expression: data.probeExpression, returnByValue: true, silent: true }),
    );
    const replyMs = nowMs() - sentAt;
    const value: unknown = result.value;
    if (exceptionDetails !== undefined || !isProbeResult(value)) {
      out.stackError = `the stack probe failed: ${exceptionDetails?.exception?.description ?? 'no probe is registered'}`;
    } else if (value.tick !== tick || value.stack.length === 0) {
      // The loop unblocked before the interrupt ran; the probe then ran from the event loop or
      // in a later task, and that stack is not the culprit's.
      out.stackError = 'the event loop unblocked before the watchdog could read its stack';
    } else {
      out.stack = value.stack;
      out.route = value.route;
      const look = await secondLook(session, tick, within);
      // A late first reply and a block over by the second look: the interrupt waited for one
      // native call (pbkdf2Sync, a *Sync read, execSync) to return, and the request that made it
      // is the one the probe found. A late reply while the block goes on (this thread was merely
      // descheduled) is judged by the second look like any other.
      out.confirmed = look === 'same' || (look === 'ended' && replyMs > SLOW_REPLY_MS && value.route !== null);
    }
  } catch (error) {
    out.stackError = `stack capture failed: ${message(error)}`;
  } finally {
    session.disconnect();
    clear();
  }
  return out;
}

/**
 * The second look, only while the same block lasts: was it one request all along? 'ended' when
 * the block was over before it; a look that fails or times out counts as 'other' (unconfirmed),
 * and the stack, already read, stays.
 */
async function secondLook(session: SessionType, tick: number, within: <T>(promise: Promise<T>) => Promise<T>): Promise<'same' | 'other' | 'ended'> {
  Atomics.wait(cells, STOP, 0, CONFIRM_AFTER_MS);
  if (Atomics.load(cells, TICK) !== tick || Atomics.load(cells, STOP) !== 0) return 'ended';
  try {
    const second = await within(session.post('Runtime.evaluate', { expression: data.confirmExpression, returnByValue: true, silent: true }));
    const look: unknown = second.result.value;
    if (second.exceptionDetails !== undefined || !isProbeResult(look)) return 'other';
    if (look.tick !== tick) return 'ended';
    return look.sameRequest === true ? 'same' : 'other';
  } catch {
    return 'other';
  }
}

async function loadSession(): Promise<typeof SessionType | string> {
  try {
    const inspector = await import('node:inspector/promises');
    if (typeof inspector.Session.prototype.connectToMainThread !== 'function') {
      return 'this Node.js has no inspector.Session.connectToMainThread()';
    }
    return inspector.Session;
  } catch (error) {
    return `the inspector is not available (${message(error)}); was Node.js built without it?`;
  }
}

function waitWhile(tick: number): void {
  while (Atomics.load(cells, TICK) === tick && Atomics.load(cells, STOP) === 0) {
    Atomics.wait(cells, STOP, 0, data.checkIntervalMs);
  }
}

async function watch(): Promise<void> {
  const Session = await loadSession();
  if (typeof Session === 'string') port?.postMessage({ type: 'unavailable', reason: Session } satisfies ThreadMessage);
  let lastTick = Atomics.load(cells, TICK);
  port?.postMessage({ type: 'watching' } satisfies ThreadMessage);
  let lastTickAt = nowMs();
  while (Atomics.load(cells, STOP) === 0) {
    // Sleeps until the next check, or wakes at once when stop() sets STOP and notifies.
    Atomics.wait(cells, STOP, 0, data.checkIntervalMs);
    const tick = Atomics.load(cells, TICK);
    const now = nowMs();
    if (tick !== lastTick) {
      lastTick = tick;
      lastTickAt = now;
      continue;
    }
    if (now - lastTickAt <= data.thresholdMs) continue;
    const at = Math.round(Date.now() - (now - lastTickAt));
    const result: Capture =
      typeof Session === 'string' ? { route: null, stack: [], stackError: Session, confirmed: false } : await capture(Session, tick);
    waitWhile(tick);
    if (Atomics.load(cells, STOP) !== 0) break;
    const end = nowMs();
    const durationMs = Math.round(end - lastTickAt);
    port?.postMessage({ type: 'block', durationMs, at, ...result } satisfies ThreadMessage);
    lastTick = Atomics.load(cells, TICK);
    lastTickAt = end;
  }
}

// Not a top-level await: stop() may end the process while the thread is parked in a wait,
// and Node would warn about an unsettled top-level await.
watch().catch((error: unknown) => {
  port?.postMessage({ type: 'failed', reason: message(error) } satisfies ThreadMessage);
});
