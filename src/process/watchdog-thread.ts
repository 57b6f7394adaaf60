/**
 * The watchdog's worker thread (started by watchdog.ts, never imported). It watches the main
 * thread's heartbeat counter in a SharedArrayBuffer; when the counter stops moving for longer
 * than `thresholdMs`, it pauses the main thread through the inspector (a session opened with
 * `connectToMainThread()`), reads the call frames and the active route *while the loop is still
 * blocked*, resumes it, waits for the heartbeat to move again and posts one `BlockMessage`.
 *
 * Time is measured with this thread's own monotonic clock only: the main thread publishes a
 * counter, not a timestamp, so the two threads' `performance.timeOrigin` never need to agree.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Debugger, Session as SessionType } from 'node:inspector/promises';

export interface ThreadData {
  sab: SharedArrayBuffer;
  thresholdMs: number;
  checkIntervalMs: number;
  captureTimeoutMs: number;
  maxFrames: number;
  /** Evaluated on the paused top frame; returns the route key of the request that is running. */
  routeExpression: string;
  /** Name of the main thread's heartbeat function, to recognise a pause that landed too late. */
  heartbeatName: string;
}

export interface ThreadFrame {
  functionName: string;
  url: string;
  line: number;
  column: number;
}

export type ThreadMessage =
  | {
      type: 'block';
      route: string | null;
      durationMs: number;
      at: number;
      stack: ThreadFrame[];
      stackError: string | null;
    }
  | { type: 'unavailable' | 'failed'; reason: string };

// Cell layout of the shared Int32Array; watchdog.ts uses the same indexes.
const TICK = 0;
const STOP = 1;

interface Capture {
  route: string | null;
  stack: ThreadFrame[];
  stackError: string | null;
  /** The main thread was already paused by another debugger session: not a block, not ours. */
  foreignPause: boolean;
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
      reject(new Error(`the inspector gave no answer within ${data.captureTimeoutMs} ms`));
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

function toFrames(callFrames: Debugger.CallFrame[], urls: ReadonlyMap<string, string>): ThreadFrame[] {
  return callFrames.slice(0, data.maxFrames).map((frame) => ({
    functionName: frame.functionName,
    // CallFrame.url is deprecated and empty on Node 22/24; scriptParsed carries the real URL.
    url: urls.get(frame.location.scriptId) ?? frame.url,
    // CDP positions are 0-based; people and editors count from 1.
    line: frame.location.lineNumber + 1,
    column: (frame.location.columnNumber ?? 0) + 1,
  }));
}

async function readRoute(
  session: SessionType,
  frame: Debugger.CallFrame,
  within: <T>(promise: Promise<T>) => Promise<T>,
): Promise<string | null> {
  // Evaluated inside the paused execution context, so AsyncLocalStorage.getStore() sees the
  // blocked request's store (checked on Node 22's async_hooks ALS and Node 24's AsyncContextFrame).
  const result = await within(
    session.post('Debugger.evaluateOnCallFrame', {
      callFrameId: frame.callFrameId,
      expression: data.routeExpression,
      returnByValue: true,
      silent: true,
    }),
  );
  const value: unknown = result.result.value;
  return result.exceptionDetails === undefined && typeof value === 'string' ? value : null;
}

async function capture(Session: typeof SessionType, tick: number): Promise<Capture> {
  const out: Capture = { route: null, stack: [], stackError: null, foreignPause: false };
  const session = new Session();
  const { within, clear } = deadline();
  const urls = new Map<string, string>();
  let pausedBeforeAsking = false;
  let asked = false;
  let resolvePaused: (params: Debugger.PausedEventDataType) => void = () => undefined;
  const paused = new Promise<Debugger.PausedEventDataType>((resolve) => (resolvePaused = resolve));
  session.on('Debugger.scriptParsed', ({ params }) => urls.set(params.scriptId, params.url));
  session.on('Debugger.paused', ({ params }) => {
    // V8 tells a newly enabled agent at once when the isolate is already paused: that pause
    // belongs to a debugger someone is driving, and resuming it would steal their breakpoint.
    if (!asked) pausedBeforeAsking = true;
    resolvePaused(params);
  });
  try {
    session.connectToMainThread();
    await within(session.post('Debugger.enable'));
    if (pausedBeforeAsking) {
      out.foreignPause = true;
      return out;
    }
    asked = true;
    await within(session.post('Debugger.pause'));
    const params = await within(paused);
    try {
      const top = params.callFrames[0];
      // The loop may have unblocked between detection and the pause landing; the pause then
      // hits whatever runs next (often our own heartbeat), which is not the culprit.
      if (top === undefined || Atomics.load(cells, TICK) !== tick || top.functionName === data.heartbeatName) {
        out.stackError = 'the event loop unblocked before the watchdog could pause it';
      } else {
        out.stack = toFrames(params.callFrames, urls);
        out.route = await readRoute(session, top, within).catch(() => null);
      }
    } finally {
      await within(session.post('Debugger.resume'));
    }
  } catch (error) {
    out.stackError = `stack capture failed: ${message(error)}`;
  } finally {
    // Disconnecting also disables the agent; if our pause is still pending, V8 drops it.
    session.disconnect();
    clear();
  }
  return out;
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
  let lastTickAt = performance.now();
  while (Atomics.load(cells, STOP) === 0) {
    // Sleeps until the next check, or wakes at once when stop() sets STOP and notifies.
    Atomics.wait(cells, STOP, 0, data.checkIntervalMs);
    const tick = Atomics.load(cells, TICK);
    const now = performance.now();
    if (tick !== lastTick) {
      lastTick = tick;
      lastTickAt = now;
      continue;
    }
    if (now - lastTickAt <= data.thresholdMs) continue;
    const at = Math.round(Date.now() - (now - lastTickAt));
    const result: Capture =
      typeof Session === 'string'
        ? { route: null, stack: [], stackError: Session, foreignPause: false }
        : await capture(Session, tick);
    waitWhile(tick);
    if (Atomics.load(cells, STOP) !== 0) break;
    const end = performance.now();
    if (!result.foreignPause) {
      const { route, stack, stackError } = result;
      const durationMs = Math.round(end - lastTickAt);
      port?.postMessage({ type: 'block', route, durationMs, at, stack, stackError } satisfies ThreadMessage);
    }
    lastTick = Atomics.load(cells, TICK);
    lastTickAt = end;
  }
}

// Not a top-level await: stop() may end the process while the thread is parked in a wait,
// and Node would warn about an unsettled top-level await.
watch().catch((error: unknown) => {
  port?.postMessage({ type: 'failed', reason: message(error) } satisfies ThreadMessage);
});
