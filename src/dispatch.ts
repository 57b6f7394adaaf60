/**
 * The request lifecycle, top to bottom:
 *
 *   0. target   parse the request target; hostile paths and hosts get 400 here
 *   1. admit    (see load/) capacity check before any body is read or context built; 503 + Retry-After
 *   2. context  ctx with id, deadline and signal; enter the AsyncLocalStorage scope
 *   3. guard    CSRF for unsafe methods, session load (see security/)
 *   4. before   app hooks, then blueprint hooks; a returned value short-circuits
 *   5. handler  raced against the deadline; disconnect or deadline aborts ctx.signal
 *   6. after    after hooks, then session save and security headers; write the response
 *   7. teardown always runs; the admission slot is released; diagnostics published
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { CoreConfig } from './config.ts';
import { Context, runInContext } from './context.ts';
import type { ContextServices } from './context.ts';
import { BadRequestError, HttpError, VialError, statusText } from './errors.ts';
import { escapeHtml } from './html.ts';
import { VialRequest } from './request.ts';
import { toResponse, VialResponse, writeResponse } from './response.ts';
import type { HeaderMap } from './response.ts';
import type { RouteRecord, RouteTable, ErrorScope } from './route-table.ts';
import type { Reply } from './scaffold.ts';

export interface Dispatcher {
  (req: IncomingMessage, res: ServerResponse): void;
}

export interface DispatchDeps {
  readonly config: CoreConfig;
  readonly table: RouteTable;
  readonly log: Logger;
  readonly services: ContextServices;
  /** Headers every response carries (security headers), precomputed once. */
  readonly baseHeaders: Readonly<HeaderMap>;
}

const NO_ROUTE_SCOPES: readonly ErrorScope[] = [];

export function createDispatcher(deps: DispatchDeps): Dispatcher {
  const { config, table, log, services, baseHeaders } = deps;
  const router = table.router;
  const appScopes = [table.appErrorScope];

  return function dispatch(req: IncomingMessage, res: ServerResponse): void {
    // 0. target: origin-form is the norm; anything else is checked before routing.
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    let path = q === -1 ? target : target.slice(0, q);
    const search = q === -1 ? '' : target.slice(q + 1);
    const method = req.method ?? 'GET';
    let early: VialError | undefined;
    if (path.charCodeAt(0) !== 47 /* / */) {
      const checked = checkNonOriginTarget(path, req);
      if (typeof checked === 'string') path = checked;
      else early = checked;
    }
    if (early === undefined) early = checkPath(path) ?? checkHost(req);
    const match = early === undefined ? router.find(method, path) : undefined;
    const route = match?.route;

    // 1. admit: (load protection plugs in here; refusal answers 503 before the body is read)

    // 2. context
    const request = new VialRequest(req, path, search, config.body);
    const ctx = new Context(request, services);
    if (match !== undefined) {
      request.params = match.params;
      ctx.route = match.route.info;
      if (match.route.options.maxBodyBytes !== undefined) request.maxBodyBytes = match.route.options.maxBodyBytes;
    }
    const onClose = (): void => {
      if (!res.writableFinished) ctx.abort(new ClientGoneError());
    };
    res.once('close', onClose);
    runInContext(ctx, () => {
      const done = route === undefined ? finishUnmatched(ctx, res, early, method, path) : run(ctx, route, res);
      done.catch((error: unknown) => {
        // Only reached if writing the error response itself failed; the socket is all that is left.
        log.error({ err: error, reqId: ctx.id }, 'vial: failed to send a response');
        res.destroy();
      });
    });
  };

  async function run(ctx: Context, route: RouteRecord, res: ServerResponse): Promise<void> {
    let response: VialResponse;
    let failure: unknown;
    try {
      // 3. guard: (CSRF and session load plug in here)

      // 4. before hooks; the first that returns a value short-circuits.
      let reply: unknown;
      for (let i = 0; i < route.before.length && reply === undefined; i++) {
        const hook = route.before[i] as (typeof route.before)[number];
        reply = await hook(ctx);
      }
      // 5. handler
      if (reply === undefined) {
        const handler = route.handler;
        if (handler === undefined) throw new HttpError(501, 'This route has no in-process handler.');
        reply = handler(ctx);
        if (reply instanceof Promise) reply = await reply;
        if (reply === undefined) reply = null;
      }
      response = reply instanceof VialResponse ? reply : toResponse(reply);
      // 6. after hooks may change or replace the response.
      for (let i = 0; i < route.after.length; i++) {
        const hook = route.after[i] as (typeof route.after)[number];
        const replaced = await hook(ctx, response);
        if (replaced instanceof VialResponse) response = replaced;
      }
    } catch (error) {
      failure = error;
      response = await renderError(error, ctx, route.errorScopes);
    }
    try {
      const sending = send(ctx, res, response);
      if (sending !== undefined) await sending;
    } catch (error) {
      failure ??= error;
      if (!res.headersSent) await send(ctx, res, await renderError(error, ctx, route.errorScopes));
      else res.destroy();
    } finally {
      // 7. teardown always runs, newest first, and one failing never skips the rest.
      for (let i = 0; i < route.teardown.length; i++) {
        const hook = route.teardown[i] as (typeof route.teardown)[number];
        try {
          await hook(ctx, failure);
        } catch (error) {
          ctx.log.error({ err: error }, 'vial: a teardown hook failed');
        }
      }
    }
  }

  /** 400 for a hostile target, 405 with Allow, automatic OPTIONS, or 404. */
  async function finishUnmatched(ctx: Context, res: ServerResponse, early: VialError | undefined, method: string, path: string): Promise<void> {
    let error: VialError | undefined = early;
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
    // 6b. session save and security headers (security/ plugs the session cookie in here).
    const headers = response.headers;
    for (const name in baseHeaders) if (headers[name] === undefined) headers[name] = baseHeaders[name] as string;
    for (const name in ctx.responseHeaders) headers[name] = ctx.responseHeaders[name] as string;
    headers['x-request-id'] ??= ctx.id;
    return writeResponse(res, response, ctx.request.method === 'HEAD', ctx.aborted ? ctx.signal : undefined);
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
    const headers: HeaderMap = known ? { ...error.headers } : {};
    if (prefersHtml(ctx.request.header('accept'))) {
      headers['content-type'] = 'text/html; charset=utf-8';
      const body =
        `<!doctype html><html><head><meta charset="utf-8"><title>${status} ${escapeHtml(statusText(status))}</title></head>` +
        `<body><h1>${status} ${escapeHtml(statusText(status))}</h1><p>${escapeHtml(message)}</p>` +
        `<p><small>Request id: ${escapeHtml(ctx.id)}</small></p></body></html>`;
      return new VialResponse(body, status, headers);
    }
    headers['content-type'] = 'application/json; charset=utf-8';
    return new VialResponse(JSON.stringify({ error: { status, code, message, requestId: ctx.id } }), status, headers);
  }
}

function findByClass(error: unknown, scopes: readonly ErrorScope[]): ((e: unknown, ctx: Context) => Reply | Promise<Reply>) | undefined {
  if (!(error instanceof Error)) return undefined;
  for (const scope of scopes) {
    if (scope.byClass.size === 0) continue;
    for (let proto: object | null = Object.getPrototypeOf(error) as object | null; proto !== null && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
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

/** The client went away before the response was finished. */
export class ClientGoneError extends VialError {
  constructor() {
    super('VIAL_ERR_CLIENT_GONE', 'The client closed the connection before the response was sent.', { status: 499, expose: false });
  }
}

const SUSPICIOUS_PATH = /[%\\]|\/\.\.?(?:\/|$)/;
const BAD_DECODED = /\\|\0|(?:^|\/)\.\.?(?:\/|$)/;

/**
 * Refuses paths that only make sense as an attack: dot segments, backslashes, NUL, encoded
 * slashes, invalid or overlong percent-encoded UTF-8 (decodeURIComponent throws on overlong forms).
 * Cheap on the common path: the regex only runs the decode when a '%', '\\' or dot segment is there.
 */
function checkPath(path: string): VialError | undefined {
  if (!SUSPICIOUS_PATH.test(path)) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return new BadRequestError('VIAL_ERR_BAD_PATH', 'The URL path has invalid percent-encoding.');
  }
  if (BAD_DECODED.test(decoded) || /%2f|%5c/i.test(path)) {
    return new BadRequestError('VIAL_ERR_BAD_PATH', 'The URL path contains dot segments, backslashes, NUL or encoded slashes.');
  }
  return undefined;
}

/** Two Host headers are a request-smuggling and cache-poisoning tool (RFC 9112 §3.2: respond 400). */
function checkHost(req: IncomingMessage): VialError | undefined {
  const raw = req.rawHeaders;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 4 && name.toLowerCase() === 'host' && ++hosts > 1) {
      return new BadRequestError('VIAL_ERR_BAD_HOST', 'The request has more than one Host header.');
    }
  }
  if (hosts === 0 && req.httpVersionMinor === 1) {
    return new BadRequestError('VIAL_ERR_BAD_HOST', 'HTTP/1.1 requests need a Host header.');
  }
  return undefined;
}

/**
 * Absolute-form targets (`GET http://host/path`) are accepted only for this request's own Host;
 * anything else (`*`, authority-form, another host) gets 400 so routing never depends on a host
 * the Host header did not name.
 */
function checkNonOriginTarget(target: string, req: IncomingMessage): string | VialError {
  if (req.method === 'OPTIONS' && target === '*') return new HttpError(404, 'No route matches this URL.');
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return new BadRequestError('VIAL_ERR_BAD_TARGET', 'The request target is not a valid path or URL.');
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.host !== req.headers.host) {
    return new BadRequestError('VIAL_ERR_BAD_TARGET', 'The request target names another host.');
  }
  return url.pathname;
}
