/**
 * Cross-site WebSocket hijacking (CSWSH) is the WebSocket form of CSRF: a page on another site opens
 * a socket to the app, the browser attaches the session cookie, and the page reads and writes as the
 * user. Browsers send no preflight and no CORS check for WebSockets; the server's only defence is
 * the Origin header, which browsers must send on the handshake (RFC 6455 §4.1 item 8, §10.2) and
 * page script cannot forge (a forbidden header name).
 *
 * The decision is CSRF's own (security/csrf.ts, `checkOriginOrToken`), with the socket's allowed
 * origins in place of the trusted ones:
 *   - an Origin must be the app's own (security.csrf.appOrigin, else the Host) or an allowed one;
 *     "null" (sandboxed frames, file: pages) is refused;
 *   - no Origin means no browser (or a broken one): like a CSRF check without Origin, a handshake
 *     carrying the session cookie must carry the session's CSRF token (`x-csrf-token`), and one
 *     without the cookie has no ambient credential to abuse and passes.
 * Sec-Fetch-Site without an Origin is from no conforming browser: its cross-site/same-site values
 * are refused as CSRF refuses them.
 *
 * Pure module: no I/O.
 */
import { BadRequestError } from '../errors.ts';
import { unmaskToken } from '../security/csrf-token.ts';
import { checkOriginOrToken } from '../security/csrf.ts';
import type { CsrfDecision, CsrfReason } from '../security/csrf.ts';

export interface HandshakeOriginInput {
  readonly origin: string | undefined;
  readonly secFetchSite: string | undefined;
  readonly host: string | undefined;
  readonly hasSessionCookie: boolean;
  readonly sessionToken: string | undefined;
  /** The `x-csrf-token` header of the handshake. */
  readonly submittedToken: string | undefined;
}

export interface OriginPolicy {
  /** security.csrf.appOrigin, or undefined to compare with the Host header. */
  readonly appOrigin: string | undefined;
  /** websocket.allowedOrigins (default: security.csrf.trustedOrigins), normalized. */
  readonly allowedOrigins: readonly string[];
}

export function checkHandshakeOrigin(input: HandshakeOriginInput, policy: OriginPolicy): CsrfDecision {
  if (input.origin === undefined && (input.secFetchSite === 'cross-site' || input.secFetchSite === 'same-site')) {
    return { ok: false, reason: input.secFetchSite };
  }
  return checkOriginOrToken({
    headers: { origin: input.origin, host: input.host },
    appOrigin: policy.appOrigin,
    trustedOrigins: policy.allowedOrigins,
    hasSessionCookie: input.hasSessionCookie,
    sessionToken: input.sessionToken,
    // Pages embed masked tokens (ctx.csrfToken()); the comparison is on the secret inside.
    submittedToken: input.submittedToken === undefined ? undefined : (unmaskToken(input.submittedToken) ?? input.submittedToken),
  });
}

const REASON_TEXT: Record<CsrfReason, string> = {
  'cross-site': 'the browser reports it comes from another site',
  'same-site': 'the browser reports it comes from a sibling subdomain',
  'origin-mismatch': "its Origin is neither this app's origin nor one of websocket.allowedOrigins",
  'origin-null': 'its Origin is "null" (sandboxed frame, file: page or privacy redirect)',
  'token-missing': 'it has no Origin (not a browser) and carries the session cookie but no x-csrf-token header',
  'token-invalid': 'it has no Origin and its x-csrf-token header does not match the session',
  'login-token': 'it has no Origin and no token',
};

/** The 403 a refused handshake gets, before the upgrade (the client sees an HTTP error, no socket). */
export function originRefusal(reason: CsrfReason): BadRequestError {
  return new BadRequestError(
    'VIAL_ERR_WS_ORIGIN',
    `WebSocket refused: ${REASON_TEXT[reason]}. Open sockets from this app's own pages; add a genuine other origin ` +
      'to websocket.allowedOrigins (scheme://host[:port]).',
    403,
  );
}
