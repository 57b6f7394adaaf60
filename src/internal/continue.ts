/**
 * Which requests still wait for their "100 Continue" (security/continue.ts registers them; the
 * body readers in request.ts send it on their first read). A leaf module.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Requests that asked for 100-continue and have not had it yet. */
export const awaitingContinue = new WeakMap<IncomingMessage, ServerResponse>();

/** Sends the 100 a request is waiting for, once; the body readers call it before their first read. */
export function continueIfExpected(req: IncomingMessage): void {
  const res = awaitingContinue.get(req);
  if (res === undefined) return;
  awaitingContinue.delete(req);
  if (!res.headersSent && !res.writableEnded) res.writeContinue();
}
