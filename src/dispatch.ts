/**
 * The request lifecycle, top to bottom:
 *
 *   0. target   framing (Transfer-Encoding, version: 400/501/505), the request target, Host syntax and
 *               allowedHosts; hostile requests are refused here (security/framing.ts, target.ts, edge.ts)
 *   1. admit    in-flight limit, bounded queue, route bulkhead, event-loop pressure; refusal is
 *               503 + Retry-After before any body is read or any hook runs (load/)
 *   2. context  ctx with id, deadline and signal; enter the AsyncLocalStorage scope
 *   3. guard    session load (when the cookie is there), CSRF for unsafe methods (security/)
 *   4. before   app hooks, then blueprint hooks; a returned value short-circuits
 *   5. handler  raced against the deadline; disconnect or deadline aborts ctx.signal
 *   6. after    after hooks, then session save and security headers; write the response
 *   7. teardown always runs; the admission slot is released; diagnostics published
 *
 * The common case (no hooks, a synchronous handler, a string or JSON reply) goes through without
 * a single extra promise: each step awaits only what really is a promise.
 */
import { channel } from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { CoreConfig } from './config.ts';
import { Context, runInContext } from './context.ts';
import type { ContextServices } from './context.ts';
import { BadRequestError, BodyTimeoutError, ClientGoneError, DeadlineError, HttpError, VialError, statusText } from './errors.ts';
import { escapeHtml } from './html.ts';
import { ADMITTED } from './load/admission.ts';
import type { Admission, Refusal, RouteGate } from './load/admission.ts';
import type { DeadlineTracker } from './load/deadline.ts';
import { runOffloadedHandler } from './load/offload-handler.ts';
import type { OffloadPool } from './load/offload.ts';
import { hasTooManyHeaders } from './load/server-limits.ts';
import { recordRoute } from './memory/route-activity.ts';
import type { PluginHost } from './plugin-host.ts';
import { VialRequest } from './request.ts';
import { buildPlainHeads, toResponse, VialResponse, writePlainReply, writeResponse } from './response.ts';
import type { HeaderList as ResponseHead, HeaderMap } from './response.ts';
import type { ErrorScope, RouteRecord, RouteTable } from './route-table.ts';
import type { AfterHook, BeforeHook, Handler, Reply } from './scaffold.ts';
import { NO_PLUGIN_HOOKS } from './plugin-host.ts';
import type { SecurityLayer } from './security/layer.ts';
import { checkHost, checkNonOriginTarget, checkPath } from './security/target.ts';
import { createEdge } from './security/edge.ts';
import { checkFraming } from './security/framing.ts';
import { isNonDocumentType } from './security/headers.ts';

export interface Dispatcher {
  (req: IncomingMessage, res: ServerResponse): void;
}

export interface DispatchDeps {
  readonly config: CoreConfig;
  readonly table: RouteTable;
  readonly log: Logger;
  readonly services: ContextServices;
  readonly admission: Admission;
  readonly deadlines: DeadlineTracker;
  readonly offload: OffloadPool;
  readonly security: SecurityLayer;
  /** The plugins' unmatched-request hooks and response headers (plugin-host.ts). */
  readonly plugins: PluginHost;
  readonly maxHeadersCount: number;
  /** The route bulkhead of each record (created once at startup). */
  readonly gates: ReadonlyMap<RouteRecord, RouteGate>;
}

/** Published once per finished request; the admin surface and metrics subscribe. */
export const requestChannel = channel('vial:request');

interface RefusalParts {
  readonly error: VialError;
  readonly json: string;
  readonly html: string;
  readonly jsonHead: string[];
  readonly htmlHead: string[];
}

const NO_ROUTE_SCOPES: readonly ErrorScope[] = [];
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

export function createDispatcher(deps: DispatchDeps): Dispatcher {
  const { config, table, log, services, admission, deadlines, offload, security, plugins, maxHeadersCount, gates } = deps;
  const router = table.router;
  // Hosts this app answers for and the proxies it believes (security/edge.ts).
  const edge = createEdge({ allowedHosts: config.allowedHosts, trustProxy: config.trustProxy });
  // Headers plugins add to every response (vial's security headers among them), for documents
  // and for data: JSON and event-stream responses get only what means something there.
  const { document: baseHeaders, data: dataHeaders } = plugins.responseHeaders();
  const idHeader = config.log.requestIdHeader;
  const plainHeads = buildPlainHeads(baseHeaders, dataHeaders);
  /** Refusal bodies and heads, one entry per reason and Retry-After value (see refuse()). */
  const refusalCache = new Map<string, RefusalParts>();
  const appScopes = [table.appErrorScope];
  // Routes with no hooks and an in-process handler: candidates for the synchronous fast path.
  // Plugins that touch a route take it off the fast path; the others cost it nothing.
  const plainRoutes = new Set(
    table.records.filter((r) => r.before.length === 0 && r.after.length === 0 && r.teardown.length === 0 && r.handler !== undefined && r.plugins === NO_PLUGIN_HOOKS),
  );

  return function dispatch(req: IncomingMessage, res: ServerResponse): void {
    // Only subscribers (metrics, request logs) need a duration; skip the clock read otherwise.
    const startedAt = requestChannel.hasSubscribers ? performance.now() : 0;
    // 0. target: origin-form is the norm; anything else is checked before routing.
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    let path = q === -1 ? target : target.slice(0, q);
    const search = q === -1 ? '' : target.slice(q + 1);
    const method = req.method ?? 'GET';
    // 0a. framing (security/framing.ts): Transfer-Encoding and version, before anything else runs.
    let early: VialError | undefined = checkFraming(req);
    if (early === undefined && path.charCodeAt(0) !== 47 /* / */) {
      const checked = checkNonOriginTarget(path, req);
      if (typeof checked === 'string') path = checked;
      else early = checked;
    }
    // 0b. hosts (security/edge.ts): Host syntax and allowedHosts, through trusted proxies.
    early ??= checkPath(path) ?? checkHost(req) ?? edge.check(req);
    if (early === undefined && hasTooManyHeaders(req, maxHeadersCount)) {
      early = new BadRequestError('VIAL_ERR_TOO_MANY_HEADERS', `The request has more than ${maxHeadersCount} headers.`, 431, { connection: 'close' });
    }
    const match = early === undefined ? router.find(method, path) : undefined;
    const route = match?.route;
    const request = new VialRequest(req, path, search, config.body, edge);
    const ctx = new Context(request, services);

    if (route === undefined) {
      runInContext(ctx, () => guardedFinish(ctx, res, finishUnmatched(ctx, res, early, method, path), undefined, startedAt));
      return;
    }
    request.params = (match as { params: Record<string, unknown> }).params;
    ctx.route = route.info;
    if (route.options.maxBodyBytes !== undefined) request.maxBodyBytes = route.options.maxBodyBytes;
    recordRoute(route.info.key);

    // 1. admit: synchronous when there is room; queued requests wait here, before any body is read.
    const gate = gates.get(route) as RouteGate;
    const entry = admission.tryEnter(gate);
    if (entry === ADMITTED) {
      admitted(ctx, route, gate, res, startedAt);
    } else if (entry instanceof Promise) {
      const withdraw = (): void => admission.withdraw(entry);
      res.once('close', withdraw);
      entry.then(
        (result) => {
          res.off('close', withdraw);
          if (result === ADMITTED) admitted(ctx, route, gate, res, startedAt);
          else if (result.reason !== 'aborted') refuse(ctx, res, result, startedAt);
        },
        (error: unknown) => refuse(ctx, res, { reason: 'queue-full', retryAfterSec: 1 }, startedAt, error),
      );
    } else {
      refuse(ctx, res, entry, startedAt);
    }
  };

  /**
   * A refused request gets 503 + Retry-After and runs no hook: it never reached the app. Under
   * overload refusals can outnumber successes 2:1, and every microsecond one costs is taken from
   * the admitted requests, so a refusal is written from parts built once per reason: no Error
   * (whose stack capture alone cost more than the rest), no context scope, no error handler.
   */
  function refuse(ctx: Context, res: ServerResponse, refusal: Refusal, startedAt: number, cause?: unknown): void {
    if (cause !== undefined) log.error({ err: cause, reqId: ctx.id }, 'vial: admission queue failed');
    const parts = refusalParts(refusal);
    const id = ctx.id;
    const html = prefersHtml(ctx.request.raw.headers.accept);
    const body = html ? `${parts.html}${escapeHtml(id)}</small></p></body></html>` : `${parts.json}${JSON.stringify(id)}}}`;
    const head = (html ? parts.htmlHead : parts.jsonHead).slice();
    if (idHeader !== 'never') head.push('x-request-id', id);
    head.push('content-length', String(Buffer.byteLength(body)));
    try {
      res.writeHead(503, head);
      if (ctx.request.method === 'HEAD') res.end();
      else res.end(body);
    } catch (error) {
      log.error({ err: error, reqId: id }, 'vial: failed to send a response');
      res.destroy();
      return;
    }
    publish(ctx, res, undefined, startedAt, parts.error);
  }

  function refusalParts(refusal: Refusal): RefusalParts {
    const key = `${refusal.reason}:${refusal.retryAfterSec}`;
    let parts = refusalCache.get(key);
    if (parts !== undefined) return parts;
    const message = `The server is at capacity (${refusal.reason}); retry after ${refusal.retryAfterSec} s.`;
    const retryAfter = String(refusal.retryAfterSec);
    const title = `503 ${escapeHtml(statusText(503))}`;
    parts = {
      error: stackless(() => new VialError('VIAL_ERR_OVERLOADED', message, { status: 503, expose: true, headers: { 'retry-after': retryAfter } })),
      json: `{"error":{"status":503,"code":"VIAL_ERR_OVERLOADED","message":${JSON.stringify(message)},"requestId":`,
      html: `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1><p>${escapeHtml(message)}</p><p><small>Request id: `,
      // The plain replies' heads (content type + security headers), plus Retry-After.
      jsonHead: [...plainHeads.json, 'retry-after', retryAfter],
      htmlHead: [...plainHeads.html, 'retry-after', retryAfter],
    };
    // route-blocking refusals carry the remaining penalty in Retry-After; bound the cache anyway.
    if (refusalCache.size < 64) refusalCache.set(key, parts);
    return parts;
  }

  /** Cold paths only (unmatched routes, refusals): publishes when done, destroys the socket if writing failed. */
  function guardedFinish(ctx: Context, res: ServerResponse, done: Promise<void> | undefined, route: RouteRecord | undefined, startedAt: number, error?: unknown): void {
    if (done === undefined) {
      publish(ctx, res, route, startedAt, error);
      return;
    }
    done.then(
      () => publish(ctx, res, route, startedAt, error),
      (error: unknown) => {
        log.error({ err: error, reqId: ctx.id }, 'vial: failed to send a response');
        res.destroy();
      },
    );
  }

  function publish(ctx: Context, res: ServerResponse, route: RouteRecord | undefined, startedAt: number, error?: unknown): void {
    if (requestChannel.hasSubscribers) {
      requestChannel.publish({ ctx, route: route?.info.key, status: res.statusCode, durationMs: performance.now() - startedAt, error });
    }
  }

  function admitted(ctx: Context, route: RouteRecord, gate: RouteGate, res: ServerResponse, startedAt: number): void {
    // 2. context: the AsyncLocalStorage scope opens before any body is read. The deadline starts
    // in run(), within this same tick: a request the fast path finishes never needs one.
    runInContext(ctx, begin, ctx, route, gate, res, startedAt);
  }

  /**
   * Inside the request's context. The fast path covers a route without hooks, a safe method and no
   * cookie (so steps 3, 4 and 6 have nothing to do) whose handler answers synchronously: it runs
   * start to end with no promise, timer or listener. Anything else continues in `run`.
   */
  function begin(ctx: Context, route: RouteRecord, gate: RouteGate, res: ServerResponse, startedAt: number): void {
    let pending: Promise<unknown> | undefined;
    if (plainRoutes.has(route) && ctx.request.raw.headers.cookie === undefined && SAFE_METHODS.has(ctx.request.method)) {
      let reply: unknown;
      try {
        reply = (route.handler as Handler)(ctx);
      } catch (error) {
        reply = Promise.reject(error);
      }
      if (reply instanceof Promise) pending = reply;
      else if (writesPlain(ctx, route, res, reply)) {
        // A string or a plain object, written straight from a prebuilt head: the commonest case.
        admission.leave(gate);
        publish(ctx, res, route, startedAt);
        return;
      } else {
        let response: VialResponse | undefined;
        try {
          response = reply instanceof VialResponse ? reply : toResponse(reply ?? null);
        } catch (error) {
          pending = Promise.reject(error);
        }
        // A handler that touched the session needs step 6b (save it, set the cookie): not fast.
        if (response !== undefined && ctx.sessionState === undefined) {
          let sending: Promise<void> | undefined;
          try {
            sending = send(ctx, res, response);
          } catch (error) {
            // e.g. a header value with CR/LF from a VialResponse: never escapes the request.
            pending = Promise.reject(error);
          }
          if (pending === undefined) {
            if (sending === undefined) {
              admission.leave(gate);
              publish(ctx, res, route, startedAt);
              return;
            }
            pending = sending.then(() => response);
          }
        } else if (response !== undefined) {
          pending = Promise.resolve(response);
        }
      }
    }
    void run(ctx, route, gate, res, startedAt, pending);
  }

  /**
   * Writes a string or plain-object reply from the prebuilt head when nothing else has a say in the
   * response (no after hooks, no session to save, no ctx.header()). True when it wrote; false
   * leaves the reply to the general path, which also meets a JSON.stringify throw again as a 500.
   */
  function writesPlain(ctx: Context, route: RouteRecord, res: ServerResponse, reply: unknown): boolean {
    if (route.after.length !== 0 || route.plugins.onResponse.length !== 0 || ctx.sessionState !== undefined || ctx.responseHeaders !== undefined) return false;
    try {
      return writePlainReply(res, reply, plainHeads, idHeader === 'always' ? ctx.id : undefined, ctx.request.method === 'HEAD');
    } catch {
      return false;
    }
  }

  /**
   * Steps 3 to 7 for everything the fast path does not cover. `pending` is the reply of a handler
   * the fast path already called. Never rejects: every failure becomes a response or a closed socket.
   */
  async function run(ctx: Context, route: RouteRecord, gate: RouteGate, res: ServerResponse, startedAt: number, pending: Promise<unknown> | undefined): Promise<void> {
    // Deadline and disconnect both abort ctx (one shared deadline timer, no setTimeout per request).
    ctx.deadlineAt = deadlines.deadlineIn(route.options.timeoutMs);
    const deadline = deadlines.track(ctx.deadlineAt, expire, ctx);
    const onClose = (): void => {
      if (!res.writableFinished) ctx.abort(new ClientGoneError());
    };
    res.once('close', onClose);
    let response: VialResponse | undefined;
    let failure: unknown;
    try {
      let reply: unknown;
      if (pending === undefined) {
        // 2b. plugins' onRequest hooks (rate limits): before the guard; a value short-circuits.
        if (route.plugins.onRequest.length !== 0) reply = await runBeforeHooks(ctx, route.plugins.onRequest);
        if (reply === undefined) {
          // 3. guard: the session first (the CSRF token lives in it), then CSRF for unsafe methods.
          const loading = security.loadSession(ctx);
          if (loading !== undefined) await loading;
          const guarding = security.guard(ctx, route.options.csrf);
          if (guarding !== undefined) await guarding;
          // 4. before hooks (app, then blueprint), then 4b. plugins' beforeHandler hooks (schemas).
          if (route.before.length !== 0) reply = await runBeforeHooks(ctx, route.before);
          if (reply === undefined && route.plugins.beforeHandler.length !== 0) reply = await runBeforeHooks(ctx, route.plugins.beforeHandler);
        }
        // 5. handler, raced against the deadline and the client.
        if (reply === undefined) {
          reply = route.handler !== undefined ? route.handler(ctx) : runInWorker(ctx, route);
          if (reply instanceof Promise) reply = await raceAbort(ctx, reply);
        }
      } else {
        reply = await raceAbort(ctx, pending);
      }
      if (res.headersSent) {
        // A handler that wrote to the raw response itself: nothing left to send.
      } else if (writesPlain(ctx, route, res, reply)) {
        // A string or plain object with nothing to add: written from the prebuilt head, as in begin().
      } else {
        response = reply instanceof VialResponse ? reply : toResponse(reply ?? null);
        // 6. after hooks, then 6a. plugins' onResponse hooks, may change or replace the response.
        if (route.after.length + route.plugins.onResponse.length !== 0) response = await runAfterHooks(ctx, route, response);
      }
    } catch (error) {
      failure = error;
      response = await renderError(error, ctx, route.errorScopes);
      // As Flask's after_request: error responses pass through the after hooks too. One that
      // fails here is logged and the error response goes out as it was.
      try {
        response = await runAfterHooks(ctx, route, response);
      } catch (hookError) {
        ctx.log.error({ err: hookError, original: failure }, 'vial: an after hook failed on an error response');
      }
    }
    try {
      if (response !== undefined && !res.headersSent) {
        // 6b. session save (a new id and cookie after login/logout), then write.
        const committing = security.commit(ctx, response);
        if (committing !== undefined) await committing;
        const sending = send(ctx, res, response);
        if (sending !== undefined) await sending;
      }
    } catch (error) {
      failure ??= error;
      try {
        if (!res.headersSent) await send(ctx, res, await renderError(error, ctx, route.errorScopes));
        else res.destroy();
      } catch (sendError) {
        log.error({ err: sendError, reqId: ctx.id }, 'vial: failed to send a response');
        res.destroy();
      }
    }
    // 7. teardown always runs, newest first, and one failing never skips the rest.
    for (let i = 0; i < route.teardown.length; i++) {
      try {
        await (route.teardown[i] as (typeof route.teardown)[number])(ctx, failure);
      } catch (error) {
        ctx.log.error({ err: error }, 'vial: a teardown hook failed');
      }
    }
    for (let i = 0; i < route.plugins.teardown.length; i++) {
      try {
        await (route.plugins.teardown[i] as (typeof route.plugins.teardown)[number])(ctx, failure);
      } catch (error) {
        ctx.log.error({ err: error }, 'vial: a plugin teardown hook failed');
      }
    }
    // 7b. the slot goes back however the request ended.
    res.off('close', onClose);
    deadlines.untrack(deadline);
    admission.leave(gate);
    publish(ctx, res, route, startedAt, failure);
  }

  /** A route with `worker:` runs in the offload pool on a snapshot of the request. */
  async function runInWorker(ctx: Context, route: RouteRecord): Promise<VialResponse> {
    const request = ctx.request;
    const hasBody = request.raw.headers['content-length'] !== undefined || request.raw.headers['transfer-encoding'] !== undefined;
    const body = hasBody ? new Uint8Array(await request.bytes()) : undefined;
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(request.headers)) if (value !== undefined && name !== 'cookie') headers[name] = value;
    const result = await runOffloadedHandler(
      offload,
      route.options.worker as string | URL,
      {
        method: request.method,
        path: request.path,
        params: Object.fromEntries(Object.entries(request.params).map(([k, v]) => [k, String(v)])),
        query: [...request.query],
        headers,
        ...(body === undefined ? {} : { body }),
      },
      ctx.signal,
    );
    return new VialResponse(result.body, result.status, { ...result.headers });
  }

  /** 400 for a hostile target, a plugin's answer (CORS preflights), 405 with Allow, automatic OPTIONS, or 404. */
  async function finishUnmatched(ctx: Context, res: ServerResponse, early: VialError | undefined, method: string, path: string): Promise<void> {
    let error: VialError | undefined = early;
    if (error === undefined && plugins.unmatchedHooks.length !== 0) {
      try {
        const allowed = router.routesAt(path).map((record) => record.view);
        for (const hook of plugins.unmatchedHooks) {
          const reply = await hook(ctx, { allowed });
          if (reply !== undefined) {
            await send(ctx, res, reply instanceof VialResponse ? reply : toResponse(reply));
            return;
          }
        }
      } catch (hookError) {
        await send(ctx, res, await renderError(hookError, ctx, NO_ROUTE_SCOPES));
        return;
      }
    }
    if (error === undefined) {
      const allowed = router.allowedMethods(path);
      if (allowed.length === 0) error = new HttpError(404, 'No route matches this URL.');
      else {
        const allow = [...new Set([...allowed, 'OPTIONS'])].join(', ');
        if (method === 'OPTIONS') {
          await send(ctx, res, new VialResponse(null, 204, { allow }));
          return;
        }
        error = new HttpError(405, `This URL does not accept ${method}.`, { headers: { allow } });
      }
    }
    await send(ctx, res, await renderError(error, ctx, NO_ROUTE_SCOPES));
  }

  function send(ctx: Context, res: ServerResponse, response: VialResponse): Promise<void> | undefined {
    // One flat list for writeHead (Node's fastest form): the response's own headers, then
    // ctx.header() ones, then the security headers and the request id unless either set them.
    const own = response.headers;
    const extra = ctx.responseHeaders;
    const head: ResponseHead = [];
    for (const name in own) if (extra === undefined || extra[name] === undefined) head.push(name, own[name] as string | string[]);
    if (extra !== undefined) for (const name in extra) head.push(name, extra[name] as string);
    const security = isNonDocumentType(extra?.['content-type'] ?? own['content-type']) ? dataHeaders : baseHeaders;
    for (let i = 0; i < security.length; i++) {
      const [name, value] = security[i] as readonly [string, string];
      if (own[name] === undefined && (extra === undefined || extra[name] === undefined)) head.push(name, value);
    }
    // The id a user quotes in a bug report: on errors by default (log.requestIdHeader).
    if ((response.status >= 400 ? idHeader !== 'never' : idHeader === 'always') && own['x-request-id'] === undefined && (extra === undefined || extra['x-request-id'] === undefined)) {
      head.push('x-request-id', ctx.id);
    }
    return writeResponse(res, response, head, ctx.request.method === 'HEAD', ctx.aborted ? ctx.signal : undefined);
  }

  /**
   * Finds an error handler (by class, innermost scope first, then by status) or renders the
   * default body. Unexpected errors become a generic 500 with the request id; their message and
   * stack go to the log, never to the client.
   */
  async function renderError(error: unknown, ctx: Context, scopes: readonly ErrorScope[]): Promise<VialResponse> {
    const status = error instanceof VialError ? error.status : 500;
    const all = scopes.length === 0 ? appScopes : scopes;
    let handler = findByClass(error, all);
    if (handler === undefined) for (const scope of all) if ((handler = scope.byStatus.get(status)) !== undefined) break;
    if (handler !== undefined) {
      try {
        const reply: Reply = await handler(error, ctx);
        const response = toResponse(reply);
        if (!(reply instanceof VialResponse) && response.status === 200) response.status = status;
        if (error instanceof VialError) for (const [k, v] of Object.entries(error.headers)) response.headers[k.toLowerCase()] ??= v;
        return response;
      } catch (handlerError) {
        ctx.log.error({ err: handlerError, original: error }, 'vial: an error handler failed');
        return defaultErrorResponse(handlerError, ctx);
      }
    }
    return defaultErrorResponse(error, ctx);
  }

  function defaultErrorResponse(error: unknown, ctx: Context): VialResponse {
    const known = error instanceof VialError;
    const status = known ? error.status : 500;
    const expose = known && error.expose;
    if (!expose && !(error instanceof ClientGoneError)) {
      ctx.log.error({ err: error, reqId: ctx.id, route: ctx.route?.key }, 'vial: unhandled error');
    }
    const code = expose ? error.code : status >= 500 ? 'VIAL_ERR_INTERNAL' : `VIAL_ERR_HTTP_${status}`;
    const message = expose ? error.message : statusText(status);
    const headers: HeaderMap = {};
    if (known) for (const [k, v] of Object.entries(error.headers)) headers[k.toLowerCase()] = v;
    if (prefersHtml(ctx.request.header('accept'))) {
      headers['content-type'] = 'text/html; charset=utf-8';
      const title = `${status} ${escapeHtml(statusText(status))}`;
      const body =
        `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head>` +
        `<body><h1>${title}</h1><p>${escapeHtml(message)}</p><p><small>Request id: ${escapeHtml(ctx.id)}</small></p></body></html>`;
      return new VialResponse(body, status, headers);
    }
    headers['content-type'] = 'application/json; charset=utf-8';
    return new VialResponse(JSON.stringify({ error: { status, code, message, requestId: ctx.id } }), status, headers);
  }
}

/** Runs before-style hooks in order; the first that returns a value short-circuits with it. */
async function runBeforeHooks(ctx: Context, hooks: readonly BeforeHook[]): Promise<unknown> {
  for (let i = 0; i < hooks.length; i++) {
    const reply: unknown = await raceAbort(ctx, (hooks[i] as BeforeHook)(ctx));
    if (reply !== undefined) return reply;
  }
  return undefined;
}

/** The route's after hooks, then the plugins' onResponse hooks; each may replace the response. */
async function runAfterHooks(ctx: Context, route: RouteRecord, response: VialResponse): Promise<VialResponse> {
  for (const list of [route.after, route.plugins.onResponse]) {
    for (let i = 0; i < list.length; i++) {
      const replaced = await (list[i] as AfterHook)(ctx, response);
      if (replaced instanceof VialResponse) response = replaced;
    }
  }
  return response;
}

/**
 * For errors kept for the life of the process: an unformatted V8 stack holds the receivers of its
 * frames, so an error created while dispatching would keep that request's objects alive for good
 * (test/app-memory.test.ts caught it). Its stack says nothing useful anyway.
 */
function stackless<T>(make: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** Deadline expiry: abort the signal; the racing handler await then answers 504 (408 mid-body). Must not throw. */
function expire(ctx: Context): void {
  // A deadline that passes while the body is still arriving is the client's slowness: 408, not 504.
  ctx.abort(ctx.request.readingBody ? new BodyTimeoutError() : new DeadlineError(ctx.deadlineAt));
}

/**
 * Settles with the value, or rejects as soon as ctx aborts (deadline or disconnect), so a handler
 * that ignores its signal cannot hold the response. Only allocates for real promises, and uses the
 * context's own abort hook rather than an AbortSignal listener.
 */
function raceAbort<T>(ctx: Context, value: T | Promise<T>): T | Promise<T> {
  if (!(value instanceof Promise)) return value;
  if (ctx.aborted) {
    countLate(ctx, value);
    return Promise.reject(ctx.abortReason);
  }
  return new Promise<T>((resolve, reject) => {
    ctx.onAbort = (reason) => {
      countLate(ctx, value);
      reject(reason);
    };
    value.then(
      (result) => {
        ctx.onAbort = undefined;
        resolve(result);
      },
      (error: unknown) => {
        ctx.onAbort = undefined;
        reject(error);
      },
    );
  });
}

/** Handlers still running after their deadline are counted (they hold memory and downstream slots). */
export const lateHandlers = { running: 0, finished: 0 };
function countLate(ctx: Context, pending: Promise<unknown>): void {
  if (!(ctx.abortReason instanceof DeadlineError)) return;
  lateHandlers.running++;
  const done = (): void => {
    lateHandlers.running--;
    lateHandlers.finished++;
  };
  pending.then(done, done);
}

function findByClass(error: unknown, scopes: readonly ErrorScope[]): ((e: unknown, ctx: Context) => Reply | Promise<Reply>) | undefined {
  if (!(error instanceof Error)) return undefined;
  for (const scope of scopes) {
    if (scope.byClass.size === 0) continue;
    for (let proto = Object.getPrototypeOf(error) as object | null; proto !== null && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
      const handler = scope.byClass.get((proto as { constructor: new () => Error }).constructor);
      if (handler !== undefined) return handler;
    }
  }
  return undefined;
}

/** HTML only when the client asks for it before JSON (browsers do); JSON for APIs and curl. */
function prefersHtml(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  const html = accept.indexOf('text/html');
  if (html === -1) return false;
  const jsonAt = accept.indexOf('application/json');
  return jsonAt === -1 || html < jsonAt;
}
