/**
 * The parts of dispatch.ts's steps that run user code: before-style and after-style hook lists,
 * the race of a handler against its deadline and client, the error response's pass through the
 * after hooks, and teardown. No I/O of their own.
 */
import type { Context } from './context.ts';
import { renderError } from './dispatch-errors.ts';
import { BodyTimeoutError, DeadlineError } from './errors.ts';
import type { DeadlineTracker } from './load/deadline.ts';
import { VialResponse } from './response.ts';
import type { RouteRecord } from './route-table.ts';
import type { AfterHook, BeforeHook, Handler } from './scaffold.ts';

/**
 * Runs before-style hooks in order; the first that returns a value short-circuits with it.
 * Synchronous while the hooks are: a promise (and an async frame) only from the first hook that
 * returns one, and a single async hook's promise is raced as it is, with no frame around it.
 */
export function runBeforeHooks(deadlines: DeadlineTracker, ctx: Context, hooks: readonly BeforeHook[]): unknown {
  for (let i = 0; i < hooks.length; i++) {
    const reply: unknown = (hooks[i] as BeforeHook)(ctx);
    if (reply instanceof Promise) {
      const raced = raceAbort(deadlines, ctx, reply as Promise<unknown>);
      return i === hooks.length - 1 ? raced : continueBeforeHooks(deadlines, ctx, hooks, i + 1, raced);
    }
    if (reply !== undefined) return reply;
  }
  return undefined;
}

async function continueBeforeHooks(deadlines: DeadlineTracker, ctx: Context, hooks: readonly BeforeHook[], next: number, pending: unknown): Promise<unknown> {
  const first: unknown = await pending;
  if (first !== undefined) return first;
  for (let i = next; i < hooks.length; i++) {
    const reply: unknown = await raceAbort(deadlines, ctx, (hooks[i] as BeforeHook)(ctx));
    if (reply !== undefined) return reply;
  }
  return undefined;
}

/**
 * Before hooks and the handler on the fast path, synchronously while each answers synchronously (an
 * auth check that reads a header): a hook's value short-circuits, else the handler's reply. From the
 * first hook that returns a promise on, a promise of the rest, which run() awaits with the deadline
 * and the disconnect listener in place; it stops before the next hook once ctx has aborted, as
 * runBeforeHooks' race does.
 */
export function hooksThenHandler(ctx: Context, hooks: readonly BeforeHook[], handler: Handler): unknown {
  for (let i = 0; i < hooks.length; i++) {
    const reply: unknown = (hooks[i] as BeforeHook)(ctx);
    if (reply instanceof Promise) return resumeHooks(ctx, hooks, i, reply, handler);
    if (reply !== undefined) return reply;
  }
  return handler(ctx);
}

async function resumeHooks(ctx: Context, hooks: readonly BeforeHook[], at: number, pending: Promise<unknown>, handler: Handler): Promise<unknown> {
  let reply: unknown = await pending;
  for (let i = at + 1; reply === undefined && i < hooks.length; i++) {
    if (ctx.aborted) throw ctx.abortReason;
    reply = await (hooks[i] as BeforeHook)(ctx);
  }
  if (reply !== undefined) return reply;
  if (ctx.aborted) throw ctx.abortReason;
  return handler(ctx);
}

/** The route's after hooks, then the plugins' onResponse hooks; each may replace the response. */
export async function runAfterHooks(ctx: Context, route: RouteRecord, response: VialResponse): Promise<VialResponse> {
  for (const list of [route.after, route.plugins.onResponse]) {
    for (let i = 0; i < list.length; i++) {
      const replaced = await (list[i] as AfterHook)(ctx, response);
      if (replaced instanceof VialResponse) response = replaced;
    }
  }
  return response;
}

/** Deadline expiry: abort the signal; the racing handler await then answers 504 (408 mid-body). Must not throw. */
export function expire(ctx: Context): void {
  // A deadline that passes while the body is still arriving is the client's slowness: 408, not 504.
  ctx.abort(ctx.request.readingBody ? new BodyTimeoutError() : new DeadlineError(ctx.deadlineAt));
}

/**
 * Settles with the value, or rejects as soon as ctx aborts (deadline or disconnect), so a handler
 * that ignores its signal cannot hold the response. Only allocates for real promises, and uses the
 * context's own abort hook rather than an AbortSignal listener. A handler left running past its
 * deadline is counted by the deadline tracker until it settles.
 */
export function raceAbort<T>(deadlines: DeadlineTracker, ctx: Context, value: T | Promise<T>): T | Promise<T> {
  if (!(value instanceof Promise)) return value;
  if (ctx.aborted) {
    if (ctx.abortReason instanceof DeadlineError) deadlines.countLate(value);
    return Promise.reject(ctx.abortReason);
  }
  return new Promise<T>((resolve, reject) => {
    ctx.onAbort = (reason) => {
      if (reason instanceof DeadlineError) deadlines.countLate(value);
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

/**
 * The error's response, passed through the after hooks too, as Flask's after_request does. A hook
 * that fails there is logged and the error response goes out as it was.
 */
export async function errorResponse(ctx: Context, route: RouteRecord, error: unknown): Promise<VialResponse> {
  const response = await renderError(error, ctx, route.errorScopes);
  if (route.after.length + route.plugins.onResponse.length === 0) return response;
  try {
    return await runAfterHooks(ctx, route, response);
  } catch (hookError) {
    ctx.log.error({ err: hookError, original: error }, 'vial: an after hook failed on an error response');
    return response;
  }
}

/**
 * 7. teardown always runs, newest first, and one failing never skips the rest. Undefined (no
 * promise to await) when the route has no teardown hooks, the common case.
 */
export function teardown(ctx: Context, route: RouteRecord, failure: unknown): Promise<void> | undefined {
  if (route.teardown.length + route.plugins.teardown.length === 0) return undefined;
  return runTeardown(ctx, route, failure);
}

async function runTeardown(ctx: Context, route: RouteRecord, failure: unknown): Promise<void> {
  for (const [hooks, what] of [[route.teardown, 'a teardown hook'], [route.plugins.teardown, 'a plugin teardown hook']] as const) {
    for (let i = 0; i < hooks.length; i++) {
      try {
        await (hooks[i] as (typeof hooks)[number])(ctx, failure);
      } catch (error) {
        ctx.log.error({ err: error }, `vial: ${what} failed`);
      }
    }
  }
}
