/**
 * WebSockets as a plugin (docs/websocket.md):
 *
 *   app.plugin(websocket, { maxMessageBytes: 64 * 1024 });
 *   app.get('/chat/<room>', { websocket: true }, (ctx) => {
 *     const socket = ctx.websocket;
 *     socket.join(`room:${ctx.params.room}`);
 *     socket.onMessage((text) => socket.publish(`room:${ctx.params.room}`, text));
 *   });
 *
 * A route with `{ websocket: true | limits }` is a GET route whose handler runs once per socket,
 * after the handshake, inside the handshake request: admission, the session, the app's and the
 * blueprint's before hooks (authentication) and the error handlers all apply to the handshake as to
 * any request. The steps, on the plugin seam:
 *   onRequest      a plain GET gets 426; the connection bulkheads (limits.ts): 503 when full
 *   beforeHandler  (after the session and the before hooks) the Origin check (origin.ts): 403;
 *                  then ws completes the handshake (101) and the response is detached from the socket
 *   handler        the user's, with `ctx.websocket`
 *   teardown       the socket starts reading, or closes with 1011 when the handler threw; a refused
 *                  handshake gives its slot back
 * Limits are on by default (options.ts); shutdown closes sockets with 1001 after a grace period.
 */
import type { IncomingMessage, Server } from 'node:http';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ServerOptions, WebSocketServer } from 'ws';
import type { Context, SessionLike } from '../context.ts';
import { BadRequestError, ConfigError, VialError } from '../errors.ts';
import { definePlugin } from '../plugin.ts';
import type { PluginAppView, RouteView } from '../plugin.ts';
import { Router } from '../router.ts';
import type { CompiledPattern } from '../router.ts';
import type { Session } from '../security/session.ts';
import type { SessionManager } from '../security/session-manager.ts';
import { Broadcast } from './broadcast/hub.ts';
import type { BroadcastOptions } from './broadcast/hub.ts';
import { WebSocketConnection } from './connection.ts';
import type { ConnectionDeps } from './connection.ts';
import { wsChannel } from './events.ts';
import { ConnectionLimits } from './limits.ts';
import type { RouteCount } from './limits.ts';
import { resolveRouteLimits, resolveWebSocketOptions } from './options.ts';
import { registerWebSocketStats, RouteCounters } from './stats.ts';
import type { ResolvedRouteLimits, ResolvedWebSocketOptions, WebSocketInput, WebSocketRouteLimits } from './options.ts';
import { checkHandshakeOrigin, originRefusal } from './origin.ts';
import { HANDSHAKE_TIMEOUT, upgradeListener, writeError } from './upgrade.ts';
import type { PendingUpgrade } from './upgrade.ts';

declare module '../handlers.ts' {
  interface RouteOptions {
    /** A WebSocket route (GET): `true`, or limits of its own over the plugin's (docs/websocket.md). */
    websocket?: boolean | WebSocketRouteLimits;
  }
}

declare module '../context.ts' {
  interface ContextDecorations {
    /** The open socket, on a `{ websocket: true }` route (throws elsewhere). */
    websocket: WebSocketConnection;
  }
}

export interface WebSocketPluginInput extends WebSocketInput {
  /** A hub of your own (to publish from HTTP routes too, or across processes with Redis), or its options. */
  readonly broadcast?: Broadcast | BroadcastOptions;
}

interface PluginOptions {
  readonly ws: ResolvedWebSocketOptions;
  readonly hub: Broadcast;
  readonly app: AppInternals;
}

/** What the plugin reads of the app beyond PluginAppView (the Vial instance has all of it). */
interface AppInternals extends PluginAppView {
  readonly routeList: readonly { readonly method: string; readonly pattern: CompiledPattern; readonly options: { readonly websocket?: unknown } }[];
  readonly errorHeaders: readonly (readonly [string, string])[];
  readonly security: { sessionManager(): SessionManager };
}

const refusal = (status: number, code: 'VIAL_ERR_WS_FULL' | 'VIAL_ERR_WS_HANDSHAKE' | 'VIAL_ERR_WS_UPGRADE_REQUIRED', message: string, headers?: Record<string, string>): BadRequestError =>
  new BadRequestError(code, message, status, headers);

/**
 * ws (~0.6 MiB of RSS at import on Node 24) is loaded when the first WebSocket route is set up, not
 * with vial: every app imports this module through vial's index, and most have no WebSocket route
 * (issue 16). A synchronous require, because route setup is synchronous and ws is CommonJS.
 */
const requireDependency = createRequire(import.meta.url);
let wsServer: typeof WebSocketServer | undefined;
const newWebSocketServer = (options: ServerOptions): WebSocketServer =>
  new (wsServer ??= (requireDependency('ws') as typeof import('ws')).WebSocketServer)(options);

/** How long startup waits for the broadcast transport (Redis) before serving without it. */
const BROADCAST_READY_MS = 5_000;

const KEY = /^[+/0-9A-Za-z]{21}[AQgw]==$/;

export const websocket = definePlugin<PluginOptions, WebSocketPluginInput>({
  name: 'websocket',
  options(input, app) {
    const { broadcast, ...rest } = input ?? {};
    const internals = app as AppInternals;
    if (typeof (internals as Partial<AppInternals>).security?.sessionManager !== 'function') {
      throw new ConfigError('VIAL_ERR_WS_OPTIONS', 'The websocket plugin registers on a Vial app: app.plugin(websocket, options).');
    }
    const ws = resolveWebSocketOptions(rest, app.config.security.csrf.trustedOrigins);
    const hub = broadcast instanceof Broadcast ? broadcast : new Broadcast(broadcast ?? {});
    return { ws, hub, app: internals };
  },
  setup(r, { ws, hub, app }) {
    const limits = new ConnectionLimits(ws.maxConnectionsPerProcess);
    const routes = new Map<string, { count: RouteCount; limits: ResolvedRouteLimits; server: WebSocketServer; counters: RouteCounters; deps: ConnectionDeps }>();
    const pending = new WeakMap<IncomingMessage, PendingUpgrade>();
    const byCtx = new WeakMap<Context, WebSocketConnection>();
    const open = new Set<WebSocketConnection>();
    const cookieName = app.config.security.session.cookieName;
    let wsRouter: Router<{ readonly pattern: CompiledPattern }> | undefined;
    let heartbeat: NodeJS.Timeout | undefined;
    let draining: Promise<void> | undefined;
    let allClosed: (() => void) | undefined;
    registerWebSocketStats(app, () => ({ open: open.size, routes: [...routes.values()].map((entry) => entry.counters) }));

    const isWebSocketPath = (path: string): boolean => {
      if (wsRouter === undefined) {
        wsRouter = new Router();
        for (const record of app.routeList) if (record.method === 'GET' && isOn(record.options.websocket)) wsRouter.add('GET', record);
      }
      return wsRouter.find('GET', path) !== undefined;
    };

    const saveSession = async (session: SessionLike): Promise<boolean> => (await app.security.sessionManager().commit(session as Session)) !== undefined;

    const onClosed = (connection: WebSocketConnection): void => {
      open.delete(connection);
      const entry = routes.get(connection.route);
      if (entry !== undefined) {
        limits.leave(entry.count);
        entry.counters.open--;
      }
      if (wsChannel.hasSubscribers) wsChannel.publish({ event: 'close', route: connection.route });
      if (open.size === 0) allClosed?.();
    };

    r.routeOption('websocket', (value, route) => {
      if (value === undefined || value === false) return;
      if (route.method !== 'GET' && route.method !== 'HEAD') {
        throw new ConfigError('VIAL_ERR_WS_OPTIONS', `Route ${route.key} has { websocket }, but a WebSocket handshake is a GET: register it with app.get().`);
      }
      if (value !== true) resolveRouteLimits(value as WebSocketRouteLimits, ws.route, `ws route ${route.key}`);
    });

    r.decorate('websocket', (ctx) => {
      const connection = byCtx.get(ctx);
      if (connection === undefined) {
        throw new VialError('VIAL_ERR_WS_OPTIONS', `ctx.websocket is only there on WebSocket routes; ${ctx.route?.key ?? 'this route'} has no { websocket: true }.`);
      }
      return connection;
    });

    r.perRoute((route: RouteView) => {
      const option = route.options.websocket;
      if (!isOn(option)) return undefined;
      let entry = routes.get(route.key);
      if (entry === undefined) {
        const own = resolveRouteLimits(option === true ? {} : (option as WebSocketRouteLimits), ws.route, `ws route ${route.key}`);
        const counters = new RouteCounters(route.key, own.maxConnections);
        // One deps object per route, shared by its sockets, built here rather than in the upgrade
        // callback: a closure created there would share that scope's context and keep the
        // handshake's `upgrade` (its ServerResponse, head buffer, timers) alive for the socket's life.
        const deps: ConnectionDeps = { limits: own, counters, closeTimeoutMs: ws.closeTimeoutMs, hub, saveSession, onClosed };
        entry = { count: limits.route(route.key, own.maxConnections), limits: own, server: newWebSocketServer(serverOptions(ws, own)), counters, deps };
        routes.set(route.key, entry);
      }
      const { count, server, counters, deps } = entry;
      return {
        onRequest(ctx) {
          const upgrade = pending.get(ctx.request.raw);
          if (upgrade === undefined) {
            throw refusal(426, 'VIAL_ERR_WS_UPGRADE_REQUIRED', `${route.key} is a WebSocket endpoint: open it with a WebSocket client (new WebSocket(url)), not a plain GET.`, { upgrade: 'websocket', connection: 'Upgrade' });
          }
          if (upgrade.timedOut) throw timeoutError();
          upgrade.ctx = ctx;
          const refused = limits.enter(count);
          if (refused !== undefined) {
            counters.refused++;
            if (wsChannel.hasSubscribers) wsChannel.publish({ event: 'refused', route: route.key, status: 503 });
            const why = refused === 'route-full' ? `${route.key} has its ${count.limit} sockets open (maxConnections)` : refused === 'process-full' ? `this process has its ${limits.maxPerProcess} sockets open (maxConnectionsPerProcess)` : 'the server is shutting down';
            throw refusal(503, 'VIAL_ERR_WS_FULL', `WebSocket refused: ${why}. Retry later, or on another instance.`, { 'retry-after': '1' });
          }
          upgrade.slot = count;
          return undefined;
        },
        beforeHandler(ctx) {
          const upgrade = pending.get(ctx.request.raw) as PendingUpgrade;
          const headers = ctx.request.raw.headers;
          const token = headers['x-csrf-token'];
          const decision = checkHandshakeOrigin(
            {
              origin: headers.origin,
              secFetchSite: headers['sec-fetch-site'],
              host: ctx.request.host,
              hasSessionCookie: headers.cookie !== undefined && ctx.request.cookies[cookieName] !== undefined,
              sessionToken: (ctx.sessionState as Session | undefined)?.peekCsrfToken(),
              submittedToken: typeof token === 'string' ? token : undefined,
            },
            { appOrigin: app.config.security.csrf.appOrigin, allowedOrigins: ws.allowedOrigins },
          );
          if (!decision.ok) {
            counters.refused++;
            if (wsChannel.hasSubscribers) wsChannel.publish({ event: 'refused', route: route.key, status: 403 });
            ctx.log.warn({ origin: headers.origin, reason: decision.reason }, 'vial websocket: handshake refused (Origin)');
            throw originRefusal(decision.reason);
          }
          if (headers['sec-websocket-version'] !== '13') {
            throw refusal(400, 'VIAL_ERR_WS_HANDSHAKE', 'Unsupported WebSocket version: this server speaks version 13 (RFC 6455).', { 'sec-websocket-version': '13' });
          }
          if (!KEY.test(String(headers['sec-websocket-key'] ?? ''))) throw refusal(400, 'VIAL_ERR_WS_HANDSHAKE', 'The handshake has no valid Sec-WebSocket-Key header (RFC 6455 §4.1).');
          if (upgrade.timedOut) throw timeoutError();
          clearTimeout(upgrade.timer);
          upgrade.upgraded = true;
          // The socket is ws' from here: detach the response, and mark its head as sent so the
          // dispatcher writes nothing (the detached response only buffers, and is dropped).
          upgrade.res.detachSocket(upgrade.socket as Socket);
          upgrade.res.writeHead(101);
          server.handleUpgrade(ctx.request.raw, upgrade.socket, upgrade.head, (raw) => {
            // No message is read before the handler has added its listeners (start() resumes).
            raw.pause();
            const connection = new WebSocketConnection(raw, upgrade.socket as Socket, ctx, deps);
            byCtx.set(ctx, connection);
            open.add(connection);
            upgrade.slot = undefined;
            counters.open++;
            counters.opened++;
            if (wsChannel.hasSubscribers) wsChannel.publish({ event: 'open', route: route.key });
            if (draining !== undefined) connection.markShuttingDown();
          });
          return undefined;
        },
        teardown(ctx, failure) {
          const upgrade = pending.get(ctx.request.raw);
          if (upgrade === undefined) return;
          pending.delete(ctx.request.raw);
          clearTimeout(upgrade.timer);
          if (upgrade.slot !== undefined) limits.leave(upgrade.slot);
          upgrade.slot = undefined;
          const connection = byCtx.get(ctx);
          if (connection === undefined) return;
          connection.start(failure);
          // The handshake request is over: request trackers (graceful shutdown) count it done.
          setImmediate(() => upgrade.res.emit('close'));
        },
      };
    });

    const onTimeout = (upgrade: PendingUpgrade): void => {
      if (upgrade.upgraded) return;
      upgrade.timedOut = true;
      const key = upgrade.ctx?.route?.key;
      const entry = key === undefined ? undefined : routes.get(key);
      if (entry !== undefined) entry.counters.refused++;
      upgrade.ctx?.log.warn({ handshakeTimeoutMs: ws.handshakeTimeoutMs }, 'vial websocket: handshake timed out');
      upgrade.ctx?.abort(timeoutError());
      writeError(upgrade.res, HANDSHAKE_TIMEOUT, app.errorHeaders);
    };

    const drain = (): Promise<void> =>
      (draining ??= (async () => {
        limits.close();
        for (const connection of open) connection.markShuttingDown();
        if (open.size !== 0) {
          const closed = new Promise<void>((resolve) => (allClosed = resolve));
          const grace = setTimeout(() => {
            for (const connection of open) connection.close(1001, 'server shutting down');
          }, ws.shutdownGraceMs);
          await closed;
          clearTimeout(grace);
        }
        clearInterval(heartbeat);
        await hub.close();
      })());

    // Redis down at startup must not keep the app from serving: sockets of this process still reach
    // each other, and the transport reconnects (and counts failed publishes) on its own.
    r.onStartup(async () => {
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), BROADCAST_READY_MS)));
      const outcome = await Promise.race([hub.ready().then(() => 'ready' as const), bound]);
      clearTimeout(timer);
      if (outcome === 'late') app.log.warn({ waitedMs: BROADCAST_READY_MS }, 'vial websocket: the broadcast transport is not ready; starting anyway, messages reach this process only until it is.');
    });

    r.onServer((server: Server) => {
      const onUpgrade = upgradeListener(server, { isWebSocketPath, pending, handshakeTimeoutMs: ws.handshakeTimeoutMs, errorHeaders: () => app.errorHeaders, onTimeout });
      server.on('upgrade', onUpgrade);
      if (heartbeat === undefined && ws.pingIntervalMs > 0) heartbeat = startHeartbeat(open, ws.pingIntervalMs, app.log);
      // server.close() waits for every connection, open sockets included: its call is where their
      // grace period starts (listen().close(); `vial run`'s drain reaches drain() through shutdown).
      // An own property over the prototype's method: deleting it on detach restores the original.
      const close = server.close.bind(server);
      server.close = ((callback?: (error?: Error) => void) => {
        void drain();
        return close(callback);
      });
      return () => {
        server.off('upgrade', onUpgrade);
        delete (server as { close?: unknown }).close;
        void drain();
      };
    });

    r.onShutdown(() => drain());
  },
});

function isOn(option: unknown): boolean {
  return option !== undefined && option !== false;
}

function timeoutError(): BadRequestError {
  return new BadRequestError('VIAL_ERR_WS_HANDSHAKE_TIMEOUT', HANDSHAKE_TIMEOUT.message, 408);
}

function serverOptions(ws: ResolvedWebSocketOptions, own: ResolvedRouteLimits): ServerOptions {
  const deflate = ws.perMessageDeflate;
  return {
    noServer: true,
    // vial keeps its own set of sockets (the heartbeat, shutdown and stats walk it).
    clientTracking: false,
    maxPayload: own.maxMessageBytes,
    perMessageDeflate: deflate === false ? false : { threshold: deflate.thresholdBytes, zlibDeflateOptions: { level: deflate.level }, concurrencyLimit: deflate.concurrencyLimit },
  };
}

/** Pings every socket each interval; one that has not answered the previous ping is cut off. */
function startHeartbeat(open: ReadonlySet<WebSocketConnection>, intervalMs: number, log: Logger): NodeJS.Timeout {
  const timer = setInterval(() => {
    for (const connection of open) {
      if (!connection.alive) {
        connection.log.info({ pingIntervalMs: intervalMs }, 'vial websocket: peer did not answer a ping, terminating');
        connection.terminate();
        continue;
      }
      connection.alive = false;
      try {
        connection.raw.ping();
      } catch (error) {
        log.debug({ err: error }, 'vial websocket: ping failed');
      }
    }
  }, intervalMs);
  timer.unref();
  return timer;
}
