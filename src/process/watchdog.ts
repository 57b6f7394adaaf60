/**
 * The blocked-event-loop watchdog (issue 3): names the route and the stack that blocked the
 * event loop, captured while it was still blocked.
 *
 * The main thread only bumps a counter in a SharedArrayBuffer on an unref'd interval; a worker
 * thread (watchdog-thread.ts) watches the counter and, when it stalls past `thresholdMs`, has
 * the inspector run this module's probe on top of the blocked stack to read the stack and the
 * active route. Nothing runs per request: the route comes from a getter (backed by the
 * dispatcher's AsyncLocalStorage) that only the probe calls, during a block. See docs/watchdog.md.
 */
import { Worker } from 'node:worker_threads';
import type { ProbeResult, ThreadData, ThreadFrame, ThreadMessage } from './watchdog-thread.ts';
import { blockChannel, findUserFrame, formatFrame } from './block-report.ts';
import { ConfigError } from '../errors.ts';
import type { BlockReport } from './block-report.ts';
import { resolveWatchdogOptions } from './watchdog-options.ts';
import type { WatchdogOptions } from './watchdog-options.ts';

export interface WatchdogLogger {
  warn(obj: object, msg: string): void;
}

export interface InstallWatchdogOptions extends Partial<WatchdogOptions> {
  /** Returns the running request's route key (the dispatcher reads it from AsyncLocalStorage). */
  getActiveRoute?: () => string | null | undefined;
  /** Returns an object that identifies the running request (its context); lets a report say whether one request held the loop. */
  getActiveRequest?: () => object | undefined;
  log?: WatchdogLogger;
  /** Called on the main thread once the loop is free again, after the report is recorded. */
  onBlock?: (report: BlockReport) => void;
}

export interface Watchdog {
  /** The last 50 blocks, oldest first. */
  recentBlocks(): readonly BlockReport[];
  /** Stops the heartbeat and the thread; resolves once the thread has exited. */
  stop(): Promise<void>;
  /**
   * Resolves once the watchdog thread is watching (or has given up and said why): a block in the
   * first moments after install would otherwise go unseen. `startMonitors()` waits for it.
   */
  ready(): Promise<void>;
}

/**
 * Where the route getter lives on the main thread. Globals are intentionally used (not #private
 * fields): the inspector evaluates an expression in the global scope, and a registry-wide symbol
 * is the only handle that expression can reach.
 */
export const ACTIVE_ROUTE_KEY = Symbol.for('vial.watchdog.active');
/** A getter of the running request's identity (any object, e.g. its context), read only by the probes. */
export const ACTIVE_REQUEST_KEY = Symbol.for('vial.watchdog.request');
const PROBE_KEY = Symbol.for('vial.watchdog.probe');

export const RECENT_BLOCKS_LIMIT = 50;

// Keep in step with the cell indexes in watchdog-thread.ts.
const TICK = 0;
const STOP = 1;
const HEARTBEAT_NAME = 'vialWatchdogHeartbeat';

function toFrame(site: NodeJS.CallSite): ThreadFrame {
  return {
    functionName: site.getFunctionName() ?? site.getMethodName() ?? '',
    url: site.getFileName() ?? site.getScriptNameOrSourceURL() ?? '',
    // CallSite positions are 1-based already; for type-stripped .ts they are the .ts positions
    // because stripping replaces types with whitespace.
    line: site.getLineNumber() ?? 0,
    column: site.getColumnNumber() ?? 0,
  };
}

function activeRoute(): string | null {
  const getter = (globalThis as Record<symbol, unknown>)[ACTIVE_ROUTE_KEY];
  if (typeof getter !== 'function') return null;
  try {
    const route: unknown = (getter as () => unknown)();
    return typeof route === 'string' ? route : null;
  } catch {
    // Intentionally silent: a failing getter must not cost us the stack; the route is just unknown.
    return null;
  }
}

/**
 * Runs on the main thread, inside the block, when the watchdog thread asks through the inspector
 * (never on the request path). It restores Error's stack settings before returning.
 */
function activeRequest(): object | undefined {
  const getter = (globalThis as Record<symbol, unknown>)[ACTIVE_REQUEST_KEY];
  if (typeof getter !== 'function') return undefined;
  try {
    const request: unknown = (getter as () => unknown)();
    return typeof request === 'object' && request !== null ? request : undefined;
  } catch {
    return undefined;
  }
}

function makeProbe(cells: Int32Array, maxFrames: number): (look?: number) => ProbeResult {
  // What the first look found, for the second to compare with. The request only weakly, and
  // dropped by the second look, so a block report never keeps a request alive.
  let firstRequest: WeakRef<object> | undefined;
  let firstRoute: string | null = null;

  /** The second look: only whether the same request still runs (no stack). */
  function lookAgain(tick: number): ProbeResult {
    const request = activeRequest();
    const route = activeRoute();
    let sameRequest: boolean;
    if (request !== undefined) sameRequest = firstRequest?.deref() === request;
    // Without a request getter (a standalone install) the route is the best identity there is.
    else sameRequest = firstRequest === undefined && route !== null && route === firstRoute;
    firstRequest = undefined;
    return { tick, route, stack: [], sameRequest };
  }

  return function vialWatchdogProbe(look = 1): ProbeResult {
    const tick = Atomics.load(cells, TICK);
    if (look === 2) return lookAgain(tick);
    const request = activeRequest();
    firstRequest = request === undefined ? undefined : new WeakRef(request);
    firstRoute = activeRoute();
    const stackTraceLimit = Error.stackTraceLimit;
    // Saved as a descriptor so that "not set" is restored as "not set", not as undefined.
    const prepareStackTrace = Object.getOwnPropertyDescriptor(Error, 'prepareStackTrace');
    let stack: ThreadFrame[];
    try {
      // +1: the frame right below the probe is the inspector's evaluated expression.
      Error.stackTraceLimit = maxFrames + 1;
      Error.prepareStackTrace = (_error, sites) => sites.map(toFrame);
      const holder: { stack?: ThreadFrame[] } = {};
      Error.captureStackTrace(holder, vialWatchdogProbe);
      // V8 formats `stack` lazily on first read, so read it before restoring prepareStackTrace.
      stack = (holder.stack ?? []).slice(1);
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
      if (prepareStackTrace === undefined) Reflect.deleteProperty(Error, 'prepareStackTrace');
      else Object.defineProperty(Error, 'prepareStackTrace', prepareStackTrace);
    }
    // A probe that lands in the heartbeat ran after the block ended: not the culprit's stack.
    if (stack[0]?.functionName === HEARTBEAT_NAME) stack = [];
    return { tick, route: firstRoute, stack };
  };
}

function threadUrl(): URL {
  // Run from source (.ts, type-stripped) or from the built dist (.js): the thread file sits beside us.
  return new URL(import.meta.url.endsWith('.ts') ? './watchdog-thread.ts' : './watchdog-thread.js', import.meta.url);
}

function toReport(message: Extract<ThreadMessage, { type: 'block' }>): BlockReport {
  const stack = Object.freeze(message.stack.map((frame) => Object.freeze({ ...frame })));
  return Object.freeze({
    route: message.route,
    durationMs: message.durationMs,
    stack,
    userFrame: findUserFrame(stack),
    at: message.at,
    stackError: message.stackError,
    confirmed: message.confirmed,
  });
}

interface Subscriber {
  log: WatchdogLogger | undefined;
  onBlock: ((report: BlockReport) => void) | undefined;
  blocks: BlockReport[];
}

/** The one heartbeat and thread of this JS thread, shared by every install with the same options. */
interface Engine {
  config: Readonly<WatchdogOptions>;
  subscribers: Set<Subscriber>;
  /** Settles once the thread watches (or has given up): see Watchdog.ready(). */
  watching: Promise<void>;
  stop(): Promise<void>;
}

let engine: Engine | undefined;

function deliver(subscriber: Subscriber, report: BlockReport): void {
  const { log, onBlock, blocks } = subscriber;
  blocks.push(report);
  if (blocks.length > RECENT_BLOCKS_LIMIT) blocks.shift();
  const frame = report.userFrame ?? report.stack[0];
  const where = frame === undefined ? `an unknown place (${report.stackError ?? 'no stack'})` : formatFrame(frame);
  log?.warn(
    { route: report.route, durationMs: report.durationMs, confirmed: report.confirmed, frame: where, stack: report.stack },
    report.confirmed || report.route === null
      ? `event loop blocked for ${report.durationMs} ms by ${report.route ?? 'code outside any route'} at ${where}`
      : `event loop blocked for ${report.durationMs} ms by a long turn of many requests (sampled in ${report.route} at ${where}); no single request held it`,
  );
  try {
    onBlock?.(report);
  } catch (error) {
    log?.warn({ err: error }, 'watchdog onBlock callback threw; the block is still recorded');
  }
}

function startEngine(config: Readonly<WatchdogOptions>): Engine {
  const subscribers = new Set<Subscriber>();
  const globals = globalThis as Record<symbol, unknown>;
  const sab = new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT);
  const cells = new Int32Array(sab);
  // Named so the probe can tell that it landed in the heartbeat (after the block) from a culprit.
  const heartbeat = { [HEARTBEAT_NAME]: () => Atomics.add(cells, TICK, 1) }[HEARTBEAT_NAME];
  const probe = makeProbe(cells, config.maxFrames);
  globals[PROBE_KEY] = probe;
  const interval = setInterval(heartbeat, config.checkIntervalMs);
  interval.unref();
  // Identity checks: a newer engine may already own the globals when this one winds down.
  const release = (): void => {
    clearInterval(interval);
    if (globals[PROBE_KEY] === probe) delete globals[PROBE_KEY];
    if (engine === self) engine = undefined;
  };

  const data: ThreadData = {
    sab,
    thresholdMs: config.thresholdMs,
    checkIntervalMs: config.checkIntervalMs,
    captureTimeoutMs: config.captureTimeoutMs,
    probeExpression: `globalThis[Symbol.for(${JSON.stringify(PROBE_KEY.description)})]?.(1)`,
    confirmExpression: `globalThis[Symbol.for(${JSON.stringify(PROBE_KEY.description)})]?.(2)`,
  };
  const worker = new Worker(threadUrl(), { workerData: data, name: 'vial-watchdog' });
  const warnAll = (obj: object, msg: string): void => {
    for (const { log } of subscribers) log?.warn(obj, msg);
  };
  let markWatching: () => void = () => undefined;
  const watching = new Promise<void>((resolve) => (markWatching = resolve));
  worker.once('exit', () => markWatching());
  worker.on('message', (message: ThreadMessage) => {
    if (message.type === 'watching') markWatching();
    else if (message.type === 'block') {
      const report = toReport(message);
      if (blockChannel.hasSubscribers) blockChannel.publish(report);
      for (const subscriber of subscribers) deliver(subscriber, report);
    } else if (message.type === 'unavailable') {
      warnAll({ reason: message.reason }, `watchdog cannot capture stacks: ${message.reason}; blocks are reported without stack or route`);
    } else {
      markWatching();
      warnAll({ reason: message.reason }, `watchdog thread failed: ${message.reason}; event-loop blocks are no longer reported`);
    }
  });
  // Fail soft: a dead watchdog must never take the application down with it. Once its thread
  // is gone, the next install starts a fresh one instead of joining a dead engine.
  worker.on('error', (error: Error) => {
    warnAll({ err: error }, 'watchdog thread failed; event-loop blocks are no longer reported');
  });
  worker.once('exit', release);
  // An unref'd worker never holds the process open. Intentionally after the listeners: adding a
  // 'message' listener refs the worker's port again (Node 22/24), which would keep the app alive.
  worker.unref();

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    if (stopping !== undefined) return stopping;
    release();
    // Wakes the thread's Atomics.wait so it leaves its loop; terminate() covers a thread that is
    // mid-capture (its inspector session goes with it).
    Atomics.store(cells, STOP, 1);
    Atomics.notify(cells, STOP);
    worker.ref(); // so the caller's await sees the exit even when nothing else keeps the loop alive
    stopping = worker.terminate().then(() => undefined);
    return stopping;
  };
  const self: Engine = { config, subscribers, watching, stop };
  return self;
}

function sameTiming(a: Readonly<WatchdogOptions>, b: Readonly<WatchdogOptions>): boolean {
  return (
    a.thresholdMs === b.thresholdMs &&
    a.checkIntervalMs === b.checkIntervalMs &&
    a.captureTimeoutMs === b.captureTimeoutMs &&
    a.maxFrames === b.maxFrames
  );
}

/**
 * Starts the watchdog for this thread, or joins the one already running with the same options
 * (several apps in one process share one heartbeat and thread; each gets its own log, onBlock
 * and recentBlocks). Different options while one runs throw VIAL_ERR_WATCHDOG_INSTALLED.
 * Never keeps the process alive; the thread ends when the last handle is stopped.
 */
export function installWatchdog(options: InstallWatchdogOptions = {}): Watchdog {
  const { getActiveRoute, getActiveRequest, log, onBlock, ...rest } = options;
  const config = resolveWatchdogOptions(rest);
  const subscriber: Subscriber = { log, onBlock, blocks: [] };
  const recentBlocks = (): readonly BlockReport[] => Object.freeze(subscriber.blocks.slice());
  if (!config.enabled) return { recentBlocks, stop: () => Promise.resolve(), ready: () => Promise.resolve() };
  if (engine !== undefined && !sameTiming(engine.config, config)) {
    const { thresholdMs, checkIntervalMs, captureTimeoutMs, maxFrames } = engine.config;
    throw new ConfigError(
      'VIAL_ERR_WATCHDOG_INSTALLED',
      `A watchdog already runs in this thread with other options (thresholdMs ${thresholdMs}, ` +
        `checkIntervalMs ${checkIntervalMs}, captureTimeoutMs ${captureTimeoutMs}, maxFrames ${maxFrames}). ` +
        'Install with the same options to share it, or stop() every handle of the running one first.',
    );
  }
  const shared = (engine ??= startEngine(config));
  shared.subscribers.add(subscriber);
  const globals = globalThis as Record<symbol, unknown>;
  if (getActiveRoute !== undefined) globals[ACTIVE_ROUTE_KEY] = getActiveRoute;
  if (getActiveRequest !== undefined) globals[ACTIVE_REQUEST_KEY] = getActiveRequest;

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    if (stopped !== undefined) return stopped;
    shared.subscribers.delete(subscriber);
    if (getActiveRoute !== undefined && globals[ACTIVE_ROUTE_KEY] === getActiveRoute) delete globals[ACTIVE_ROUTE_KEY];
    if (getActiveRequest !== undefined && globals[ACTIVE_REQUEST_KEY] === getActiveRequest) delete globals[ACTIVE_REQUEST_KEY];
    if (shared.subscribers.size > 0) return (stopped = Promise.resolve());
    return (stopped = shared.stop());
  };
  return { recentBlocks, stop, ready: () => shared.watching };
}
