/**
 * Steps 2b to 7 of dispatch.ts for every request the fast path does not finish: the hooks and
 * handler (dispatch-steps.ts), then waiting for the reply with the deadline and the disconnect
 * listener armed, the after hooks, the error response, the session save, the write, teardown and
 * release. A request whose steps all answer synchronously is written and released without any
 * of the waiting machinery; the rest costs one reaction per wait, not a chain of async frames.
 */
import type { ServerResponse } from 'node:http';
import type { Context } from './context.ts';
import { renderError } from './dispatch-errors.ts';
import { errorResponse, expire, runAfterHooks, teardown } from './dispatch-hooks.ts';
import { logSendFailure, release, send, writesPlain } from './dispatch-send.ts';
import type { WriteState } from './dispatch-send.ts';
import { hooksAndHandler } from './dispatch-steps.ts';
import type { StepDeps } from './dispatch-steps.ts';
import { ClientGoneError, DeadlineError } from './errors.ts';
import type { RouteGate } from './load/admission.ts';
import type { DeadlineHandle } from './load/deadline.ts';
import type { VialResponse } from './response.ts';
import type { RouteRecord } from './route-table.ts';

export interface GeneralState extends WriteState, StepDeps {}

/**
 * Steps 2b to 6 for everything the fast path does not cover; `pending` is the reply of a handler
 * the fast path already called. A reply that is there synchronously is answered at once, with no
 * deadline entry, close listener or promise: no deadline can pass and no disconnect be seen
 * before the write, both arrive in later turns. Never throws: every failure becomes a response.
 */
export function run(s: GeneralState, ctx: Context, route: RouteRecord, gate: RouteGate, res: ServerResponse, startedAt: number, pending: Promise<unknown> | undefined): void {
  // Set before any hook runs: hooks read ctx.remainingMs() and pass it on.
  ctx.deadlineAt = s.deadlines.deadlineIn(route.options.timeoutMs);
  let reply: unknown = pending;
  if (pending === undefined) {
    try {
      reply = hooksAndHandler(s, ctx, route);
    } catch (error) {
      void respond(s, ctx, route, gate, res, startedAt, undefined, true, error, undefined);
      return;
    }
  }
  if (reply instanceof Promise) wait(s, ctx, route, gate, res, startedAt, reply, pending !== undefined);
  else answer(s, ctx, route, gate, res, startedAt, reply, undefined);
}

/** Deadline and disconnect both abort ctx from here on (one shared deadline timer, no setTimeout per request). */
function arm(s: GeneralState, ctx: Context, res: ServerResponse): DeadlineHandle {
  const deadline = s.deadlines.track(ctx.deadlineAt, expire, ctx);
  // Intentionally never removed: ServerResponse's listener table is a plain object, and removing a
  // listener deletes its key, turning that object into a slow dictionary on every request. Once
  // released (or expired) the entry is no longer tracked and the listener does nothing.
  res.on('close', () => {
    if (s.deadlines.isTracked(deadline) && !res.writableFinished) ctx.abort(new ClientGoneError());
  });
  return deadline;
}

/**
 * Waits for the reply, or for ctx to abort (deadline or disconnect). The steps race their own waits
 * (dispatch-steps.ts); a handler's promise handed over by the fast path is raced here, through
 * ctx's abort hook, so a handler that ignores its signal cannot hold the response.
 */
function wait(s: GeneralState, ctx: Context, route: RouteRecord, gate: RouteGate, res: ServerResponse, startedAt: number, pending: Promise<unknown>, race: boolean): void {
  const deadline = arm(s, ctx, res);
  let settled = false;
  const fail = (error: unknown): void => {
    if (settled) return;
    settled = true;
    if (race) ctx.onAbort = undefined;
    void respond(s, ctx, route, gate, res, startedAt, undefined, true, error, deadline);
  };
  if (race) {
    ctx.onAbort = (reason) => {
      // A handler left running past its deadline is counted by the tracker until it settles.
      if (reason instanceof DeadlineError) s.deadlines.countLate(pending);
      fail(reason);
    };
  }
  pending.then((reply: unknown) => {
    if (settled) return;
    settled = true;
    if (race) ctx.onAbort = undefined;
    answer(s, ctx, route, gate, res, startedAt, reply, deadline);
  }, fail);
}

/** A reply to write: from the prebuilt head and released at once when nothing else has a say. */
function answer(s: GeneralState, ctx: Context, route: RouteRecord, gate: RouteGate, res: ServerResponse, startedAt: number, reply: unknown, deadline: DeadlineHandle | undefined): void {
  let plain: VialResponse | true;
  try {
    // A handler that wrote to the raw response itself leaves nothing to send.
    plain = res.headersSent ? true : writesPlain(s, ctx, route, res, reply);
  } catch (error) {
    void respond(s, ctx, route, gate, res, startedAt, undefined, true, error, deadline);
    return;
  }
  if (plain === true && route.teardown.length + route.plugins.teardown.length === 0) release(s, ctx, route, gate, res, startedAt, deadline, undefined);
  else void respond(s, ctx, route, gate, res, startedAt, plain === true ? undefined : plain, false, undefined, deadline);
}

/**
 * 6 and 7 when something waits: after hooks, an error's response, the session save, a streamed
 * write or teardown hooks; `failed` says the request failed with `error`. Never rejects: every
 * failure becomes a response or a closed socket.
 */
async function respond(s: GeneralState, ctx: Context, route: RouteRecord, gate: RouteGate, res: ServerResponse, startedAt: number, response: VialResponse | undefined, failed: boolean, error: unknown, armed: DeadlineHandle | undefined): Promise<void> {
  const deadline = armed ?? arm(s, ctx, res);
  let failure: unknown = error;
  if (failed) {
    response = await errorResponse(ctx, route, failure);
  } else if (response !== undefined && route.after.length + route.plugins.onResponse.length !== 0) {
    // 6. after hooks, then 6a. plugins' onResponse hooks, may change or replace the response.
    try {
      response = await runAfterHooks(ctx, route, response);
    } catch (hookError) {
      failure = hookError;
      response = await errorResponse(ctx, route, hookError);
    }
  }
  try {
    if (response !== undefined && !res.headersSent) {
      // 6b. session save (a new id and cookie after login/logout), then write.
      const committing = s.security.commit(ctx, response);
      if (committing !== undefined) await committing;
      const sending = send(s, ctx, res, response);
      if (sending !== undefined) await sending;
    }
  } catch (sendError) {
    failure ??= sendError;
    try {
      if (!res.headersSent) await send(s, ctx, res, await renderError(sendError, ctx, route.errorScopes));
      else res.destroy();
    } catch (lastError) {
      logSendFailure(s, ctx, res, lastError);
    }
  }
  const tearing = teardown(ctx, route, failure);
  if (tearing !== undefined) await tearing;
  release(s, ctx, route, gate, res, startedAt, deadline, failure);
}
