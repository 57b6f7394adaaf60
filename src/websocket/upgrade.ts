/**
 * The HTTP side of a WebSocket handshake: the `upgrade` event of the server becomes an ordinary
 * request of the app, so the handshake runs the same pipeline as any GET (admission, session,
 * before hooks, error handlers, request log) before ws takes the socket over.
 *
 * Node emits an upgrade request as `upgrade` with the raw socket and no ServerResponse. Here it gets
 * one (assigned to that socket, `Connection: close`), and is emitted as `request`, as Node itself
 * does for other requests, so the shutdown tracker and the watchdog see it too. A refusal (401
 * from a before hook, 403 Origin, 503 full) is then an HTTP response like any other; a handshake
 * that completes detaches the response from the socket (plugin.ts), which ws answers with 101.
 *
 * An `Upgrade: websocket` request to a path with no WebSocket route is answered 404 here, without
 * running the app: a WebSocket client can do nothing with the page a GET route would send (and
 * would read a 200 as a failed handshake it cannot explain).
 */
import { ServerResponse } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Context } from '../context.ts';
import { errorBody } from '../error-response.ts';
import type { PublicError } from '../error-response.ts';
import { nextRequestId } from '../internal/request-id.ts';
import type { RouteCount } from './limits.ts';

/** One upgrade request between the `upgrade` event and the handshake (or its refusal). */
export interface PendingUpgrade {
  readonly socket: Duplex;
  readonly head: Buffer;
  readonly res: ServerResponse;
  timer: NodeJS.Timeout | undefined;
  ctx: Context | undefined;
  /** The route bulkhead slot taken at admission; given back by whoever ends the upgrade. */
  slot: RouteCount | undefined;
  upgraded: boolean;
  timedOut: boolean;
}

export interface UpgradeDeps {
  /** True when `path` is the path of a WebSocket route. */
  readonly isWebSocketPath: (path: string) => boolean;
  readonly pending: WeakMap<IncomingMessage, PendingUpgrade>;
  readonly handshakeTimeoutMs: number;
  /** The app's security headers, for answers written here. */
  readonly errorHeaders: () => readonly (readonly [string, string])[];
  readonly onTimeout: (upgrade: PendingUpgrade) => void;
}

export const NO_ROUTE: PublicError = {
  status: 404,
  code: 'VIAL_ERR_WS_NO_ROUTE',
  message: 'There is no WebSocket endpoint at this path. Check the URL against the app\'s routes (`vial routes` lists them with { websocket: true }).',
};

export const HANDSHAKE_TIMEOUT: PublicError = {
  status: 408,
  code: 'VIAL_ERR_WS_HANDSHAKE_TIMEOUT',
  message: 'The WebSocket handshake did not complete in time (websocket.handshakeTimeoutMs). Try again.',
};

export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return req.headers.upgrade?.toLowerCase() === 'websocket';
}

/** The `upgrade` listener for one server. */
export function upgradeListener(server: Server, deps: UpgradeDeps): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  return function onUpgrade(req, socket, head) {
    // A peer that resets mid-handshake must not become an unhandled 'error' (ws adds its own later).
    socket.on('error', destroyOnError);
    const res = new ServerResponse(req);
    res.assignSocket(socket as never);
    // Whatever the answer, this connection carries nothing after it but a WebSocket.
    res.shouldKeepAlive = false;
    const upgrade: PendingUpgrade = { socket, head, res, timer: undefined, ctx: undefined, slot: undefined, upgraded: false, timedOut: false };
    res.once('finish', () => {
      clearTimeout(upgrade.timer);
      if (!upgrade.upgraded) socket.end();
    });
    const path = pathOf(req.url);
    if (!isWebSocketUpgrade(req)) {
      // Another protocol (h2c, ...): vial speaks none, and RFC 9110 §7.8 lets a server ignore Upgrade.
      server.emit('request', req, res);
      return;
    }
    if (!deps.isWebSocketPath(path)) {
      writeError(res, NO_ROUTE, deps.errorHeaders());
      return;
    }
    upgrade.timer = setTimeout(() => deps.onTimeout(upgrade), deps.handshakeTimeoutMs);
    upgrade.timer.unref();
    deps.pending.set(req, upgrade);
    server.emit('request', req, res);
  };
}

/**
 * Intentionally not a closure: this listener stays on the socket for its whole life, and a closure
 * made in onUpgrade would share that scope and keep the handshake's `upgrade` (its ServerResponse,
 * head buffer and timer) alive as long as the socket is open.
 */
function destroyOnError(this: Duplex): void {
  this.destroy();
}

/** A JSON error answer written outside the dispatcher (no route ran). */
export function writeError(res: ServerResponse, error: PublicError, headers: readonly (readonly [string, string])[]): void {
  if (res.headersSent) return;
  const { body, contentType } = errorBody(error, nextRequestId(), false);
  const head: string[] = ['content-type', contentType, 'content-length', String(Buffer.byteLength(body))];
  for (const [name, value] of headers) head.push(name, value);
  res.writeHead(error.status, head);
  res.end(body);
}

function pathOf(url: string | undefined): string {
  const target = url ?? '/';
  const q = target.indexOf('?');
  return q === -1 ? target : target.slice(0, q);
}
