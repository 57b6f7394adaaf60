/**
 * Request ids: unique in this process and across its siblings, without a random call per request.
 * A leaf module.
 */
import { randomBytes } from 'node:crypto';

let nextId = 0;
// A random per-process prefix keeps ids unique across workers and restarts. Intentionally not the
// pid: ids reach clients, and a pid tells them how many processes there are, which one answered
// and when it restarted.
const ID_PREFIX = randomBytes(5).toString('hex');

/** A request id unique in this process and across its siblings: `<random>-<counter>`. */
export function nextRequestId(): string {
  return `${ID_PREFIX}-${(nextId++).toString(36)}`;
}

/**
 * What an incoming `X-Request-Id` may be to be kept: 1 to 128 of `A-Z a-z 0-9 . _ -` (UUIDs, ULIDs,
 * nginx's and most proxies' ids). Intentionally narrow: the id reaches log lines, response headers,
 * JSON and HTML error bodies, so nothing that needs escaping, spaces or separators (a repeated
 * header arrives joined with ", " and is refused).
 */
const INCOMING_ID = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * The request's id: the incoming `X-Request-Id` when it is well formed and came from a trusted
 * proxy (`trustProxy`: the id the edge already logged, so one id follows the request across the
 * fleet), otherwise a new one. A client that speaks to the app directly cannot choose its id
 * (it would let it collide with, or impersonate, another request's in the logs).
 */
export function requestIdFor(incoming: string | string[] | undefined, fromTrustedProxy: boolean): string {
  if (fromTrustedProxy && typeof incoming === 'string' && INCOMING_ID.test(incoming)) return incoming;
  return nextRequestId();
}
