/**
 * The CSRF decision for one request, as a pure function of what the request carries.
 *
 * Order (docs/csrf.md has the reasons):
 *   1. Safe methods (RFC 9110 §9.2.1) pass. The real method decides: vial never honours
 *      X-HTTP-Method-Override or a `_method` field, so they cannot turn a POST into a GET.
 *   2. An Origin that is exactly one of the trusted origins passes (a CORS-allowed front end).
 *      Then Sec-Fetch-Site (Fetch Metadata, a forbidden header name, so page script cannot forge
 *      it): same-origin / none pass; same-site / cross-site are refused.
 *   3. Otherwise Origin (RFC 6454): must equal the app's origin (scheme, host and port) or an exact
 *      trusted origin; "null" and anything else are refused.
 *   4. Neither header: a request carrying the session cookie must submit the session-bound token
 *      (or the anonymous cookie-bound one); one without the cookie has no ambient credential to
 *      abuse and passes as `tokenless`, except that it may not log in (login CSRF, layer.ts).
 *
 * Pure module: no I/O, no timers (createCsrfToken draws random bytes).
 */

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { BadRequestError } from '../errors.ts';

export const CSRF_FORM_FIELD = '_csrf';
export const CSRF_HEADER = 'x-csrf-token';

export type CsrfReason = 'cross-site' | 'same-site' | 'origin-mismatch' | 'origin-null' | 'token-missing' | 'token-invalid' | 'login-token';
/**
 * `tokenless`: passed only because the request carried no browser header and no session cookie,
 * so there was no ambient credential to abuse; a login on such a request is refused (login CSRF).
 */
export type CsrfDecision = { readonly ok: true; readonly tokenless?: true } | { readonly ok: false; readonly reason: CsrfReason };

export interface CsrfInput {
  /** The method on the request line; never an override header or field. */
  readonly method: string;
  readonly headers: {
    readonly secFetchSite?: string | undefined;
    readonly origin?: string | undefined;
    /** Host header, used only when appOrigin is not configured. */
    readonly host?: string | undefined;
    /**
     * The scheme the client used (`request.protocol`, through trusted proxies), compared with
     * Origin's together with `host` when appOrigin is not configured. Without it only the host is
     * compared, which lets an http page on the same host post to the https app (Go's
     * CrossOriginProtection has that gap; Django and Rails compare the scheme too).
     */
    readonly scheme?: 'http' | 'https' | undefined;
  };
  /** The app's own origin, scheme://host[:port]; when undefined, Origin's host is compared with `host`. */
  readonly appOrigin?: string | undefined;
  /** Exact origins allowed besides the app's own (e.g. 'https://admin.example.com'). */
  readonly trustedOrigins?: readonly string[];
  readonly hasSessionCookie: boolean;
  readonly sessionToken?: string | undefined;
  /** The anonymous visitor's secret, from its cookie (csrf-token.ts). */
  readonly cookieToken?: string | undefined;
  /** From the `_csrf` form field or the `x-csrf-token` header, unmasked (csrf-token.ts). */
  readonly submittedToken?: string | undefined;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);
const OK: CsrfDecision = Object.freeze({ ok: true });
const TOKENLESS: CsrfDecision = Object.freeze({ ok: true, tokenless: true });
const refuse = (reason: CsrfReason): CsrfDecision => ({ ok: false, reason });

export function checkCsrf(input: CsrfInput): CsrfDecision {
  // Method names are case-sensitive (RFC 9110 §9.1): "get" is not GET and gets no pass.
  if (SAFE_METHODS.has(input.method)) return OK;

  // An exact trusted origin passes whatever Sec-Fetch-Site says: a browser calling from it (a
  // CORS-allowed front end) always sends `cross-site` or `same-site`, so without this the list
  // could only ever help old browsers. Origin is as unforgeable by page script as Sec-Fetch-Site;
  // Go's net/http CrossOriginProtection checks its trusted origins first for the same reason.
  const origin = input.headers.origin;
  if (origin !== undefined && input.trustedOrigins !== undefined && input.trustedOrigins.length !== 0) {
    const normalized = normalizeOrigin(origin);
    if (normalized !== undefined && input.trustedOrigins.includes(normalized)) return OK;
  }
  const site = input.headers.secFetchSite;
  if (site === 'same-origin' || site === 'none') return OK;
  if (site === 'same-site') return refuse('same-site');
  if (site === 'cross-site') return refuse('cross-site');
  // Any other value is not from a conforming browser: fall through to Origin.
  return checkOriginOrToken(input);
}

/**
 * Steps 3 and 4 alone: the Origin against the app's and the trusted origins, else the session-bound
 * token. The WebSocket handshake (a GET, so never an "unsafe method") uses it directly: browsers
 * must send Origin there (RFC 6455 §4.1), which makes it the whole check (src/websocket/origin.ts).
 */
export function checkOriginOrToken(input: Omit<CsrfInput, 'method'>): CsrfDecision {
  const origin = input.headers.origin;
  if (origin !== undefined) {
    if (origin === 'null') return refuse('origin-null');
    return originAllowed(origin, input) ? OK : refuse('origin-mismatch');
  }

  const submitted = input.submittedToken;
  const valid = submitted !== undefined && submitted.length > 0 && (matches(submitted, input.sessionToken) || matches(submitted, input.cookieToken));
  if (!input.hasSessionCookie) return valid ? OK : TOKENLESS;
  if (submitted === undefined || submitted.length === 0) return refuse('token-missing');
  return valid ? OK : refuse('token-invalid');
}

function matches(submitted: string, expected: string | undefined): boolean {
  return expected !== undefined && expected.length > 0 && tokensEqual(submitted, expected);
}

function originAllowed(origin: string, input: Omit<CsrfInput, 'method'>): boolean {
  const normalized = normalizeOrigin(origin);
  if (normalized === undefined) return false;
  if (input.trustedOrigins !== undefined && input.trustedOrigins.includes(normalized)) return true;
  if (input.appOrigin !== undefined) return normalized === normalizeOrigin(input.appOrigin);
  const host = input.headers.host;
  if (host === undefined) return false;
  const url = new URL(normalized);
  const scheme = input.headers.scheme;
  if (scheme !== undefined && url.protocol !== `${scheme}:`) return false;
  // URL drops the scheme's default port from Origin; drop it from Host the same way.
  const expected = scheme === undefined ? host.toLowerCase() : normalizeOrigin(`${scheme}://${host}`);
  return scheme === undefined ? url.host === expected : normalized === expected;
}

/** scheme://host[:port] with default ports dropped and the host lowercased, or undefined if not an origin. */
export function normalizeOrigin(value: string): string | undefined {
  if (!URL.canParse(value)) return undefined;
  const url = new URL(value);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  return url.origin;
}

/**
 * Constant-time comparison (crypto.timingSafeEqual needs equal lengths; the length of a token is
 * not secret, so an unequal length returns early).
 */
export function tokensEqual(submitted: string, expected: string): boolean {
  const a = Buffer.from(submitted, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}

/** A fresh 256-bit token, base64url. */
export function createCsrfToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Exact paths, or prefixes written as '/webhooks/*'. Built once from options. */
export function createCsrfExemption(exemptPaths: readonly string[]): (path: string) => boolean {
  const exact = new Set(exemptPaths.filter((p) => !p.endsWith('/*')));
  const prefixes = exemptPaths.filter((p) => p.endsWith('/*')).map((p) => p.slice(0, -1));
  return function isCsrfExempt(path: string): boolean {
    return exact.has(path) || prefixes.some((prefix) => path.startsWith(prefix));
  };
}

const REASON_TEXT: Record<CsrfReason, string> = {
  'cross-site': 'the browser reports it comes from another site (Sec-Fetch-Site: cross-site)',
  'same-site': 'the browser reports it comes from a sibling subdomain (Sec-Fetch-Site: same-site)',
  'origin-mismatch': "its Origin is neither this app's origin nor a trusted origin",
  'origin-null': 'its Origin is "null" (sandboxed frame, file: page or privacy redirect)',
  'token-missing': 'it carries the session cookie but no CSRF token (form field _csrf or header x-csrf-token)',
  'token-invalid': 'its CSRF token does not match the session',
  'login-token': 'it logs in without a CSRF token while carrying neither Sec-Fetch-Site, Origin nor a session cookie (login CSRF)',
};

/** The 403 the lead throws for a refused decision. */
export function csrfError(reason: CsrfReason): BadRequestError {
  return new BadRequestError(
    'VIAL_ERR_CSRF',
    `Cross-site request refused: ${REASON_TEXT[reason]}. Submit forms from this app's own pages with the token from ` +
      'session.csrfToken(); add a genuine cross-origin caller to security.csrf.trustedOrigins.',
    403,
  );
}
