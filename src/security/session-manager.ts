/**
 * Server-side sessions: loads a Session from the id in the cookie before the hooks run and
 * commits it after the after-hooks (DESIGN.md, request lifecycle steps 4 and 6).
 *
 * - Ids are 256-bit random (base64url of 32 random bytes); the store only sees SHA-256 of the id.
 * - An unknown, expired, malformed or duplicated id is never adopted: the request gets an empty
 *   session, and a write issues a brand-new id (no session fixation).
 * - Nothing is stored until the first write, so anonymous traffic costs no storage.
 * - Idle and absolute timeouts are checked on the server against the record's timestamps; the
 *   cookie's lifetime is only a hint to the browser.
 * - A store failure on load degrades to an anonymous session (reported, not a 500); a failure on
 *   commit throws, because a login or logout that was not persisted must not look like success.
 */

import { createHash, randomBytes } from 'node:crypto';
import { ConfigError, VialError } from '../errors.ts';
import { serializeCookie } from './cookies.ts';
import { Session, sessionState } from './session.ts';
import type { SessionStore } from './stores/contract.ts';
import { typedChannel } from '../internal/channels.ts';

export const SECURE_SESSION_COOKIE = '__Host-vial_session';
export const INSECURE_SESSION_COOKIE = 'vial_session';

/** What `vial:session` carries (docs/sessions.md). */
export type SessionEvent =
  | { readonly event: 'rejected'; readonly reason: SessionRejection; readonly error?: unknown }
  | { readonly event: 'store-error'; readonly operation: string; readonly error: unknown }
  | { readonly event: 'insecure-cookie'; readonly cookieName: string; readonly message: string };

export const sessionChannel = typedChannel<SessionEvent>('vial:session');

export type SessionRejection = 'duplicated' | 'malformed' | 'unknown' | 'idle-timeout' | 'absolute-timeout' | 'tampered' | 'store-error';

/** The subset of pino vial uses. */
export interface LoggerLike {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface SetCookie {
  readonly name: string;
  /** Empty when the cookie is being cleared. */
  readonly value: string;
  /** The full Set-Cookie header value. */
  readonly header: string;
}

export interface SessionManager {
  readonly cookieName: string;
  /** `cookieValue` is the session cookie (undefined if absent); `duplicated` when the header carried it twice. */
  load(cookieValue: string | undefined, duplicated: boolean): Promise<Session>;
  /** Persists what the request changed; returns the Set-Cookie to send, if any. */
  commit(session: Session): Promise<SetCookie | undefined>;
  /** Ends every session of the user ("log out everywhere", after a password change); returns how many. */
  destroyAllForUser(userId: string): Promise<number>;
  close(): Promise<void>;
}

export interface SessionCookieOptions {
  /** Default `__Host-vial_session`, or `vial_session` when `secure` is false. */
  readonly cookieName?: string;
  /** Default 30 minutes. */
  readonly idleTimeoutMs?: number;
  /** Default 8 hours. */
  readonly absoluteTimeoutMs?: number;
  /** Writes that only extend the idle timeout happen at most this often. Default 60 s (capped at idle/4). */
  readonly touchIntervalMs?: number;
  /** Default true. False only for development over plain http; the cookie name loses its __Host- prefix. */
  readonly secure?: boolean;
  /** Default 'Lax' (top-level navigations from links keep the login; cross-site POSTs do not carry it). */
  readonly sameSite?: 'Lax' | 'Strict';
  /** Clock in epoch milliseconds; tests inject one. */
  readonly now?: () => number;
  readonly logger?: LoggerLike;
}

export interface SessionManagerOptions extends SessionCookieOptions {
  readonly store: SessionStore;
}

export interface CookieSettings {
  readonly cookieName: string;
  readonly idleTimeoutMs: number;
  readonly absoluteTimeoutMs: number;
  readonly touchIntervalMs: number;
  readonly secure: boolean;
  readonly sameSite: 'Lax' | 'Strict';
  readonly now: () => number;
  readonly logger: LoggerLike | undefined;
}

/** Shared by the server-side and cookie managers. */
export function resolveCookieSettings(options: SessionCookieOptions): CookieSettings {
  const secure = options.secure ?? true;
  const cookieName = options.cookieName ?? (secure ? SECURE_SESSION_COOKIE : INSECURE_SESSION_COOKIE);
  const idleTimeoutMs = options.idleTimeoutMs ?? 30 * 60_000;
  const absoluteTimeoutMs = options.absoluteTimeoutMs ?? 8 * 3_600_000;
  const touchIntervalMs = options.touchIntervalMs ?? Math.min(60_000, Math.floor(idleTimeoutMs / 4));
  const bad = (message: string): ConfigError => new ConfigError('VIAL_ERR_SESSION_OPTIONS', message);
  for (const [name, value] of [['idleTimeoutMs', idleTimeoutMs], ['absoluteTimeoutMs', absoluteTimeoutMs]] as const) {
    if (!Number.isSafeInteger(value) || value < 1_000) throw bad(`Session ${name} must be an integer of at least 1000 ms, got ${value}.`);
  }
  if (idleTimeoutMs > absoluteTimeoutMs) throw bad(`Session idleTimeoutMs (${idleTimeoutMs}) cannot exceed absoluteTimeoutMs (${absoluteTimeoutMs}).`);
  if (!Number.isSafeInteger(touchIntervalMs) || touchIntervalMs < 0 || touchIntervalMs >= idleTimeoutMs) {
    throw bad(`Session touchIntervalMs must be a non-negative integer below idleTimeoutMs, got ${touchIntervalMs}.`);
  }
  if (!secure && cookieName.startsWith('__Host-')) {
    throw bad(`Session cookie ${cookieName} has the __Host- prefix, which browsers only accept with Secure. Keep secure: true or drop the prefix.`);
  }
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(cookieName)) throw bad(`Session cookie name ${JSON.stringify(cookieName)} is not a valid token.`);
  const settings = { cookieName, idleTimeoutMs, absoluteTimeoutMs, touchIntervalMs, secure, sameSite: options.sameSite ?? 'Lax', now: options.now ?? Date.now, logger: options.logger } as const;
  if (!secure) {
    const message = `Session cookie "${cookieName}" is sent without Secure (development over plain http). Never run production like this.`;
    options.logger?.warn({ cookieName }, message);
    sessionChannel.publish({ event: 'insecure-cookie', cookieName, message });
  }
  return Object.freeze(settings);
}

/** `maxAgeSec` undefined: a browser-session cookie (no Max-Age), the default unless "remember me". */
export function sessionCookie(settings: CookieSettings, value: string, maxAgeSec: number | undefined): SetCookie {
  const header = serializeCookie(settings.cookieName, value, {
    path: '/',
    secure: settings.secure,
    httpOnly: true,
    sameSite: settings.sameSite,
    ...(maxAgeSec === undefined ? {} : { maxAgeSec }),
  });
  return { name: settings.cookieName, value, header };
}

export function reportRejection(reason: SessionRejection, error?: unknown, logger?: LoggerLike): void {
  if (reason === 'store-error') logger?.error({ err: error }, 'Session store failed on load; the request continues with an empty session.');
  if (sessionChannel.hasSubscribers) sessionChannel.publish(error === undefined ? { event: 'rejected', reason } : { event: 'rejected', reason, error });
}

const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

function storeKey(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}

function storeFailure(operation: string, cause: unknown): VialError {
  if (sessionChannel.hasSubscribers) sessionChannel.publish({ event: 'store-error', operation, error: cause });
  return new VialError(
    'VIAL_ERR_SESSION_STORE',
    `The session store failed to ${operation}; the session change was not saved. Check the store (SQLite file, Redis) is reachable and writable.`,
    { status: 503, expose: false, cause },
  );
}

export function createSessionManager(options: SessionManagerOptions): SessionManager {
  const settings = resolveCookieSettings(options);
  const store = options.store;
  const { now, logger } = settings;

  async function destroy(id: string): Promise<void> {
    try {
      await store.destroy(storeKey(id));
    } catch (error) {
      throw storeFailure('destroy a retired session', error);
    }
  }

  return {
    cookieName: settings.cookieName,

    async load(cookieValue, duplicated) {
      if (duplicated) {
        reportRejection('duplicated');
        return new Session({ rejectedCookie: true });
      }
      if (cookieValue === undefined) return new Session();
      if (!SESSION_ID.test(cookieValue)) {
        reportRejection('malformed');
        return new Session({ rejectedCookie: true });
      }
      const key = storeKey(cookieValue);
      let record;
      try {
        record = await store.get(key);
      } catch (error) {
        reportRejection('store-error', error, logger);
        return new Session();
      }
      if (record === undefined) {
        reportRejection('unknown');
        return new Session({ rejectedCookie: true });
      }
      const t = now();
      const expired =
        t - record.createdAt >= settings.absoluteTimeoutMs ? 'absolute-timeout' : t - record.lastSeenAt >= settings.idleTimeoutMs ? 'idle-timeout' : undefined;
      if (expired !== undefined) {
        reportRejection(expired);
        // Best effort: the store's own ttl removes the record anyway.
        await store.destroy(key).catch((error: unknown) => reportRejection('store-error', error, logger));
        return new Session({ rejectedCookie: true });
      }
      return new Session({
        id: cookieValue,
        data: record.data,
        ...(record.userId === undefined ? {} : { userId: record.userId }),
        createdAt: record.createdAt,
        lastSeenAt: record.lastSeenAt,
      });
    },

    async commit(session) {
      const s = sessionState(session);
      const retired = s.retiredIds.splice(0);
      for (const id of retired) await destroy(id);
      const t = now();
      const hasContent = s.userId !== undefined || Object.keys(s.data).length > 0;
      if (!hasContent) {
        const hadCookie = s.id !== undefined || retired.length > 0 || s.rejectedCookie;
        if (s.id !== undefined) await destroy(s.id);
        s.id = undefined;
        s.modified = false;
        s.rejectedCookie = false;
        return hadCookie ? sessionCookie(settings, '', 0) : undefined;
      }
      const fresh = s.id === undefined;
      const createdAt = fresh ? t : (s.createdAt ?? t);
      if (!fresh && !s.modified && t - (s.lastSeenAt ?? 0) < settings.touchIntervalMs) return undefined;
      const id = fresh ? randomBytes(32).toString('base64url') : (s.id as string);
      const ttlMs = Math.max(1, Math.min(settings.idleTimeoutMs, createdAt + settings.absoluteTimeoutMs - t));
      const record = { data: { ...s.data }, createdAt, lastSeenAt: t, ...(s.userId === undefined ? {} : { userId: s.userId }) };
      let saved = true;
      try {
        if (fresh) await store.set(storeKey(id), record, ttlMs);
        else saved = await store.update(storeKey(id), record, ttlMs);
      } catch (error) {
        throw storeFailure('save the session', error);
      }
      if (!saved) {
        // Destroyed while this request ran (logout in another tab, "log out everywhere", a login
        // rotation, expiry): intentionally not recreated, or a logged-out session would come back.
        // No clearing cookie either: the browser may already hold the id a concurrent login issued.
        reportRejection('unknown');
        s.id = undefined;
        s.modified = false;
        s.rejectedCookie = false;
        return undefined;
      }
      s.id = id;
      s.createdAt = createdAt;
      s.lastSeenAt = t;
      s.modified = false;
      s.rejectedCookie = false;
      if (!fresh) return undefined;
      return sessionCookie(settings, id, session.remembered ? Math.ceil(settings.absoluteTimeoutMs / 1000) : undefined);
    },

    async destroyAllForUser(userId) {
      if (store.destroyAllForUser === undefined) {
        throw new ConfigError('VIAL_ERR_SESSION_UNSUPPORTED', 'This session store cannot end all sessions of a user. Use the sqlite, redis or memory store.');
      }
      try {
        return await store.destroyAllForUser(userId);
      } catch (error) {
        throw storeFailure('end the sessions of a user', error);
      }
    },

    close() {
      return store.close();
    },
  };
}
