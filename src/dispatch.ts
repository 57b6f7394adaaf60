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
 * without a single extra promise: each step awaits only what really is a promise. Both paths end in
 * the same `release`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { CoreConfig } from './config.ts';
import { Context, runInContext } from './context.ts';
import type { ContextServices } from './context.ts';
import { defaultErrorResponse, renderError, unmatchedResponse } from './dispatch-errors.ts';
import { errorResponse, expire, hooksThenHandler, raceAbort, runAfterHooks, runBeforeHooks, teardown } from './dispatch-hooks.ts';
import { BadRequestError, ClientGoneError } from './errors.ts';
import { RefusalCache } from './error-response.ts';
import type { VialError } from './errors.ts';
import { ADMITTED } from './load/admission.ts';
import type { Admission, Refusal, RouteGate } from './load/admission.ts';
import type { DeadlineHandle, DeadlineTracker } from './load/deadline.ts';
import { runOffloadedHandler, snapshotRequest } from './load/offload-handler.ts';
import type { OffloadPool } from './load/offload.ts';
import { hasTooManyHeaders } from './load/server-limits.ts';
import { recordRoute } from './memory/route-activity.ts';
import type { PluginHost } from './plugin-host.ts';
import { keepsFastPath } from './plugin-host.ts';
import { requestChannel } from './request-events.ts';
import { VialRequest } from './request.ts';
import { buildPlainHeads, toResponse, VialResponse, writePlainReply, writeResponse } from './response.ts';
import type { HeaderList as ResponseHead } from './response.ts';
import type { ErrorScope, RouteRecord, RouteTable } from './route-table.ts';
import type { Router } from './router.ts';
import type { Handler } from './scaffold.ts';
import type { HeaderList } from './security/headers.ts';
import { isNonDocumentType } from './internal/media-type.ts';
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
    // 2. context: the AsyncLocalStorage scope opens before any body is read.
    runInContext(ctx, begin, s, ctx, route, gate, res, startedAt);
  } else if (entry instanceof Promise) {
    const withdraw = (): void => s.admission.withdraw(entry);
    res.once('close', withdraw);
    entry.then(
      (result) => {
        res.off('close', withdraw);
        if (result === ADMITTED) runInContext(ctx, begin, s, ctx, route, gate, res, startedAt);
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
 * Inside the request's context. The fast path covers a route with no after hooks, a safe method and
 * no cookie (so steps 2b, 3 and 6 have nothing to do) whose before hooks and handler answer
 * synchronously: it runs start to end with no promise, timer or listener. Anything else continues
 * in `run`, handing over the reply (or the failure) the fast path already has.
 */
function begin(s: DispatchState, ctx: Context, route: RouteRecord, gate: RouteGate, res: ServerResponse, startedAt: number): void {
  if (!s.plainRoutes.has(route) || ctx.request.raw.headers.cookie !== undefined || !SAFE_METHODS.has(ctx.request.method)) {
    void run(s, ctx, route, gate, res, startedAt, undefined);
    return;
  }
  let reply: unknown;
  try {
    reply = route.before.length === 0 ? (route.handler as Handler)(ctx) : hooksThenHandler(ctx, route.before, route.handler as Handler);
  } catch (error) {
    void run(s, ctx, route, gate, res, startedAt, Promise.reject(error));
    return;
  }
  if (reply instanceof Promise) {
    void run(s, ctx, route, gate, res, startedAt, reply);
    return;
  }
  // A string or a plain object, written straight from a prebuilt head: the commonest case.
  let response: VialResponse | true;
  try {
    response = writesPlain(s, ctx, route, res, reply);
  } catch (error) {
    void run(s, ctx, route, gate, res, startedAt, Promise.reject(error));
    return;
  }
  if (response === true) {
    release(s, ctx, route, gate, res, startedAt, undefined, undefined);
    return;
  }
  // A handler that touched the session needs step 6b (save it, set the cookie), and a reply too
  // large for the fast path goes to the plugins' onResponse hooks (6a): not fast.
  if (ctx.sessionState !== undefined || route.plugins.onResponse.length !== 0) {
    void run(s, ctx, route, gate, res, startedAt, Promise.resolve(response));
    return;
  }
  let sending: Promise<void> | undefined;
  try {
    sending = send(s, ctx, res, response);
  } catch (error) {
    // e.g. a header value with CR/LF from a VialResponse: never escapes the request.
    void run(s, ctx, route, gate, res, startedAt, Promise.reject(error));
    return;
  }
  if (sending === undefined) release(s, ctx, route, gate, res, startedAt, undefined, undefined);
  else void run(s, ctx, route, gate, res, startedAt, sending.then(() => response));
}

/**
 * Writes a string or plain-object reply from the prebuilt head when nothing else has a say (no after
 * hooks, session, ctx.header(), and a body below the plugins' onResponseMinBytes): true. Otherwise
 * the reply as a VialResponse (serialized once); toResponse throws for a reply it cannot send, and
 * a JSON.stringify throw is met again there, as a 500.
 */
function writesPlain(s: DispatchState, ctx: Context, route: RouteRecord, res: ServerResponse, reply: unknown): VialResponse | true {
  const below = route.plugins.plainBelowBytes;
  if (route.after.length === 0 && ctx.sessionState === undefined && ctx.responseHeaders === undefined && below !== 0) {
    try {
      const written = writePlainReply(res, reply, s.plainHeads, s.idHeader === 'always' ? ctx.id : undefined, ctx.request.method === 'HEAD', below);
      if (written !== false) return written;
    } catch {
      // a BigInt or a cycle: toResponse meets it again below
    }
  }
  return reply instanceof VialResponse ? reply : toResponse(reply ?? null);
}

/**
 * Steps 2b to 6 for everything the fast path does not cover; `pending` is the reply of a handler
 * the fast path already called. Never rejects: every failure becomes a response or a closed socket.
 */
async function run(s: DispatchState, ctx: Context, route: RouteRecord, gate: RouteGate, res: ServerResponse, startedAt: number, pending: Promise<unknown> | undefined): Promise<void> {
  // Deadline and disconnect both abort ctx (one shared deadline timer, no setTimeout per request).
  ctx.deadlineAt = s.deadlines.deadlineIn(route.options.timeoutMs);
  const deadline = s.deadlines.track(ctx.deadlineAt, expire, ctx);
  const onClose = (): void => {
    if (!res.writableFinished) ctx.abort(new ClientGoneError());
  };
  res.once('close', onClose);
  let response: VialResponse | undefined;
  let failure: unknown;
  try {
    const reply = pending === undefined ? await hooksAndHandler(s, ctx, route) : await raceAbort(s.deadlines, ctx, pending);
    // A handler that wrote to the raw response itself leaves nothing to send; a plain reply with
    // nothing to add is written from the prebuilt head, as in begin().
    const plain = res.headersSent ? true : writesPlain(s, ctx, route, res, reply);
    if (plain !== true) {
      response = plain;
      // 6. after hooks, then 6a. plugins' onResponse hooks, may change or replace the response.
      if (route.after.length + route.plugins.onResponse.length !== 0) response = await runAfterHooks(ctx, route, response);
    }
  } catch (error) {
    failure = error;
    response = await errorResponse(ctx, route, error);
  }
  try {
    if (response !== undefined && !res.headersSent) {
      // 6b. session save (a new id and cookie after login/logout), then write.
      const committing = s.security.commit(ctx, response);
      if (committing !== undefined) await committing;
      const sending = send(s, ctx, res, response);
      if (sending !== undefined) await sending;
    }
  } catch (error) {
    failure ??= error;
    try {
      if (!res.headersSent) await send(s, ctx, res, await renderError(error, ctx, route.errorScopes));
      else res.destroy();
    } catch (sendError) {
      logSendFailure(s, ctx, res, sendError);
    }
  }
  await teardown(ctx, route, failure);
  res.off('close', onClose);
  release(s, ctx, route, gate, res, startedAt, deadline, failure);
}

/** 2b, 3, 4, 4b and 5: everything between admission and the reply. */
async function hooksAndHandler(s: DispatchState, ctx: Context, route: RouteRecord): Promise<unknown> {
  // 2b. plugins' onRequest hooks (rate limits): before the guard; a value short-circuits.
  if (route.plugins.onRequest.length !== 0) {
    const reply = await runBeforeHooks(s.deadlines, ctx, route.plugins.onRequest);
    if (reply !== undefined) return reply;
  }
  // 3. guard: the session first (the CSRF token lives in it), then CSRF for unsafe methods.
  const loading = s.security.loadSession(ctx);
  if (loading !== undefined) await loading;
  const guarding = s.security.guard(ctx, route.options.csrf);
  if (guarding !== undefined) await guarding;
  // 4. before hooks (app, then blueprint), then 4b. plugins' beforeHandler hooks (schemas).
  if (route.before.length !== 0) {
    const reply = await runBeforeHooks(s.deadlines, ctx, route.before);
    if (reply !== undefined) return reply;
  }
  if (route.plugins.beforeHandler.length !== 0) {
    const reply = await runBeforeHooks(s.deadlines, ctx, route.plugins.beforeHandler);
    if (reply !== undefined) return reply;
  }
  // 5. handler, raced against the deadline and the client.
  const reply = route.handler !== undefined ? route.handler(ctx) : runInWorker(s, ctx, route);
  return reply instanceof Promise ? raceAbort(s.deadlines, ctx, reply) : reply;
}

/** 7. The one tail of every admitted request, fast or not: the deadline and slot go back, then publish. */
function release(s: DispatchState, ctx: Context, route: RouteRecord, gate: RouteGate, res: ServerResponse, startedAt: number, deadline: DeadlineHandle | undefined, failure: unknown): void {
  if (deadline !== undefined) s.deadlines.untrack(deadline);
  s.admission.leave(gate);
  publish(ctx, res, route, startedAt, failure);
}

function publish(ctx: Context, res: ServerResponse, route: RouteRecord | undefined, startedAt: number, error: unknown): void {
  if (requestChannel.hasSubscribers) {
    requestChannel.publish({ ctx, route: route?.info.key, status: res.statusCode, durationMs: performance.now() - startedAt, error });
  }
}

/** A route with `worker:` runs in the offload pool on a snapshot of the request. */
async function runInWorker(s: DispatchState, ctx: Context, route: RouteRecord): Promise<VialResponse> {
  const result = await runOffloadedHandler(s.offload, route.options.worker as string | URL, await snapshotRequest(ctx.request), ctx.signal);
  return new VialResponse(result.body, result.status, { ...result.headers });
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

/**
 * Writes a response from one flat list for writeHead (Node's fastest form): the response's own
 * headers, then ctx.header() ones, then the plugins' headers (security headers) and the request id
 * unless either set them.
 */
function send(s: DispatchState, ctx: Context, res: ServerResponse, response: VialResponse): Promise<void> | undefined {
  const own = response.headers;
  const extra = ctx.responseHeaders;
  const head: ResponseHead = [];
  for (const name in own) if (extra === undefined || extra[name] === undefined) head.push(name, own[name] as string | string[]);
  // Every cookie goes out, the reply's and ctx.setCookie()'s (RFC 6265 §3); another ctx.header() replaces the reply's.
  if (extra !== undefined) for (const name in extra) head.push(name, name === 'set-cookie' && own[name] !== undefined ? [own[name], extra[name] as string | string[]].flat() : (extra[name] as string));
  const added = isNonDocumentType(extra?.['content-type'] ?? own['content-type']) ? s.dataHeaders : s.documentHeaders;
  for (let i = 0; i < added.length; i++) {
    const [name, value] = added[i] as readonly [string, string];
    if (own[name] === undefined && (extra === undefined || extra[name] === undefined)) head.push(name, value);
  }
  // The id a user quotes in a bug report: on errors by default (log.requestIdHeader).
  if ((response.status >= 400 ? s.idHeader !== 'never' : s.idHeader === 'always') && own['x-request-id'] === undefined && (extra === undefined || extra['x-request-id'] === undefined)) {
    head.push('x-request-id', ctx.id);
  }
  return writeResponse(res, response, head, ctx.request.method === 'HEAD', ctx.aborted ? ctx.signal : undefined);
}

function logSendFailure(s: DispatchState, ctx: Context, res: ServerResponse, error: unknown): void {
  s.log.error({ err: error, reqId: ctx.id }, 'vial: failed to send a response');
  res.destroy();
}
