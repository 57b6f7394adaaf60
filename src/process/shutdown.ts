/**
 * Graceful shutdown of one http.Server: stop accepting, close idle keep-alive connections, refuse
 * new requests on busy ones with 503 + `Connection: close`, wait for in-flight work up to a grace
 * period, then close whatever is left. Also home of the request tracker the worker runtime shares.
 */

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import net from 'node:net';
import type { Socket } from 'node:net';
import type { ProcessLogger } from './options.ts';
import { silentLogger } from './options.ts';
import { closeAcceptors } from '../load/acceptors.ts';
import { nextRequestId } from '../internal/request-id.ts';
import { errorBody } from '../error-response.ts';
import type { PublicError } from '../error-response.ts';
import { typedChannel } from '../internal/channels.ts';

/** What `vial:shutdown` carries: the start of a drain and its end. */
export type ShutdownEvent =
  | { readonly event: 'start'; readonly reason: string; readonly inFlight: number }
  | { readonly event: 'end'; readonly reason: string; readonly outcome: 'clean' | 'forced'; readonly durationMs: number };

export const shutdownChannel = typedChannel<ShutdownEvent>('vial:shutdown');

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/** Counts and describes the requests of one server; flips it into "closing" mode on demand. */
export interface RequestTracker {
  /** Requests seen since the tracker was installed. */
  readonly total: number;
  readonly inFlight: number;
  /** `METHOD /path (age)` for each in-flight request. Query strings are left out: they may carry secrets. */
  describe(): string[];
  /** Resolves once no request is in flight and no connection accepted before closing still owes its first request. */
  idle(): Promise<void>;
  /**
   * Starts closing: every response from now on carries `Connection: close` (RFC 9112 §9.6); idle
   * keep-alive connections are closed; with `refuse`, a further request on a connection that had
   * already been used gets 503. A connection accepted before closing whose first request arrives
   * now is served: the listener admitted it, and in a worker the primary handed it over just
   * before the drain (closing it would fail the request the client is sending).
   */
  startClosing(refuse: boolean): void;
  dispose(): void;
}

// How long a connection accepted before closing may take to start its first request. Clients
// write the request right after connecting; anything slower is a preconnect that may never send.
const FIRST_REQUEST_GRACE_MS = 1000;

const SHUTTING_DOWN: PublicError = {
  status: 503,
  code: 'VIAL_ERR_OVERLOADED',
  message: 'This server is shutting down; retry the request on a new connection.',
};

interface Conn {
  started: number;
  active: number;
}

/**
 * What the shutdown 503 carries besides its JSON body: the app's own response headers (its security
 * headers, so the refusal is no weaker than any other response). `Vial#errorHeaders` gives them.
 */
export type RefusalHeaders = readonly (readonly [name: string, value: string])[];

export function trackRequests(server: Server, onRequest?: (total: number) => void, refusalHeaders: RefusalHeaders = []): RequestTracker {
  const inFlight = new Map<ServerResponse, { method: string; path: string; startedAt: number }>();
  const conns = new Map<Socket, Conn>();
  let total = 0;
  let closing = false;
  let waiters: (() => void)[] = [];
  let displaced: RequestListener[] | null = null;
  let freshTimer: NodeJS.Timeout | undefined;

  function settled(): boolean {
    if (inFlight.size > 0) return false;
    for (const c of conns.values()) if (c.started === 0) return false;
    return true;
  }
  function check(): void {
    if (waiters.length === 0 || !settled()) return;
    const ws = waiters;
    waiters = [];
    for (const w of ws) w();
  }

  function onConnection(socket: Socket): void {
    conns.set(socket, { started: 0, active: 0 });
    socket.once('close', () => {
      conns.delete(socket);
      if (closing) check();
    });
  }
  server.on('connection', onConnection);

  // Prepended so the count and the Connection header are in place before the app sees the request.
  const track: RequestListener = function trackRequest(req, res) {
    total++;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    inFlight.set(res, { method: req.method ?? 'GET', path: q === -1 ? url : url.slice(0, q), startedAt: Date.now() });
    const conn = conns.get(req.socket);
    if (conn !== undefined) {
      conn.started++;
      conn.active++;
    }
    res.once('close', () => {
      inFlight.delete(res);
      if (conn !== undefined) conn.active--;
      if (closing) check();
    });
    if (closing) res.setHeader('Connection', 'close');
    onRequest?.(total);
  };
  server.prependListener('request', track);

  function refuse(res: ServerResponse): void {
    const { body, contentType } = errorBody(SHUTTING_DOWN, nextRequestId(), false);
    const head: string[] = ['content-type', contentType, 'connection', 'close', 'retry-after', '1'];
    for (const [name, value] of refusalHeaders) head.push(name, value);
    res.writeHead(503, head);
    res.end(body);
  }

  return {
    get total() {
      return total;
    },
    get inFlight() {
      return inFlight.size;
    },
    describe() {
      const now = Date.now();
      return [...inFlight.values()].map((r) => `${r.method} ${r.path} (${now - r.startedAt} ms)`);
    },
    idle() {
      if (settled()) return Promise.resolve();
      return new Promise<void>((resolve) => waiters.push(resolve));
    },
    startClosing(refuseReused) {
      if (closing) return;
      closing = true;
      const before = new Map([...conns].map(([s, c]) => [s, c.started]));
      for (const res of inFlight.keys()) if (!res.headersSent) res.setHeader('Connection', 'close');
      for (const [socket, c] of conns) if (c.started > 0 && c.active === 0) socket.destroy();
      freshTimer = setTimeout(() => {
        for (const [socket, c] of conns) if (c.started === 0) socket.destroy();
      }, FIRST_REQUEST_GRACE_MS);
      freshTimer.unref();
      if (refuseReused) {
        // Intentionally swaps the app's listeners out at this point rather than wrapping them up
        // front: the request path costs nothing extra until shutdown starts.
        const apps = server.listeners('request').filter((l) => l !== track) as RequestListener[];
        displaced = apps;
        for (const l of apps) server.removeListener('request', l);
        server.on('request', dispatchWhileClosing);
        function dispatchWhileClosing(req: IncomingMessage, res: ServerResponse): void {
          if ((before.get(req.socket) ?? 1) > 0) refuse(res);
          else for (const l of apps) l.call(server, req, res);
        }
      }
      check();
    },
    dispose() {
      clearTimeout(freshTimer);
      server.removeListener('request', track);
      server.removeListener('connection', onConnection);
      if (displaced !== null) {
        server.removeAllListeners('request');
        for (const l of displaced) server.on('request', l);
        displaced = null;
      }
    },
  };
}

export interface GracefulShutdownOptions {
  /** How long in-flight requests may take once shutdown starts. Default 30000. */
  gracefulTimeoutMs?: number;
  /**
   * The app's own drain (e.g. the admission controller waiting for its slots). Awaited with the
   * in-flight requests. `httpIdle` resolves once the server's own requests are done, including
   * the first request of connections accepted just before closing: an app that stops admitting
   * only after it (`await httpIdle(); await app.shutdown()`) serves those instead of refusing them.
   */
  onDrain?: (httpIdle: () => Promise<void>) => Promise<void>;
  log?: ProcessLogger;
  /** Default SIGTERM and SIGINT. A second signal during shutdown forces it. */
  signals?: readonly NodeJS.Signals[];
  /** Called with 0 (clean) or 1 (forced). Default `process.exit`; tests inject their own. */
  exit?: (code: number) => void;
  /**
   * Answer requests arriving during shutdown with 503 here. Default true. Set false when the
   * dispatcher reads `closing` and refuses on its own.
   */
  refuseNewRequests?: boolean;
  /** Headers for that 503 (the app's security headers: `app.errorHeaders`). */
  refusalHeaders?: RefusalHeaders;
}

export interface GracefulShutdown {
  /** True from the first signal on; the dispatcher answers 503 + `Connection: close` while it is set. */
  readonly closing: boolean;
  /** Starts the shutdown as a signal would; resolves with the exit code once `exit` was called. */
  shutdown(reason?: string): Promise<number>;
  /** Removes the signal handlers and request tracking (for tests and hot reload). */
  dispose(): void;
}

export function installGracefulShutdown(server: Server, options: GracefulShutdownOptions = {}): GracefulShutdown {
  const gracefulTimeoutMs = options.gracefulTimeoutMs ?? 30_000;
  const log = options.log ?? silentLogger;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const tracker = trackRequests(server, undefined, options.refusalHeaders);
  let closing = false;
  let done: Promise<number> | null = null;
  let force: (() => void) | null = null;

  function onSignal(signal: NodeJS.Signals): void {
    if (force !== null) {
      log.warn({ signal }, 'second signal during shutdown: closing all connections now');
      force();
      return;
    }
    void api.shutdown(signal);
  }
  for (const s of signals) process.on(s, onSignal);

  async function run(reason: string): Promise<number> {
    closing = true;
    const started = Date.now();
    shutdownChannel.publish({ event: 'start', reason, inFlight: tracker.inFlight });
    log.info({ reason, inFlight: tracker.inFlight, gracefulTimeoutMs }, 'shutting down: draining in-flight requests');
    tracker.startClosing(options.refuseNewRequests ?? true);
    // Stops accepting through net.Server's close: since Node 19, http.Server's close() also calls
    // closeIdleConnections(), which would close connections accepted a moment ago whose request is
    // still on its way. The tracker closes only idle keep-alive connections instead.
    // The tracker below waits for every connection, whichever socket accepted it.
    void closeAcceptors(server);
    net.Server.prototype.close.call(server);

    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'forced'>((resolve) => {
      force = () => resolve('forced');
      timer = setTimeout(() => resolve('forced'), gracefulTimeoutMs);
    });
    const drained = Promise.all([
      options.onDrain?.(() => tracker.idle()).catch((err: unknown) => log.error({ err }, 'onDrain failed during shutdown')),
      tracker.idle(),
    ]).then(() => 'clean' as const);
    const outcome = await Promise.race([drained, expired]);
    clearTimeout(timer);

    if (outcome === 'forced') {
      log.warn({ inFlight: tracker.describe(), gracefulTimeoutMs }, 'grace period over: closing connections with requests still in flight');
    }
    server.closeAllConnections();
    server.close(); // clears http.Server's connection-check interval
    const code = outcome === 'clean' ? 0 : 1;
    shutdownChannel.publish({ event: 'end', reason, outcome, durationMs: Date.now() - started });
    log.info({ outcome, durationMs: Date.now() - started }, 'shutdown complete');
    api.dispose();
    exit(code);
    return code;
  }

  const api: GracefulShutdown = {
    get closing() {
      return closing;
    },
    shutdown(reason = 'shutdown()') {
      done ??= run(reason);
      return done;
    },
    dispose() {
      for (const s of signals) process.removeListener(s, onSignal);
      tracker.dispose();
    },
  };
  return api;
}
