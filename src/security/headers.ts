/**
 * Security headers for every response, computed once from options into a frozen list the
 * dispatcher copies onto each response (no per-request string building or option lookups).
 *
 * Pure module: no I/O, no timers.
 */

import { ConfigError } from '../errors.ts';

export interface SecurityHeadersOptions {
  /** Default 'nosniff' on (stops MIME sniffing of uploads and JSON into script). */
  readonly noSniff?: boolean;
  /** Default 'strict-origin-when-cross-origin'; false to omit. */
  readonly referrerPolicy?: string | false;
  /** Default 'DENY' (clickjacking, for browsers without CSP frame-ancestors); false to omit. */
  readonly frameOptions?: 'DENY' | 'SAMEORIGIN' | false;
  /** Default "frame-ancestors 'none'"; false to omit (e.g. when the app sends its own CSP). */
  readonly contentSecurityPolicy?: string | false;
  /** Default 'same-origin' (a cross-site opener cannot script this window); false to omit. */
  readonly crossOriginOpenerPolicy?: string | false;
  /** HSTS, sent only in production over https. Default max-age one year with includeSubDomains. */
  readonly hsts?: false | { readonly maxAgeSec?: number; readonly includeSubDomains?: boolean; readonly preload?: boolean };
}

export type HeaderList = readonly (readonly [name: string, value: string])[];

export interface HeaderContext {
  readonly production: boolean;
  /** The app is served over https (directly or behind a TLS-terminating proxy). */
  readonly https: boolean;
}

const HEADER_VALUE = /^[\x20-\x7E]*$/;

function checked(name: string, value: string): readonly [string, string] {
  // A CR/LF in a configured value would split the response (RFC 9110 §5.5); fail at startup, not per request.
  if (!HEADER_VALUE.test(value)) throw new ConfigError('VIAL_ERR_SECURITY_OPTIONS', `Security header ${name} has a value with control characters: ${JSON.stringify(value)}.`);
  return Object.freeze([name, value] as const);
}

/** Builds the frozen header list once, at app start. */
export function buildSecurityHeaders(options: SecurityHeadersOptions, context: HeaderContext): HeaderList {
  const out: (readonly [string, string])[] = [];
  if (options.noSniff !== false) out.push(checked('x-content-type-options', 'nosniff'));
  const referrer = options.referrerPolicy ?? 'strict-origin-when-cross-origin';
  if (referrer !== false) out.push(checked('referrer-policy', referrer));
  const frame = options.frameOptions ?? 'DENY';
  if (frame !== false) out.push(checked('x-frame-options', frame));
  const csp = options.contentSecurityPolicy ?? "frame-ancestors 'none'";
  if (csp !== false) out.push(checked('content-security-policy', csp));
  const coop = options.crossOriginOpenerPolicy ?? 'same-origin';
  if (coop !== false) out.push(checked('cross-origin-opener-policy', coop));
  // RFC 6797 §7.2: HSTS over plain http is ignored; in development it would pin localhost to https.
  if (options.hsts !== false && context.production && context.https) {
    const hsts = options.hsts ?? {};
    const maxAgeSec = hsts.maxAgeSec ?? 31_536_000;
    if (!Number.isSafeInteger(maxAgeSec) || maxAgeSec < 0) throw new ConfigError('VIAL_ERR_SECURITY_OPTIONS', `HSTS maxAgeSec must be a non-negative integer, got ${maxAgeSec}.`);
    let value = `max-age=${maxAgeSec}`;
    if (hsts.includeSubDomains ?? true) value += '; includeSubDomains';
    if (hsts.preload === true) value += '; preload';
    out.push(checked('strict-transport-security', value));
  }
  return Object.freeze(out);
}

/**
 * Headers that only mean something on a document a browser renders: Referrer-Policy governs the
 * requests a page makes, COOP applies to top-level documents, and X-Frame-Options is the legacy
 * twin of CSP frame-ancestors (which every current browser honours and which stays on). A JSON or
 * event-stream body is never a document, so those three are left off it: three fewer header lines
 * to validate and write on every API response (~4% of the hello benchmark).
 */
const DOCUMENT_ONLY = new Set(['referrer-policy', 'x-frame-options', 'cross-origin-opener-policy']);

/** The subset of `headers` that applies to non-document (JSON, event-stream) responses. */
export function nonDocumentHeaders(headers: HeaderList): HeaderList {
  return Object.freeze(headers.filter(([name]) => !DOCUMENT_ONLY.has(name)));
}

/**
 * Responses that set or read a session are personal: shared caches must not store them
 * (RFC 9111 §5.2.2.5 no-store) and any cache must key them on the cookie (RFC 9110 §12.5.5).
 */
export const SESSION_CACHE_CONTROL = 'no-store';

/** Adds `Cookie` to an existing Vary value without duplicating it; '*' already covers it. */
export function varyWithCookie(existing: string | undefined): string {
  if (existing === undefined || existing.trim() === '') return 'Cookie';
  const fields = existing.split(',').map((f) => f.trim().toLowerCase());
  if (fields.includes('cookie') || fields.includes('*')) return existing;
  return `${existing}, Cookie`;
}
