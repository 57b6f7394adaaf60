/**
 * Graceful shutdown of one http.Server: stop accepting, close idle keep-alive connections, refuse
 * new requests on busy ones with the closing 503 (error-response.ts, as admission's), wait for
 * in-flight work up to a grace period, then close whatever is left. Also home of the request
 * tracker the worker runtime shares.
 */

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import net from 'node:net';
import type { Socket } from 'node:net';
import type { ProcessLogger } from './options.ts';
import { silentLogger } from './options.ts';
import { closeAcceptors } from '../load/acceptors.ts';
import { nextRequestId } from '../internal/request-id.ts';
import { HTML_TYPE, JSON_TYPE, RefusalCache } from '../error-response.ts';
import type { RefusalStyle } from '../error-response.ts';
import type { RefusalKey } from '../error-response.ts';
import { typedChannel } from '../internal/channels.ts';

/** What `vial:shutdown` carries: the start of a drain and its end. */
export type ShutdownEvent =
  | { readonly event: 'start'; readonly reason: string; readonly inFlight: number }
  | { readonly event: 'end'; readonly reason: string; readonly outcome: 'clean' | 'forced'; readonly durationMs: number };

export const shutdownChannel = typedChannel<ShutdownEvent>('vial:shutdown');

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Counts and describes the HTTP exchanges of one server, per connection, so a drain knows when its
 * sockets are idle; flips it into "closing" mode on demand. Admission counts something else (the
 * app's admitted work, per route): docs/process.md says why both exist.
 */
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

// Admission's closing refusal (error-response.ts renders both) with its default Retry-After: a
// drain is short, and the retry goes to a new connection, so to another process.
const CLOSING: RefusalKey = { reason: 'closing', retryAfterSec: 1 };

/**
 * One accepted connection. Its latest response and when it started live here rather than in a
 * Map entry with a 'close' listener per request: in normal operation nobody waits for a response
 * to end, so whether `current` is still open is read from `res.closed` when someone asks.
 */
interface Conn {
  /** Requests started on it. */
  started: number;
  /** Its latest response, possibly already closed: held until the next request or the socket closes. */
  current: ServerResponse | undefined;
  /** When `current` started (Date.now()). */
  since: number;
  /** Earlier responses of this connection still open when a pipelined request arrived: in `loose`. */
  earlier: number;
  /** Had no request yet when closing started: its first request is served, not refused. */
  fresh: boolean;
}

/** A response tracked on its own, with a 'close' listener: see `loose`. */
interface LooseEntry {
  readonly since: number;
  readonly conn: Conn | undefined;
}

/** Without the app's style (a bare server): content type only, and the request id. */
const PLAIN_STYLE: RefusalStyle = { heads: { json: ['content-type', JSON_TYPE], html: ['content-type', HTML_TYPE] }, requestId: true };


export function trackRequests(server: Server, onRequest?: (total: number) => void, style: RefusalStyle = PLAIN_STYLE): RequestTracker {
  const conns = new Map<Socket, Conn>();
  // Responses no connection record holds: those of connections the tracker never saw (HTTP/2
  // streams share a session socket that is not the one 'connection' gave) and earlier responses
  // of a pipelining connection (RFC 9112 §9.3.2) still open when the next request arrived. Both
  // are rare, so they are the only ones that get a 'close' listener before a drain starts.
  const loose = new Map<ServerResponse, LooseEntry>();
  const refusals = new RefusalCache(style.heads);
  let total = 0;
  let closing = false;
  // From the first idle() or startClosing() on, every open response has a 'close' listener, so a
  // drain hears when the last one ends.
  let watching = false;
  let waiters: (() => void)[] = [];
  let displaced: RequestListener[] | null = null;
  let freshTimer: NodeJS.Timeout | undefined;

  const isOpen = (c: Conn): boolean => c.current !== undefined && !c.current.closed;

  function settled(): boolean {
    if (loose.size > 0) return false;
    for (const c of conns.values()) if (c.started === 0 || isOpen(c)) return false;
    return true;
  }
  function check(): void {
    if (waiters.length === 0 || !settled()) return;
    const ws = waiters;
    waiters = [];
    for (const w of ws) w();
  }

  // One listener function for every watched response (`this` is the response), not a closure each.
  function onResponseClose(this: ServerResponse): void {
    const entry = loose.get(this);
    if (entry !== undefined) {
      loose.delete(this);
      if (entry.conn !== undefined) entry.conn.earlier--;
    } else {
      const conn = conns.get(this.req.socket);
      if (conn?.current === this) conn.current = undefined;
    }
    check();
  }
  function addLoose(res: ServerResponse, since: number, conn: Conn | undefined, listening: boolean): void {
    loose.set(res, { since, conn });
    if (conn !== undefined) conn.earlier++;
    if (!listening) res.once('close', onResponseClose);
  }
  function watch(): void {
    if (watching) return;
    watching = true;
    for (const c of conns.values()) if (isOpen(c)) c.current?.once('close', onResponseClose);
  }

  function onConnection(socket: Socket): void {
    const conn: Conn = { started: 0, current: undefined, since: 0, earlier: 0, fresh: false };
    conns.set(socket, conn);
    socket.once('close', () => {
      conns.delete(socket);
      // Node 22 never closes pipelined responses still queued when their socket dies; they are done.
      if (conn.earlier > 0) for (const [res, entry] of loose) if (entry.conn === conn) loose.delete(res);
      check();
    });
  }
  server.on('connection', onConnection);

  // Prepended so the count and the Connection header are in place before the app sees the request.
  const track: RequestListener = function trackRequest(req, res) {
    total++;
    const now = Date.now();
    const conn = conns.get(req.socket);
    if (conn === undefined) {
      addLoose(res, now, undefined, false);
    } else {
      conn.started++;
      const previous = conn.current;
      // Pipelined behind a response still open: that one moves aside (with the listener a drain
      // already gave it, if any) and keeps being counted.
      if (previous !== undefined && !previous.closed) addLoose(previous, conn.since, conn, watching);
      conn.current = res;
      conn.since = now;
      if (watching) res.once('close', onResponseClose);
    }
    if (closing) res.setHeader('Connection', 'close');
    onRequest?.(total);
  };
  server.prependListener('request', track);

  function open(): [ServerResponse, number][] {
    const list: [ServerResponse, number][] = [];
    for (const [res, entry] of loose) list.push([res, entry.since]);
    for (const c of conns.values()) if (isOpen(c)) list.push([c.current as ServerResponse, c.since]);
    return list;
  }

  /** The closing refusal, as admission's (error-response.ts), in the app's style: its heads, its request-id setting. */
  function refuse(req: IncomingMessage, res: ServerResponse): void {
    const id = nextRequestId();
    const { body, head } = refusals.render(refusals.get(CLOSING), id, req.headers.accept);
    if (style.requestId) head.push('x-request-id', id);
    head.push('content-length', String(Buffer.byteLength(body)));
    res.writeHead(503, head);
    if (req.method === 'HEAD') res.end();
    else res.end(body);
  }

  return {
    get total() {
      return total;
    },
    get inFlight() {
      let n = loose.size;
      for (const c of conns.values()) if (isOpen(c)) n++;
      return n;
    },
    describe() {
      const now = Date.now();
      return open().map(([res, since]) => {
        const url = res.req.url ?? '/';
        const q = url.indexOf('?');
        return `${res.req.method ?? 'GET'} ${q === -1 ? url : url.slice(0, q)} (${now - since} ms)`;
      });
    },
    idle() {
      watch();
      if (settled()) return Promise.resolve();
      return new Promise<void>((resolve) => waiters.push(resolve));
    },
    startClosing(refuseReused) {
      if (closing) return;
      closing = true;
      watch();
      for (const [res] of open()) if (!res.headersSent) res.setHeader('Connection', 'close');
      for (const [socket, c] of conns) {
        c.fresh = c.started === 0;
        if (c.started > 0 && c.earlier === 0 && !isOpen(c)) socket.destroy();
      }
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
        // A connection accepted after closing began, or one the tracker never saw, is refused too.
        function dispatchWhileClosing(req: IncomingMessage, res: ServerResponse): void {
          if (conns.get(req.socket)?.fresh !== true) refuse(req, res);
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
  /** How that 503 looks: `app.refusalStyle` (the app's heads and request-id setting). */
  refusal?: RefusalStyle;
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
  const tracker = trackRequests(server, undefined, options.refusal);
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
