/**
 * Writing and finishing an admitted request, shared by dispatch.ts's fast path and the general
 * path (dispatch-general.ts): a plain reply from the prebuilt head, a VialResponse with one flat
 * header list for writeHead, and the one tail (`release`) that gives the deadline and the
 * admission slot back and publishes `vial:request`. No state of its own.
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { CoreConfig } from './config.ts';
import type { Context } from './context.ts';
import { isNonDocumentType } from './internal/media-type.ts';
import type { Admission, RouteGate } from './load/admission.ts';
import type { DeadlineHandle, DeadlineTracker } from './load/deadline.ts';
import { requestChannel } from './request-events.ts';
import { toResponse, VialResponse, writePlainReply, writeResponse } from './response.ts';
import type { HeaderList as ResponseHead, PlainHeads } from './response.ts';
import type { RouteRecord } from './route-table.ts';
import type { HeaderList } from './security/headers.ts';

/** What these functions read of the dispatcher's state (dispatch.ts builds it once per app). */
export interface WriteState {
  /** Headers on every document response (vial's security headers), and the subset for JSON and event streams. */
  readonly documentHeaders: HeaderList;
  readonly dataHeaders: HeaderList;
  readonly plainHeads: PlainHeads;
  readonly idHeader: CoreConfig['log']['requestIdHeader'];
  readonly deadlines: DeadlineTracker;
  readonly admission: Admission;
  readonly log: Logger;
}

/**
 * Writes a string or plain-object reply from the prebuilt head when nothing else has a say (no after
 * hooks, session, ctx.header(), and a body below the plugins' onResponseMinBytes): true. Otherwise
 * the reply as a VialResponse (serialized once); toResponse throws for a reply it cannot send, and
 * a JSON.stringify throw is met again there, as a 500.
 */
export function writesPlain(s: WriteState, ctx: Context, route: RouteRecord, res: ServerResponse, reply: unknown): VialResponse | true {
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
 * Writes a response from one flat list for writeHead (Node's fastest form): the response's own
 * headers, then ctx.header() ones, then the plugins' headers (security headers) and the request id
 * unless either set them.
 */
export function send(s: WriteState, ctx: Context, res: ServerResponse, response: VialResponse): Promise<void> | undefined {
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

/** 7. The one tail of every admitted request, fast or not: the deadline and slot go back, then publish. */
export function release(s: WriteState, ctx: Context, route: RouteRecord, gate: RouteGate, res: ServerResponse, startedAt: number, deadline: DeadlineHandle | undefined, failure: unknown): void {
  if (deadline !== undefined) s.deadlines.untrack(deadline);
  s.admission.leave(gate);
  publish(ctx, res, route, startedAt, failure);
}

export function publish(ctx: Context, res: ServerResponse, route: RouteRecord | undefined, startedAt: number, error: unknown): void {
  if (requestChannel.hasSubscribers) {
    requestChannel.publish({ ctx, route: route?.info.key, status: res.statusCode, durationMs: performance.now() - startedAt, error });
  }
}

export function logSendFailure(s: WriteState, ctx: Context, res: ServerResponse, error: unknown): void {
  s.log.error({ err: error, reqId: ctx.id }, 'vial: failed to send a response');
  res.destroy();
}
