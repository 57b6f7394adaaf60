/**
 * Security options: secure defaults, bounds, and the secret policy, resolved once at app start
 * into a frozen object (CONVENTIONS.md "config flows one way"). Every protection is on unless an
 * option visibly turns it off.
 *
 * Pure module: reads no environment (config.ts maps VIAL_SECRET_KEY to `secretKey`), opens nothing.
 */

import { ConfigError } from '../errors.ts';
import { normalizeOrigin } from './csrf.ts';
import { buildSecurityHeaders, type HeaderList, type SecurityHeadersOptions } from './headers.ts';
import { checkSecret } from './secret.ts';
import { INSECURE_SESSION_COOKIE, SECURE_SESSION_COOKIE } from './session-manager.ts';
import type { SessionStore } from './stores/contract.ts';
import { inBounds } from '../internal/bounds.ts';

export type SessionStoreChoice = 'sqlite' | 'memory' | 'redis' | 'cookie' | SessionStore;

export interface SessionOptions {
  /** Default 'sqlite': survives restarts and is shared by all workers on the machine. */
  readonly store?: SessionStoreChoice;
  /** Default '.vial/sessions.sqlite' (relative to the working directory). */
  readonly sqlitePath?: string;
  /** Required for store 'redis'. */
  readonly redisUrl?: string;
  /** Default 'vial:sess:'. */
  readonly redisPrefix?: string;
  /** Bound of store 'memory'. Default 10,000. */
  readonly maxEntries?: number;
  /** Default 30 minutes. */
  readonly idleTimeoutMs?: number;
  /** Default 8 hours. */
  readonly absoluteTimeoutMs?: number;
  /** Default `__Host-vial_session` (or `vial_session` when not secure). */
  readonly cookieName?: string;
  /** Default true in production or over https; false only in development over plain http. */
  readonly secure?: boolean;
  readonly sameSite?: 'Lax' | 'Strict';
  /**
   * The wall clock (ms since the epoch) that idle and absolute timeouts are measured on, by the
   * manager and the built-in stores alike. Default `Date.now`. Tests pass a fake clock to step past
   * a timeout instead of sleeping through it.
   */
  readonly now?: () => number;
}

export interface CsrfOptions {
  /** Default true. */
  readonly enabled?: boolean;
  /** Exact origins (scheme://host[:port]) allowed to send unsafe requests besides the app's own. */
  readonly trustedOrigins?: readonly string[];
  /** Paths that skip the check: exact, or a prefix written '/webhooks/*'. For signed webhooks only. */
  readonly exemptPaths?: readonly string[];
  /** The app's public origin; default: derived per request from the Host header. */
  readonly appOrigin?: string;
}

export interface SecurityOptions {
  readonly secretKey?: string;
  /** For rotation: the first seals/signs, all verify. Takes precedence over secretKey. */
  readonly secretKeys?: readonly string[];
  readonly session?: SessionOptions;
  readonly csrf?: CsrfOptions;
  readonly headers?: SecurityHeadersOptions & { readonly enabled?: boolean };
}

export interface ResolvedSessionOptions {
  readonly store: SessionStoreChoice;
  readonly sqlitePath: string;
  readonly redisUrl: string | undefined;
  readonly redisPrefix: string;
  readonly maxEntries: number;
  readonly idleTimeoutMs: number;
  readonly absoluteTimeoutMs: number;
  readonly cookieName: string;
  readonly secure: boolean;
  readonly sameSite: 'Lax' | 'Strict';
  readonly now: () => number;
}

export interface ResolvedSecurityOptions {
  /** Empty when no secret was given and none is needed (server-side sessions). */
  readonly secretKeys: readonly string[];
  /** Development only: why the secret would be refused in production, to log once at start. */
  readonly secretWarning: string | undefined;
  readonly session: ResolvedSessionOptions;
  readonly csrf: { readonly enabled: boolean; readonly trustedOrigins: readonly string[]; readonly exemptPaths: readonly string[]; readonly appOrigin: string | undefined };
  /** Precomputed; empty when headers are disabled. */
  readonly headers: HeaderList;
}

export interface SecurityContext {
  readonly production: boolean;
  /** The app is served over https (directly or behind a TLS proxy). Default: same as production. */
  readonly https?: boolean;
}

export const SECURITY_DEFAULTS = Object.freeze({
  session: Object.freeze({
    store: 'sqlite',
    sqlitePath: '.vial/sessions.sqlite',
    redisPrefix: 'vial:sess:',
    maxEntries: 10_000,
    idleTimeoutMs: 30 * 60_000,
    absoluteTimeoutMs: 8 * 3_600_000,
    sameSite: 'Lax',
  }),
  csrf: Object.freeze({ enabled: true }),
});

const bad = (message: string): ConfigError => new ConfigError('VIAL_ERR_SECURITY_OPTIONS', message);

function integerIn(name: string, value: number, min: number, max: number): number {
  return inBounds(value, { name: `security.${name}`, min, max }, bad);
}

export function resolveSecurityOptions(partial: SecurityOptions = {}, context: SecurityContext): ResolvedSecurityOptions {
  const { production } = context;
  const https = context.https ?? production;
  const s = partial.session ?? {};
  const d = SECURITY_DEFAULTS.session;

  const store = s.store ?? d.store;
  const rawSecrets = partial.secretKeys ?? (partial.secretKey === undefined ? [] : [partial.secretKey]);
  let secretWarning: string | undefined;
  const secretKeys: string[] = [];
  // Checked whenever given (a weak key must never reach production); required only where used.
  if (rawSecrets.length > 0 || store === 'cookie') {
    for (const secret of rawSecrets.length > 0 ? rawSecrets : [undefined]) {
      const checked = checkSecret(secret, { production });
      secretKeys.push(checked.secret);
      secretWarning ??= checked.warning;
    }
  }

  const secure = s.secure ?? (production || https);
  if (!secure && production) {
    throw bad('security.session.secure is false in production: the session cookie would travel over plain http. Serve https (or terminate TLS at a proxy) and keep secure: true.');
  }
  if (store === 'redis' && (s.redisUrl === undefined || s.redisUrl === '')) {
    throw bad("security.session.store is 'redis' but no redisUrl is set. Set security.session.redisUrl (e.g. redis://127.0.0.1:6379) or pass a RedisSessionStore.");
  }
  const idleTimeoutMs = integerIn('session.idleTimeoutMs', s.idleTimeoutMs ?? d.idleTimeoutMs, 1_000, 30 * 86_400_000);
  const absoluteTimeoutMs = integerIn('session.absoluteTimeoutMs', s.absoluteTimeoutMs ?? d.absoluteTimeoutMs, 1_000, 400 * 86_400_000);
  if (idleTimeoutMs > absoluteTimeoutMs) throw bad(`security.session.idleTimeoutMs (${idleTimeoutMs}) cannot exceed absoluteTimeoutMs (${absoluteTimeoutMs}).`);
  const cookieName = s.cookieName ?? (secure ? SECURE_SESSION_COOKIE : INSECURE_SESSION_COOKIE);
  if (!secure && cookieName.startsWith('__Host-')) throw bad(`security.session.cookieName ${cookieName} needs secure: true (the __Host- prefix requires Secure).`);

  const session: ResolvedSessionOptions = Object.freeze({
    store,
    sqlitePath: s.sqlitePath ?? d.sqlitePath,
    redisUrl: s.redisUrl,
    redisPrefix: s.redisPrefix ?? d.redisPrefix,
    maxEntries: integerIn('session.maxEntries', s.maxEntries ?? d.maxEntries, 1, 10_000_000),
    idleTimeoutMs,
    absoluteTimeoutMs,
    cookieName,
    secure,
    sameSite: s.sameSite ?? d.sameSite,
    now: s.now ?? Date.now,
  });

  const c = partial.csrf ?? {};
  const trustedOrigins = (c.trustedOrigins ?? []).map((origin) => {
    const normalized = normalizeOrigin(origin);
    if (normalized === undefined || normalized !== origin.replace(/\/$/, '').toLowerCase()) {
      throw bad(`security.csrf.trustedOrigins entry ${JSON.stringify(origin)} is not an exact origin. Write scheme://host[:port], no path.`);
    }
    return normalized;
  });
  const exemptPaths = [...(c.exemptPaths ?? [])];
  for (const path of exemptPaths) if (!path.startsWith('/')) throw bad(`security.csrf.exemptPaths entry ${JSON.stringify(path)} must start with '/'.`);
  let appOrigin: string | undefined;
  if (c.appOrigin !== undefined) {
    appOrigin = normalizeOrigin(c.appOrigin);
    if (appOrigin === undefined) throw bad(`security.csrf.appOrigin ${JSON.stringify(c.appOrigin)} is not an origin. Write scheme://host[:port].`);
  }

  const h = partial.headers ?? {};
  const headers = h.enabled === false ? Object.freeze([]) : buildSecurityHeaders(h, { production, https });

  return Object.freeze({
    secretKeys: Object.freeze(secretKeys),
    secretWarning,
    session,
    csrf: Object.freeze({
      enabled: c.enabled ?? SECURITY_DEFAULTS.csrf.enabled,
      trustedOrigins: Object.freeze(trustedOrigins),
      exemptPaths: Object.freeze(exemptPaths),
      appOrigin,
    }),
    headers,
  });
}
