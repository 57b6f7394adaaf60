/**
 * The request lifecycle, top to bottom, each step a named function over the app's DispatchState:
 *
 *   0. target   framing (Transfer-Encoding, version: 400/501/505), the request target, Host syntax
 *               and allowedHosts (security/framing.ts, target.ts, edge.ts)
 *   1. admit    in-flight limit, bounded queue, route bulkhead, event-loop pressure; refusal is
 *               503 + Retry-After before any body is read or any hook runs (load/)
 *   2. context  ctx with id, deadline and signal; enter the AsyncLocalStorage scope
 *   2b.         plugins' onRequest hooks (a value short-circuits)
 *   3. guard    session load (when the cookie is there), CSRF for unsafe methods (security/)
 *   4. before   app hooks, then blueprint hooks, then 4b. plugins' beforeHandler hooks
 *   5. handler  raced against the deadline; disconnect or deadline aborts ctx.signal
 *   6. after    after hooks, then 6a. plugins' onResponse hooks, 6b. session save; write
 *   7. release  teardown hooks always run; the admission slot goes back; `vial:request` published
 *
 * The common case (synchronous before hooks and handler, a string or JSON reply) goes through
 * without a single extra promise: each step awaits only what really is a promise. Steps 0 to 2 and
 * the fast path are here; the general path's steps 2b to 5 are in dispatch-steps.ts, its waiting,
 * 6 and 7 in dispatch-general.ts; writing and the one `release` both paths end in, in
 * dispatch-send.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { CoreConfig } from './config.ts';
import { Context, runInContext } from './context.ts';
import type { ContextServices } from './context.ts';
import { defaultErrorResponse, unmatchedResponse } from './dispatch-errors.ts';
import { run } from './dispatch-general.ts';
import { hooksThenHandler } from './dispatch-hooks.ts';
import { logSendFailure, publish, release, send, writesPlain } from './dispatch-send.ts';
import { BadRequestError } from './errors.ts';
import { RefusalCache } from './error-response.ts';
import type { VialError } from './errors.ts';
import { ADMITTED } from './load/admission.ts';
import type { Admission, Refusal, RouteGate } from './load/admission.ts';
import type { DeadlineTracker } from './load/deadline.ts';
import type { OffloadPool } from './load/offload.ts';
import { hasTooManyHeaders } from './load/server-limits.ts';
import { recordRoute } from './memory/route-activity.ts';
import type { PluginHost } from './plugin-host.ts';
import { keepsFastPath } from './plugin-host.ts';
import { requestChannel } from './request-events.ts';
import { VialRequest } from './request.ts';
import { buildPlainHeads, VialResponse } from './response.ts';
import type { ErrorScope, RouteRecord, RouteTable } from './route-table.ts';
import type { Router } from './router.ts';
import type { Handler } from './scaffold.ts';
import type { HeaderList } from './security/headers.ts';
import type { SecurityLayer } from './security/layer.ts';
import { checkHost, checkNonOriginTarget, checkPath } from './security/target.ts';
import { createEdge } from './security/edge.ts';
import type { Edge } from './security/edge.ts';
import { checkFraming } from './security/framing.ts';

export type Dispatcher = (req: IncomingMessage, res: ServerResponse) => void;

export interface DispatchDeps {
  readonly config: CoreConfig;
  readonly table: RouteTable;
  readonly log: Logger;
  readonly services: ContextServices;
  readonly admission: Admission;
  readonly deadlines: DeadlineTracker;
  readonly offload: OffloadPool;
  readonly security: SecurityLayer;
  readonly plugins: PluginHost;
  readonly maxHeadersCount: number;
  /** The route bulkhead of each record, created once at startup. */
  readonly gates: ReadonlyMap<RouteRecord, RouteGate>;
}

/** Everything the steps need, computed once per app. */
interface DispatchState extends DispatchDeps {
  readonly router: Router<RouteRecord>;
  /** Headers on every document response (vial's security headers), and the subset for JSON and event streams. */
  readonly documentHeaders: HeaderList;
  readonly dataHeaders: HeaderList;
  readonly idHeader: CoreConfig['log']['requestIdHeader'];
  readonly plainHeads: ReturnType<typeof buildPlainHeads>;
  readonly refusals: RefusalCache;
  /** Hosts this app answers for and the proxies it believes (security/edge.ts). */
  readonly edge: Edge;
  readonly appScopes: readonly ErrorScope[];
  /** Routes with no after or teardown hooks and an in-process handler: candidates for the fast path. */
  readonly plainRoutes: ReadonlySet<RouteRecord>;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

export function createDispatcher(deps: DispatchDeps): Dispatcher {
  const { document, data } = deps.plugins.responseHeaders();
  const plainHeads = buildPlainHeads(document, data);
  const state: DispatchState = {
    ...deps,
    router: deps.table.router,
    documentHeaders: document,
    dataHeaders: data,
    idHeader: deps.config.log.requestIdHeader,
    plainHeads,
    refusals: new RefusalCache(plainHeads),
    edge: createEdge({ allowedHosts: deps.config.allowedHosts, trustProxy: deps.config.trustProxy }),
    appScopes: [deps.table.appErrorScope],
    // A plugin that touches a route takes it off the fast path, except one that only acts on
    // large bodies (compression, ETags): small plain replies still take it. The others cost nothing.
    plainRoutes: new Set(deps.table.records.filter((r) => r.after.length === 0 && r.teardown.length === 0 && r.handler !== undefined && keepsFastPath(r.plugins))),
  };
  return (req, res) => receive(state, req, res);
}

/** 0. target, then routing, then 1. admit. */
function receive(s: DispatchState, req: IncomingMessage, res: ServerResponse): void {
  // Only subscribers (metrics, request logs) need a duration; skip the clock read otherwise.
  const startedAt = requestChannel.hasSubscribers ? performance.now() : 0;
  const target = req.url ?? '/';
  const q = target.indexOf('?');
  let path = q === -1 ? target : target.slice(0, q);
  const search = q === -1 ? '' : target.slice(q + 1);
  const method = req.method ?? 'GET';
  // 0a. framing: Transfer-Encoding and version, before anything else runs. Origin-form is the
  // norm; anything else is checked before routing.
  let early: VialError | undefined = checkFraming(req);
  if (early === undefined && path.charCodeAt(0) !== 47 /* / */) {
    const checked = checkNonOriginTarget(path, req);
    if (typeof checked === 'string') path = checked;
    else early = checked;
  }
  // 0b. hosts: Host syntax and allowedHosts, through trusted proxies.
  early ??= checkPath(path) ?? checkHost(req) ?? s.edge.check(req);
  if (early === undefined && hasTooManyHeaders(req, s.maxHeadersCount)) {
    early = new BadRequestError('VIAL_ERR_TOO_MANY_HEADERS', `The request has more than ${s.maxHeadersCount} headers.`, 431, { connection: 'close' });
  }
  const match = early === undefined ? s.router.find(method, path) : undefined;
  const request = new VialRequest(req, path, search, s.config.body, s.edge);
  const ctx = new Context(request, s.services);
  if (match === undefined) {
    runInContext(ctx, unmatched, s, ctx, res, early, startedAt);
    return;
  }
  const route = match.route;
  request.params = match.params;
  ctx.route = route.info;
  if (route.options.maxBodyBytes !== undefined) request.maxBodyBytes = route.options.maxBodyBytes;
  recordRoute(route.info.key);
  admit(s, ctx, route, res, startedAt);
}

/** 1. admit: synchronous when there is room; queued requests wait here, before any body is read. */
function admit(s: DispatchState, ctx: Context, route: RouteRecord, res: ServerResponse, startedAt: number): void {
  const gate = s.gates.get(route) as RouteGate;
  const entry = s.admission.tryEnter(gate);
  if (entry === ADMITTED) {
    begin(s, ctx, route, gate, res, startedAt);
  } else if (entry instanceof Promise) {
    const withdraw = (): void => s.admission.withdraw(entry);
    res.once('close', withdraw);
    entry.then(
      (result) => {
        res.off('close', withdraw);
        if (result === ADMITTED) begin(s, ctx, route, gate, res, startedAt);
        else if (result.reason !== 'aborted') refuse(s, ctx, res, result, startedAt);
      },
      (error: unknown) => {
        s.log.error({ err: error, reqId: ctx.id }, 'vial: admission queue failed');
        refuse(s, ctx, res, { reason: 'queue-full', retryAfterSec: 1 }, startedAt);
      },
    );
  } else {
    refuse(s, ctx, res, entry, startedAt);
  }
}

/** 503 + Retry-After from parts built once per reason (error-response.ts); no hook runs: it never reached the app. */
function refuse(s: DispatchState, ctx: Context, res: ServerResponse, refusal: Refusal, startedAt: number): void {
  const parts = s.refusals.get(refusal);
  const id = ctx.id;
  const { body, head } = s.refusals.render(parts, id, ctx.request.raw.headers.accept);
  if (s.idHeader !== 'never') head.push('x-request-id', id);
  head.push('content-length', String(Buffer.byteLength(body)));
  try {
    res.writeHead(503, head);
    if (ctx.request.method === 'HEAD') res.end();
    else res.end(body);
  } catch (error) {
    logSendFailure(s, ctx, res, error);
    return;
  }
  publish(ctx, res, undefined, startedAt, parts.error);
}

/**
 * 2. context: the AsyncLocalStorage scope opens before any body is read. The fast path covers a
 * route with no after hooks, a safe method and no cookie (so steps 2b, 3 and 6 have nothing to do)
 * whose before hooks and handler answer synchronously: it runs start to end with no promise, timer
 * or listener. Anything else continues in `run`, inside the scope, handing over the reply (or the
 * failure) the fast path already has.
 *
 * The fast path enters the scope for the hooks and handler only and writes outside it: a write
 * made inside makes Node's own follow-ups of it (the write's completion, the keep-alive timer set
 * when the response finishes) capture this request's context, so every keep-alive connection kept
 * its last request's ctx, request and `g` alive until its next one. That was ~1.3 KB per connection
 * copied by every scavenge (134 KB at 100 connections against Fastify's 6 KB), enough for V8 to
 * double its young generation under load (issue 16: RSS under load and in the soak).
 */
function begin(s: DispatchState, ctx: Context, route: RouteRecord, gate: RouteGate, res: ServerResponse, startedAt: number): void {
  if (!s.plainRoutes.has(route) || ctx.request.raw.headers.cookie !== undefined || !SAFE_METHODS.has(ctx.request.method)) {
    general(s, ctx, route, gate, res, startedAt, undefined);
    return;
  }
  let reply: unknown;
  try {
    reply = runInContext(ctx, callFast, ctx, route);
  } catch (error) {
    general(s, ctx, route, gate, res, startedAt, Promise.reject(error));
    return;
  }
  if (reply instanceof Promise) {
    general(s, ctx, route, gate, res, startedAt, reply);
    return;
  }
  // A string or a plain object, written straight from a prebuilt head: the commonest case.
  let response: VialResponse | true;
  try {
    response = writesPlain(s, ctx, route, res, reply);
  } catch (error) {
    general(s, ctx, route, gate, res, startedAt, Promise.reject(error));
    return;
  }
  if (response === true) {
    release(s, ctx, route, gate, res, startedAt, undefined, undefined);
    return;
  }
  // A handler that touched the session needs step 6b (save it, set the cookie), a reply too large
  // for the fast path goes to the plugins' onResponse hooks (6a), and a streamed body is read in
  // the request's scope (its iterator is the user's code): not fast.
  const body = response.body;
  if (ctx.sessionState !== undefined || route.plugins.onResponse.length !== 0 || !(body === null || typeof body === 'string' || body instanceof Uint8Array)) {
    general(s, ctx, route, gate, res, startedAt, Promise.resolve(response));
    return;
  }
  let sending: Promise<void> | undefined;
  try {
    sending = send(s, ctx, res, response);
  } catch (error) {
    // e.g. a header value with CR/LF from a VialResponse: never escapes the request.
    general(s, ctx, route, gate, res, startedAt, Promise.reject(error));
    return;
  }
  if (sending === undefined) release(s, ctx, route, gate, res, startedAt, undefined, undefined);
  else general(s, ctx, route, gate, res, startedAt, sending.then(() => response));
}

/** The fast path's hooks and handler, inside the request's scope. */
function callFast(ctx: Context, route: RouteRecord): unknown {
  return route.before.length === 0 ? (route.handler as Handler)(ctx) : hooksThenHandler(ctx, route.before, route.handler as Handler);
}

/** Steps 2b to 7 of the general path (dispatch-general.ts), all inside the request's scope. */
function general(s: DispatchState, ctx: Context, route: RouteRecord, gate: RouteGate, res: ServerResponse, startedAt: number, pending: Promise<unknown> | undefined): void {
  runInContext(ctx, run, s, ctx, route, gate, res, startedAt, pending);
}

/** 400 for a hostile target, a plugin's answer (CORS preflights), 405 with Allow, automatic OPTIONS, or 404. */
function unmatched(s: DispatchState, ctx: Context, res: ServerResponse, early: VialError | undefined, startedAt: number): void {
  unmatchedResponse(ctx, early, s.router, s.plugins.unmatchedHooks, s.appScopes)
    .then(
      (response) => send(s, ctx, res, response),
      (error: unknown) => send(s, ctx, res, defaultErrorResponse(error, ctx)),
    )
    .then(
      () => publish(ctx, res, undefined, startedAt, undefined),
      (error: unknown) => logSendFailure(s, ctx, res, error),
    );
}
