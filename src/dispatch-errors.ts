/**
 * Turning failures into responses, for dispatch.ts: the app's error handlers by class and status,
 * the default error response and the answer to unmatched requests. The shapes themselves, refusals
 * included, live in error-response.ts.
 */
import type { Context } from './context.ts';
import { HttpError, VialError } from './errors.ts';
import type { UnmatchedHook } from './plugin.ts';
import type { Router } from './router.ts';
import { errorBody, isUnexpected, prefersHtml, publicFields } from './error-response.ts';
import { toResponse, VialResponse } from './response.ts';
import type { HeaderMap } from './response.ts';
import type { ErrorScope, RouteRecord } from './route-table.ts';
import type { Reply } from './scaffold.ts';

type ErrorHandler = (error: unknown, ctx: Context) => Reply | Promise<Reply>;

/**
 * Finds an error handler (by class, innermost scope first, then by status) or renders the default
 * body. Unexpected errors become a generic 500 with the request id; their message and stack go to
 * the log, never to the client.
 */
export async function renderError(error: unknown, ctx: Context, scopes: readonly ErrorScope[]): Promise<VialResponse> {
  const status = error instanceof VialError ? error.status : 500;
  let handler = findByClass(error, scopes);
  if (handler === undefined) for (const scope of scopes) if ((handler = scope.byStatus.get(status)) !== undefined) break;
  if (handler === undefined) return defaultErrorResponse(error, ctx);
  try {
    const reply = await handler(error, ctx);
    const response = toResponse(reply);
    if (!(reply instanceof VialResponse) && response.status === 200) response.status = status;
    if (error instanceof VialError) for (const [k, v] of Object.entries(error.headers)) response.headers[k.toLowerCase()] ??= v;
    return response;
  } catch (handlerError) {
    ctx.log.error({ err: handlerError, original: error }, 'vial: an error handler failed');
    return defaultErrorResponse(handlerError, ctx);
  }
}

/** vial's own error response: JSON, or HTML for browsers, with the error's headers. */
export function defaultErrorResponse(error: unknown, ctx: Context): VialResponse {
  if (isUnexpected(error)) ctx.log.error({ err: error, reqId: ctx.id, route: ctx.route?.key }, 'vial: unhandled error');
  const fields = publicFields(error);
  const headers: HeaderMap = {};
  if (error instanceof VialError) for (const [k, v] of Object.entries(error.headers)) headers[k.toLowerCase()] = v;
  const { body, contentType } = errorBody(fields, ctx.id, prefersHtml(ctx.request.header('accept')));
  headers['content-type'] = contentType;
  return new VialResponse(body, fields.status, headers);
}

/** The answer to a request no route takes: its early error, a plugin's (CORS preflights), 405 with Allow, automatic OPTIONS, or 404. */
export async function unmatchedResponse(
  ctx: Context,
  early: VialError | undefined,
  router: Router<RouteRecord>,
  hooks: readonly UnmatchedHook[],
  appScopes: readonly ErrorScope[],
): Promise<VialResponse> {
  if (early !== undefined) return renderError(early, ctx, appScopes);
  const { method, path } = ctx.request;
  if (hooks.length !== 0) {
    try {
      const allowed = router.routesAt(path).map((record) => record.view);
      for (const hook of hooks) {
        const reply = await hook(ctx, { allowed });
        if (reply !== undefined) return reply instanceof VialResponse ? reply : toResponse(reply);
      }
    } catch (hookError) {
      return renderError(hookError, ctx, appScopes);
    }
  }
  const allowed = router.allowedMethods(path);
  if (allowed.length === 0) return renderError(new HttpError(404, 'No route matches this URL.'), ctx, appScopes);
  const allow = [...new Set([...allowed, 'OPTIONS'])].join(', ');
  if (method === 'OPTIONS') return new VialResponse(null, 204, { allow });
  return renderError(new HttpError(405, `This URL does not accept ${method}.`, { headers: { allow } }), ctx, appScopes);
}

function findByClass(error: unknown, scopes: readonly ErrorScope[]): ErrorHandler | undefined {
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
