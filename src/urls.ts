/**
 * External URLs: the origin a URL built by `urlFor(..., { external: true })` starts with.
 *
 * The configured public origin (`origin` / VIAL_ORIGIN) always wins. Without it, the request says
 * where it was sent: behind a proxy you control (`trustProxy`), the first X-Forwarded-Proto and
 * X-Forwarded-Host; otherwise the Host header and whether the socket is TLS. A Host header is the
 * client's word, and a link built from it is the classic password-reset poisoning bug, so
 * production refuses to build one from Host alone: set `origin`.
 *
 * Pure: reads only the request's headers and socket flag.
 */
import type { IncomingMessage } from 'node:http';
import { BadRequestError, ConfigError } from './errors.ts';

export interface OriginConfig {
  readonly origin: string | undefined;
  readonly trustProxy: boolean;
  readonly production: boolean;
}

// A host name or IPv4 address, or a bracketed IPv6 address, with an optional port: nothing that
// could add a path, userinfo or a second URL to the link.
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

function first(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined) return undefined;
  const comma = text.indexOf(',');
  return (comma === -1 ? text : text.slice(0, comma)).trim();
}

/** The origin external URLs start with, for a request; throws a ConfigError where none can be trusted. */
export function requestOrigin(req: IncomingMessage | undefined, config: OriginConfig): string {
  if (config.origin !== undefined) return config.origin;
  if (req === undefined) {
    throw new ConfigError('VIAL_ERR_URL_FOR', 'urlFor(..., { external: true }) outside a request needs the public origin: set `origin` (or VIAL_ORIGIN), e.g. https://app.example.com.');
  }
  const encrypted = (req.socket as { encrypted?: boolean } | null)?.encrypted === true;
  let proto = encrypted ? 'https' : 'http';
  let host = req.headers.host ?? (req.headers as Record<string, string | undefined>)[':authority'];
  if (config.trustProxy) {
    const forwardedProto = first(req.headers['x-forwarded-proto'])?.toLowerCase();
    if (forwardedProto === 'http' || forwardedProto === 'https') proto = forwardedProto;
    host = first(req.headers['x-forwarded-host']) ?? host;
  } else if (config.production) {
    throw new ConfigError(
      'VIAL_ERR_URL_FOR',
      'Refusing to build an external URL from the Host header in production (a client can send any Host): set `origin` (or VIAL_ORIGIN), or `trustProxy` behind a proxy that sets X-Forwarded-Host.',
    );
  }
  if (host === undefined || !HOST.test(host)) {
    // The client's fault (a malformed Host), so a 400 rather than a 500.
    throw new BadRequestError('VIAL_ERR_BAD_HOST', 'The Host header is not a valid host name, so no link to this site can be built from it.');
  }
  return `${proto}://${host.toLowerCase()}`;
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
