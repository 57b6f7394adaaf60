/**
 * Steps 2b to 5 of dispatch.ts for every request the fast path does not take: plugins' onRequest
 * hooks, session load, CSRF guard, before hooks, plugins' beforeHandler hooks, then the handler.
 *
 * Synchronous while the steps are: a route whose hooks and handler answer synchronously (an auth
 * check, a cookie GET, a POST that reads no body) gets its reply with no promise, async frame or
 * extra microtask; from the first step that returns a promise on, the rest runs in its reaction.
 */
import type { Context } from './context.ts';
import { raceAbort, runBeforeHooks } from './dispatch-hooks.ts';
import type { DeadlineTracker } from './load/deadline.ts';
import { runOffloadedHandler, snapshotRequest } from './load/offload-handler.ts';
import type { OffloadPool } from './load/offload.ts';
import { VialResponse } from './response.ts';
import type { RouteRecord } from './route-table.ts';
import type { SecurityLayer } from './security/layer.ts';

export interface StepDeps {
  readonly deadlines: DeadlineTracker;
  readonly security: SecurityLayer;
  readonly offload: OffloadPool;
}

// The steps before the handler, in order; each may answer (a value short-circuits) or wait.
const ON_REQUEST = 0;
const SESSION = 1;
const GUARD = 2;
const BEFORE = 3;
const PLUGIN_BEFORE = 4;
const HANDLER = 5;

/**
 * The reply of the route (a value a hook short-circuited with, or the handler's), or a promise of
 * it once a step waits. A step that throws synchronously throws here; the caller makes it a response.
 */
export function hooksAndHandler(s: StepDeps, ctx: Context, route: RouteRecord): unknown {
  return stepsFrom(s, ctx, route, ON_REQUEST);
}

function stepsFrom(s: StepDeps, ctx: Context, route: RouteRecord, first: number): unknown {
  for (let step = first; step < HANDLER; step++) {
    const result = runStep(s, ctx, route, step);
    if (result instanceof Promise) {
      const next = step + 1;
      return result.then((reply: unknown) => (reply !== undefined ? reply : stepsFrom(s, ctx, route, next)));
    }
    if (result !== undefined) return result;
  }
  // 5. handler, raced against the deadline and the client.
  const reply = route.handler !== undefined ? route.handler(ctx) : runInWorker(s, ctx, route);
  return reply instanceof Promise ? raceAbort(s.deadlines, ctx, reply) : reply;
}

function runStep(s: StepDeps, ctx: Context, route: RouteRecord, step: number): unknown {
  switch (step) {
    // 2b. plugins' onRequest hooks (rate limits): before the guard; a value short-circuits.
    case ON_REQUEST:
      return route.plugins.onRequest.length === 0 ? undefined : runBeforeHooks(s.deadlines, ctx, route.plugins.onRequest);
    // 3. guard: the session first (the CSRF token lives in it), then CSRF for unsafe methods. Both
    // settle with undefined, so they never short-circuit; a refusal throws.
    case SESSION:
      return s.security.loadSession(ctx);
    case GUARD:
      return s.security.guard(ctx, route.options.csrf);
    // 4. before hooks (app, then blueprint), then 4b. plugins' beforeHandler hooks (schemas).
    case BEFORE:
      return route.before.length === 0 ? undefined : runBeforeHooks(s.deadlines, ctx, route.before);
    case PLUGIN_BEFORE:
      return route.plugins.beforeHandler.length === 0 ? undefined : runBeforeHooks(s.deadlines, ctx, route.plugins.beforeHandler);
    default:
      return undefined;
  }
}

/** A route with `worker:` runs in the offload pool on a snapshot of the request. */
async function runInWorker(s: StepDeps, ctx: Context, route: RouteRecord): Promise<VialResponse> {
  const result = await runOffloadedHandler(s.offload, route.options.worker as string | URL, await snapshotRequest(ctx.request), ctx.signal);
  return new VialResponse(result.body, result.status, { ...result.headers });
}
