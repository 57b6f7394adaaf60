/**
 * One log line per finished request, from a `vial:request` subscriber: reqId, method, route key,
 * path, status, durationMs, and for 5xx the error code. Switchable with `log.requests`; off costs
 * nothing (no subscriber). In development, give the app's logger `prettyDestination()` (pretty.ts)
 * for one readable line per request instead of JSON.
 */
import type { Logger } from 'pino';
import type { RouteInfo } from '../context.ts';
import { VialError } from '../errors.ts';
import { definePlugin } from '../plugin.ts';
import { UNMATCHED_ROUTE } from './metrics.ts';
import { requestChannel } from '../request-events.ts';
import type { RequestEvent } from '../request-events.ts';

export interface RequestLogOptions {
  /** Default true. */
  requests?: boolean;
  /** Only requests to these routes are logged (channels are process-wide); default: all. */
  routes?: Iterable<RouteInfo>;
  /** The same by route key (`GET /users/<int:id>`): what the request-log plugin knows at setup. */
  routeKeys?: ReadonlySet<string>;
}

export interface RequestLog {
  close(): void;
}

/**
 * The code a 5xx response carries: the VialError's, VIAL_ERR_INTERNAL for any other error, and
 * nothing when the event carries no error (intentionally no guessing from the status: a 503 may be
 * admission, the offload pool or a refused heap snapshot).
 */
export function errorCode(event: RequestEvent): string | undefined {
  if (event.status < 500 || event.error === undefined) return undefined;
  return event.error instanceof VialError ? event.error.code : 'VIAL_ERR_INTERNAL';
}

export function installRequestLog(app: { readonly log: Logger; readonly routeList?: readonly { readonly info: RouteInfo }[] }, options: RequestLogOptions = {}): RequestLog {
  if (options.requests === false) return { close() {} };
  const log = app.log;
  const keys = options.routeKeys;
  const own = options.routeKeys !== undefined ? undefined : options.routes !== undefined ? new Set(options.routes) : app.routeList !== undefined ? new Set(app.routeList.map((r) => r.info)) : undefined;
  function onRequest(event: RequestEvent): void {
    const info = event.ctx.route;
    if (info !== undefined && own !== undefined && !own.has(info)) return;
    if (info !== undefined && keys !== undefined && !keys.has(info.key)) return;
    if (!log.isLevelEnabled('info')) return;
    const code = errorCode(event);
    const line = {
      reqId: event.ctx.id,
      method: event.ctx.request.method,
      route: info === undefined ? UNMATCHED_ROUTE : info.key,
      path: event.ctx.request.path,
      status: event.status,
      durationMs: Math.round(event.durationMs * 100) / 100,
      ...(code === undefined ? {} : { code }),
    };
    if (event.status >= 500) log.error(line, 'request');
    else log.info(line, 'request');
  }
  requestChannel.subscribe(onRequest);
  return {
    close() {
      requestChannel.unsubscribe(onRequest);
    },
  };
}

/**
 * The request log as a plugin: one line per finished request of this app's routes (and unmatched
 * requests), installed with the first server the app creates (`listen()`, `vial run`), removed at
 * shutdown. The test client makes no server, so tests log no request lines.
 */
export const requestLog = definePlugin<undefined>({
  name: 'request-log',
  setup(r) {
    const routes = new Set<string>();
    r.perRoute((route) => {
      routes.add(route.key);
      return undefined;
    });
    let installed: RequestLog | undefined;
    r.onServer(() => {
      if (installed !== undefined) return undefined;
      installed = installRequestLog({ log: r.app.log }, { routeKeys: routes });
      return () => {
        installed?.close();
        installed = undefined;
      };
    });
  },
});
