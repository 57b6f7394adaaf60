/**
 * One log line per finished request, from a `vial:request` subscriber: reqId, method, route key,
 * path, status, durationMs, and for 5xx the error code. Switchable with `log.requests`; off costs
 * nothing (no subscriber). In development, give the app's logger `prettyDestination()` (pretty.ts)
 * for one readable line per request instead of JSON.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Logger } from 'pino';
import type { RouteInfo } from '../context.ts';
import { VialError } from '../errors.ts';
import { UNMATCHED_ROUTE } from './metrics.ts';
import type { RequestEvent } from './metrics.ts';

export interface RequestLogOptions {
  /** Default true. */
  requests?: boolean;
  /** Only requests to these routes are logged (channels are process-wide); default: all. */
  routes?: Iterable<RouteInfo>;
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
  const own = options.routes !== undefined ? new Set(options.routes) : app.routeList !== undefined ? new Set(app.routeList.map((r) => r.info)) : undefined;
  function onRequest(message: unknown): void {
    const event = message as RequestEvent;
    const info = event.ctx.route;
    if (info !== undefined && own !== undefined && !own.has(info)) return;
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
  subscribe('vial:request', onRequest);
  return {
    close() {
      unsubscribe('vial:request', onRequest);
    },
  };
}
