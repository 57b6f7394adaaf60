/**
 * The request as its client sent it, through trusted proxies (proxy.ts), and whether this app
 * answers for its Host (hosts.ts). Built once from config; the dispatcher calls `check` at step 0,
 * before routing, and the request wrapper reads `view` for `request.ip`, `.protocol`, `.host`.
 */
import type { IncomingMessage } from 'node:http';
import type { VialError } from '../errors.ts';
import { badHostError, createHostMatcher, hostNotAllowedError, parseHost } from './hosts.ts';
import { createProxyTrust } from './proxy.ts';
import type { EdgeView, ResolvedTrustProxy } from './proxy.ts';

export interface EdgeConfig {
  /** undefined: any syntactically valid Host (development and test without a list). */
  readonly allowedHosts: readonly string[] | undefined;
  readonly trustProxy: ResolvedTrustProxy;
}

export interface Edge {
  /** 400 for a malformed Host (or forwarded host) and for one not in allowedHosts. */
  check(req: IncomingMessage): VialError | undefined;
  view(req: IncomingMessage): EdgeView;
  /** True when the socket peer is one of the proxies trustProxy names (or counts). */
  trustsPeer(req: IncomingMessage): boolean;
}

export function createEdge(config: EdgeConfig): Edge {
  const proxy = createProxyTrust(config.trustProxy);
  const isAllowed = config.allowedHosts === undefined ? undefined : createHostMatcher(config.allowedHosts);
  // The last Host value that passed. A service sees one or a few Host values, so most requests carry
  // the string the previous one did, and the verdict on a string never changes (the check is pure
  // and the list fixed): comparing strings skips the regular expression, ~1.5% of a hello's CPU.
  // One string, so nothing a client sends can grow it.
  let lastAccepted: string | undefined;
  return {
    view: (req) => proxy.view(req),
    trustsPeer: (req) => proxy.trustsPeer(req),
    check(req) {
      const host = proxy.enabled ? proxy.view(req).host : req.headers.host;
      // No Host at all: HTTP/1.0 may omit it (1.1 without one is refused by checkHost).
      if (host === undefined || host === lastAccepted) return undefined;
      const parts = parseHost(host);
      if (parts === undefined) return badHostError(host);
      if (isAllowed !== undefined && !isAllowed(parts.hostname)) return hostNotAllowedError(parts.hostname);
      lastAccepted = host;
      return undefined;
    },
  };
}
