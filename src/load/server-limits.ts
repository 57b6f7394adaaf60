/**
 * Node's own protections against slow and abusive clients, set to vial's defaults.
 * What Node does when they trip (checked by test/load-server-limits.test.ts):
 * - headers not complete within headersTimeout, or the whole request (body included) not
 *   received within requestTimeout: Node answers 408 and closes the socket. Both are checked
 *   every connectionsCheckingInterval, a createServer-only option (Node's default, 30 s, would
 *   let a 10 s header timeout fire as late as 40 s).
 * - headers larger than maxHeaderSize: llhttp fails with HPE_HEADER_OVERFLOW and Node answers 431.
 * - more than maxHeadersCount headers: Node silently drops the extra ones (no error), so vial lets
 *   one extra header through and `hasTooManyHeaders(req)` turns it into a 431 (RFC 6585 section 5).
 * These defaults only hold while the server has no 'clientError' listener of its own: Node writes
 * the 408/431 responses in its default clientError handling.
 */
import type { IncomingMessage, Server, ServerOptions } from 'node:http';
import { guardConnections, systemLimits } from './connections.ts';
import { installLingeringClose } from './linger.ts';
import { resolveServerLimitOptions } from './options.ts';
import type { ServerLimitOptions } from './options.ts';

/** Options that only `http.createServer(options)` accepts. */
export function serverOptions(options: Partial<ServerLimitOptions> = {}): ServerOptions {
  const o = resolveServerLimitOptions(options, systemLimits());
  return {
    maxHeaderSize: o.maxHeaderSizeBytes,
    headersTimeout: o.headersTimeoutMs,
    requestTimeout: o.requestTimeoutMs,
    keepAliveTimeout: o.keepAliveTimeoutMs,
    connectionsCheckingInterval: o.connectionsCheckingIntervalMs,
    requireHostHeader: true,
  };
}

/** Sets the limits that are properties of a server (safe to call on one made elsewhere). */
export function applyServerLimits(server: Server, options: Partial<ServerLimitOptions> = {}): Server {
  const o = resolveServerLimitOptions(options, systemLimits());
  server.headersTimeout = o.headersTimeoutMs;
  server.requestTimeout = o.requestTimeoutMs;
  server.keepAliveTimeout = o.keepAliveTimeoutMs;
  // One more than the limit, so that a request over it is visible to hasTooManyHeaders().
  server.maxHeadersCount = o.maxHeadersCount + 1;
  server.maxRequestsPerSocket = o.maxRequestsPerSocket;
  applyConnectionLimits(server, o);
  return server;
}

/**
 * The process-wide connection cap (connections.ts) and the lingering close of early answers
 * (linger.ts), for any server that serves HTTP/1.x: the http.Server above, and the HTTP/2 secure
 * server, whose HTTP/1.1 fallback emits the same 'connection' and 'request' events. Idempotent.
 */
export function applyConnectionLimits(server: Server, options: Pick<ServerLimitOptions, 'maxConnections' | 'lingerBytes' | 'lingerMs'>): void {
  guardConnections(server, options.maxConnections);
  installLingeringClose(server, options);
}

/** True when the request carried more headers than `maxHeadersCount`: answer 431 and close. */
export function hasTooManyHeaders(req: IncomingMessage, maxHeadersCount: number): boolean {
  return req.rawHeaders.length > maxHeadersCount * 2;
}
