/**
 * External URLs: the origin a URL built by `urlFor(..., { external: true })` starts with.
 *
 * The configured public origin (`origin` / VIAL_ORIGIN) always wins. Without it, the request says
 * where it was sent: `request.protocol` and `request.host`, which follow Forwarded /
 * X-Forwarded-* only from trusted proxies (`trustProxy`, security/proxy.ts). A Host header is the
 * client's word, and a link built from it is the classic password-reset poisoning bug, so
 * production refuses to build one from a Host nothing checked: set `origin` or `allowedHosts`.
 *
 * Pure: reads only what it is given.
 */
import { BadRequestError, ConfigError } from './errors.ts';
import { parseHost } from './security/hosts.ts';
import type { ResolvedTrustProxy } from './security/proxy.ts';

export interface OriginConfig {
  readonly origin: string | undefined;
  readonly trustProxy: ResolvedTrustProxy;
  readonly allowedHosts: readonly string[] | undefined;
  readonly production: boolean;
}

/** What the request wrapper knows of where the request was sent (through trusted proxies: security/proxy.ts). */
export interface RequestEdge {
  readonly protocol: 'http' | 'https';
  readonly host: string | undefined;
}

/** The origin external URLs start with, for a request; throws a ConfigError where none can be trusted. */
export function requestOrigin(request: RequestEdge | undefined, config: OriginConfig): string {
  if (config.origin !== undefined) return config.origin;
  if (request === undefined) {
    throw new ConfigError('VIAL_ERR_URL_FOR', 'urlFor(..., { external: true }) outside a request needs the public origin: set `origin` (or VIAL_ORIGIN), e.g. https://app.example.com.');
  }
  // In production the Host is the client's word unless a trusted proxy wrote it or step 0 checked
  // it against an explicit allowedHosts list (Django builds absolute URIs the same way).
  const checkedHost = config.allowedHosts !== undefined && !config.allowedHosts.includes('*');
  if (config.production && config.trustProxy.kind === 'none' && !checkedHost) {
    throw new ConfigError(
      'VIAL_ERR_URL_FOR',
      'Refusing to build an external URL from the Host header in production (a client can send any Host): set `origin` (or VIAL_ORIGIN), `allowedHosts`, or `trustProxy` behind a proxy that sets X-Forwarded-Host.',
    );
  }
  const host = request.host;
  if (host === undefined || parseHost(host) === undefined) {
    // The client's fault (a malformed Host), so a 400 rather than a 500.
    throw new BadRequestError('VIAL_ERR_BAD_HOST', 'The Host header is not a valid host name, so no link to this site can be built from it.');
  }
  return `${request.protocol}://${host.toLowerCase()}`;
}

/** `urlFor`'s third argument: either the query (strings), or these options. */
export interface UrlForOptions {
  readonly query?: Readonly<Record<string, string>>;
  /** An absolute URL (`https://app.example.com/users/1`) from the public origin, as Flask's `_external`. */
  readonly external?: boolean;
}
export type UrlForQuery = Readonly<Record<string, string>>;

/** Options are told from a query by their value types: a query's values are all strings. */
export function splitUrlForArgument(arg: UrlForQuery | UrlForOptions | undefined): { query: UrlForQuery | undefined; external: boolean } {
  if (arg === undefined) return { query: undefined, external: false };
  const options = arg as { query?: unknown; external?: unknown };
  if (typeof options.external === 'boolean' || (typeof options.query === 'object' && options.query !== null)) {
    return { query: options.query as UrlForQuery | undefined, external: options.external === true };
  }
  return { query: arg as UrlForQuery, external: false };
}
