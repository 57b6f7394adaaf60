/**
 * The security layer as the dispatcher uses it: session load/commit around a request, the CSRF
 * guard for unsafe methods, and the response rules that go with sessions. Built once from the
 * resolved `config.security`; the session store opens on first use, so an app that never touches
 * sessions never creates a store.
 */
import type { Logger } from 'pino';
import { outsideRequestContext } from '../context.ts';
import type { Context } from '../context.ts';
import type { VialResponse } from '../response.ts';
import { checkCsrf, createCsrfExemption, csrfError, CSRF_FORM_FIELD, CSRF_HEADER } from './csrf.ts';
import type { CsrfDecision, CsrfReason } from './csrf.ts';
import { createAnonymousCsrfCookie, maskToken, tokenMatches, unmaskToken } from './csrf-token.ts';
import { createSessionManagerFromOptions } from './factory.ts';
import { SESSION_CACHE_CONTROL, varyWithCookie } from './headers.ts';
import type { ResolvedSecurityOptions } from './options.ts';
import { guardLogin, Session } from './session.ts';
import type { SessionManager } from './session-manager.ts';
import { typedChannel } from '../internal/channels.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);
const isForm = (type: string): boolean => type === 'application/x-www-form-urlencoded' || type === 'multipart/form-data';
/** What `vial:csrf` carries: one refused request. */
export interface CsrfEvent {
  readonly route: string | undefined;
  readonly reason: CsrfReason;
  readonly reqId: string;
}

export const csrfChannel = typedChannel<CsrfEvent>('vial:csrf');

export interface SecurityLayer {
  /** Loads the session when the request carries the session cookie; otherwise nothing (lazy). */
  loadSession(ctx: Context): Promise<void> | undefined;
  /** The session for a request without one yet (created on first use, persisted on first write). */
  newSession(ctx?: Context): Session;
  /**
   * A CSRF token for a page, masked afresh each call (BREACH). Bound to the stored session when the
   * request has one; otherwise to the anonymous csrf cookie, so anonymous pages store nothing.
   */
  csrfToken(ctx: Context): string;
  /** Refuses cross-site unsafe requests; throws the 403. May read the form for the `_csrf` field. */
  guard(ctx: Context, routeCsrf: boolean | undefined): Promise<void> | undefined;
  /** Saves the session and adds its cookie and cache rules to the response. */
  commit(ctx: Context, response: VialResponse): Promise<void> | undefined;
  readonly csrfRefusals: Readonly<Record<CsrfReason, number>>;
  sessionManager(): SessionManager;
  close(): Promise<void>;
}

export function createSecurityLayer(options: ResolvedSecurityOptions, log: Logger): SecurityLayer {
  let manager: SessionManager | undefined;
  // Opened on first use, which is inside a request: outside its context, since the store (its
  // sweep timer, a Redis client) lives as long as the app.
  const getManager = (): SessionManager => (manager ??= outsideRequestContext(() => createSessionManagerFromOptions(options, { logger: log })));
  const cookieName = options.session.cookieName;
  const isExempt = createCsrfExemption(options.csrf.exemptPaths);
  const csrfRefusals: Record<CsrfReason, number> = {
    'cross-site': 0,
    'same-site': 0,
    'origin-mismatch': 0,
    'origin-null': 0,
    'token-missing': 0,
    'token-invalid': 0,
    'login-token': 0,
  };
  const anonymous = createAnonymousCsrfCookie({ secure: options.session.secure, sameSite: options.session.sameSite, secretKeys: options.secretKeys });
  /** Requests that passed CSRF only for want of any credential: they may not log in. */
  const tokenless = new WeakSet<Context>();
  /** The anonymous secret a request uses (read from its cookie, or issued with this response). */
  const anonymousSecrets = new WeakMap<Context, string>();

  function cookieSecret(ctx: Context): string | undefined {
    let secret = anonymousSecrets.get(ctx);
    if (secret === undefined && ctx.request.raw.headers.cookie !== undefined) {
      secret = anonymous.read(ctx.request.cookies[anonymous.name]);
      if (secret !== undefined) anonymousSecrets.set(ctx, secret);
    }
    return secret;
  }

  /** A submitted token as the secret it carries (a malformed one stays as sent, so it fails to match). */
  const unmasked = (token: string | undefined): string | undefined => (token === undefined ? undefined : (unmaskToken(token) ?? token));

  function refuse(ctx: Context, reason: CsrfReason): never {
    csrfRefusals[reason]++;
    if (csrfChannel.hasSubscribers) csrfChannel.publish({ route: ctx.route?.key, reason, reqId: ctx.id });
    throw csrfError(reason);
  }

  async function guardWithForm(ctx: Context, hasSessionCookie: boolean): Promise<void> {
    // Reached for a request with neither Sec-Fetch-Site nor Origin and no token header: an old
    // browser or a non-browser client. The token may sit in the form body.
    let submitted: string | undefined;
    if (isForm(ctx.request.contentType)) {
      // Raced against the deadline: a client that stalls mid-body must not hold the guard (408).
      submitted = (await raceSignal(ctx.request.form(), ctx.signal)).get(CSRF_FORM_FIELD) ?? undefined;
    }
    decide(ctx, checkCsrf({
      method: ctx.request.method,
      headers: {},
      hasSessionCookie,
      sessionToken: (ctx.sessionState as Session | undefined)?.peekCsrfToken(),
      cookieToken: cookieSecret(ctx),
      submittedToken: unmasked(submitted),
    }));
  }

  function decide(ctx: Context, decision: CsrfDecision): void {
    if (!decision.ok) refuse(ctx, decision.reason);
    if (decision.tokenless === true) tokenless.add(ctx);
  }

  return {
    csrfRefusals,
    sessionManager: getManager,

    loadSession(ctx) {
      const request = ctx.request;
      if (request.raw.headers.cookie === undefined) return undefined;
      const value = request.cookies[cookieName];
      const duplicated = request.duplicateCookies.has(cookieName);
      if (value === undefined && !duplicated) return undefined;
      return getManager()
        .load(value, duplicated)
        .then((session) => {
          ctx.sessionState = session;
        });
    },

    newSession(ctx) {
      const session = new Session();
      // Login CSRF (OWASP): a cross-site form from a browser that sends neither Sec-Fetch-Site nor
      // Origin could log the victim into the attacker's account; with no session cookie there is
      // nothing else to check, so the login itself needs the token.
      // The token may be in the form the handler read to get the password (never read here, so a
      // cookieless API post costs no body read in the guard).
      if (ctx !== undefined && tokenless.has(ctx)) {
        guardLogin(session, () => {
          const field = ctx.request.parsedForm?.get(CSRF_FORM_FIELD) ?? undefined;
          if (field === undefined || !tokenMatches(field, [cookieSecret(ctx)])) refuse(ctx, 'login-token');
        });
      }
      return session;
    },

    csrfToken(ctx) {
      const session = ctx.sessionState as Session | undefined;
      if (session !== undefined && (!session.isNew || session.modified)) return maskToken(session.csrfToken());
      let secret = cookieSecret(ctx);
      if (secret === undefined) {
        const issued = anonymous.issue();
        secret = issued.secret;
        anonymousSecrets.set(ctx, secret);
        ctx.header('set-cookie', issued.header);
      }
      return maskToken(secret);
    },

    guard(ctx, routeCsrf) {
      const request = ctx.request;
      if (SAFE_METHODS.has(request.method) || !options.csrf.enabled || routeCsrf === false || isExempt(request.path)) return undefined;
      const headers = request.raw.headers;
      const hasSessionCookie = headers.cookie !== undefined && request.cookies[cookieName] !== undefined;
      const session = ctx.sessionState as Session | undefined;
      const headerToken = headers[CSRF_HEADER];
      const submitted = typeof headerToken === 'string' ? headerToken : undefined;
      const decision = checkCsrf({
        method: request.method,
        headers: { secFetchSite: headers['sec-fetch-site'], origin: headers.origin, host: request.host, scheme: request.protocol },
        appOrigin: options.csrf.appOrigin,
        trustedOrigins: options.csrf.trustedOrigins,
        hasSessionCookie,
        sessionToken: session?.peekCsrfToken(),
        cookieToken: cookieSecret(ctx),
        submittedToken: unmasked(submitted),
      });
      // No header token: the form may carry one (needed with a session cookie, and for a login).
      if (!decision.ok && decision.reason === 'token-missing') return guardWithForm(ctx, hasSessionCookie);
      decide(ctx, decision);
      return undefined;
    },

    commit(ctx, response) {
      const session = ctx.sessionState as Session | undefined;
      if (session === undefined) return undefined;
      // A response that read or set a session is personal (RFC 9111 §5.2.2.5, RFC 9110 §12.5.5).
      response.headers['cache-control'] = SESSION_CACHE_CONTROL;
      const vary = response.headers['vary'];
      response.headers['vary'] = varyWithCookie(typeof vary === 'string' ? vary : undefined);
      return getManager()
        .commit(session)
        .then((cookie) => {
          if (cookie === undefined) return;
          // With ctx.setCookie() cookies pending, the session cookie joins them (the response's
          // own Set-Cookie would be shadowed by the request's list when the head is built).
          if (ctx.responseHeaders?.['set-cookie'] !== undefined) ctx.header('set-cookie', cookie.header);
          else response.appendHeader('set-cookie', cookie.header);
        });
    },

    async close() {
      await manager?.close();
    },
  };
}

/** Rejects with the signal's reason when it aborts first (the request's deadline or disconnect). */
function raceSignal<T>(pending: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

