/** Public surface of src/security: sessions, CSRF, cookies, headers, secret policy. */

// Options and assembly
export {
  resolveSecurityOptions,
  SECURITY_DEFAULTS,
  type SecurityOptions,
  type SessionOptions,
  type CsrfOptions,
  type SecurityContext,
  type ResolvedSecurityOptions,
  type ResolvedSessionOptions,
  type SessionStoreChoice,
} from './options.ts';
export { createSessionManagerFromOptions, type SessionFactoryDeps } from './factory.ts';

// Sessions
export { Session, CSRF_SESSION_KEY } from './session.ts';
export {
  createSessionManager,
  sessionChannel,
  SECURE_SESSION_COOKIE,
  INSECURE_SESSION_COOKIE,
  type SessionManager,
  type SessionManagerOptions,
  type SessionCookieOptions,
  type SessionRejection,
  type SetCookie,
  type LoggerLike,
} from './session-manager.ts';
export { createCookieSessionManager, type CookieSessionOptions } from './cookie-session.ts';
export type { SessionRecord, SessionStore } from './stores/contract.ts';
export { MemorySessionStore, type MemoryStoreOptions } from './stores/memory.ts';
export { SqliteSessionStore, type SqliteStoreOptions } from './stores/sqlite.ts';
export { RedisSessionStore, type RedisStoreOptions } from './stores/redis.ts';

// CSRF
export {
  checkCsrf,
  createCsrfToken,
  createCsrfExemption,
  csrfError,
  tokensEqual,
  normalizeOrigin,
  CSRF_FORM_FIELD,
  CSRF_HEADER,
  type CsrfInput,
  type CsrfDecision,
  type CsrfReason,
} from './csrf.ts';

// Cookies and headers
export {
  parseCookieHeader,
  readCookie,
  serializeCookie,
  DEFAULT_COOKIE_PARSE_LIMITS,
  type CookieAttributes,
  type CookieParseLimits,
  type ParsedCookies,
} from './cookies.ts';
export { buildSecurityHeaders, varyWithCookie, SESSION_CACHE_CONTROL, type HeaderList, type SecurityHeadersOptions } from './headers.ts';

// Secret policy
export { checkSecret, secretWeakness, estimateEntropyBits, WEAK_SECRETS, SECRET_ENV_VAR, type SecretCheck } from './secret.ts';
