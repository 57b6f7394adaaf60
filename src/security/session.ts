/**
 * The `Session` handlers use, the same for server-side and cookie sessions so a handler cannot
 * tell them apart. It only records intent (data changes, login, logout, rotation); the manager
 * turns that into store writes and Set-Cookie at commit, after the after-hooks.
 *
 * Pure module: no I/O, no timers. The CSRF token is created lazily with node:crypto random bytes.
 */

import { ConfigError } from '../errors.ts';
import { createCsrfToken } from './csrf.ts';

/** Session data key holding the CSRF token; reserved so application code cannot clobber it. */
export const CSRF_SESSION_KEY = '_vial_csrf';
/** Set by `login(id, { remember: true })`: the cookie gets Max-Age (a persistent cookie). */
export const REMEMBER_SESSION_KEY = '_vial_remember';

/** What the managers read back at commit. Not exported from the package. */
export interface SessionState {
  data: Record<string, unknown>;
  userId: string | undefined;
  createdAt: number | undefined;
  lastSeenAt: number | undefined;
  /** The id the client presented and the store confirmed; undefined for a new session. */
  id: string | undefined;
  /** Ids to destroy at commit (rotated away by login, logout or regenerate). */
  readonly retiredIds: string[];
  /** The client presented a session cookie that was not accepted (so it should be cleared). */
  rejectedCookie: boolean;
  modified: boolean;
  readonly isNew: boolean;
}

const states = new WeakMap<Session, SessionState>();
/** Checks run by login() before it changes anything (the CSRF layer's login-CSRF refusal). */
const loginGuards = new WeakMap<Session, () => void>();

/** Makes `session.login()` call `check` first; `check` throws to refuse the login. */
export function guardLogin(session: Session, check: () => void): void {
  loginGuards.set(session, check);
}

/** Manager-side access to a session's state; throws if the object was not made by a manager. */
export function sessionState(session: Session): SessionState {
  const state = states.get(session);
  if (state === undefined) throw new ConfigError('VIAL_ERR_SESSION_FOREIGN', 'This Session was not created by a vial session manager.');
  return state;
}

export interface SessionInit {
  readonly id?: string;
  readonly data?: Record<string, unknown>;
  readonly userId?: string;
  readonly createdAt?: number;
  readonly lastSeenAt?: number;
  readonly rejectedCookie?: boolean;
}

function assertKey(key: string): void {
  if (key === REMEMBER_SESSION_KEY) {
    throw new ConfigError('VIAL_ERR_SESSION_RESERVED_KEY', `Session key "${REMEMBER_SESSION_KEY}" is reserved for "remember me". Use login(userId, { remember: true }), or pick another key.`);
  }
  if (key === CSRF_SESSION_KEY) {
    throw new ConfigError(
      'VIAL_ERR_SESSION_RESERVED_KEY',
      `Session key "${CSRF_SESSION_KEY}" is reserved for the CSRF token. Use session.csrfToken() to read it, or pick another key.`,
    );
  }
}

export class Session {
  constructor(init: SessionInit = {}) {
    const data: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    if (init.data !== undefined) Object.assign(data, init.data);
    states.set(this, {
      data,
      userId: init.userId,
      createdAt: init.createdAt,
      lastSeenAt: init.lastSeenAt,
      id: init.id,
      retiredIds: [],
      rejectedCookie: init.rejectedCookie ?? false,
      modified: false,
      isNew: init.id === undefined,
    });
  }

  /** True when the request carried no valid session (nothing was loaded from the store). */
  get isNew(): boolean {
    return sessionState(this).isNew;
  }

  /** True when something will be written at commit. */
  get modified(): boolean {
    return sessionState(this).modified;
  }

  /** The logged-in user, set by `login()` and cleared by `logout()`. */
  get userId(): string | undefined {
    return sessionState(this).userId;
  }

  get<T = unknown>(key: string): T | undefined {
    assertKey(key);
    return sessionState(this).data[key] as T | undefined;
  }

  has(key: string): boolean {
    assertKey(key);
    return Object.hasOwn(sessionState(this).data, key);
  }

  /** Values must be JSON-serializable: every store serializes them. */
  set(key: string, value: unknown): void {
    assertKey(key);
    if (value === undefined) {
      this.delete(key);
      return;
    }
    const state = sessionState(this);
    state.data[key] = value;
    state.modified = true;
  }

  delete(key: string): void {
    assertKey(key);
    const state = sessionState(this);
    if (!Object.hasOwn(state.data, key)) return;
    delete state.data[key];
    state.modified = true;
  }

  /** Removes all data (the user stays logged in; use logout() to end the login). */
  clear(): void {
    const state = sessionState(this);
    if (Object.keys(state.data).length === 0) return;
    state.data = Object.create(null) as Record<string, unknown>;
    state.modified = true;
  }

  /** Call after mutating a stored object in place (`session.get('cart').push(x)`), which set() cannot see. */
  markModified(): void {
    sessionState(this).modified = true;
  }

  /**
   * Binds the session to a user and rotates its id: the pre-login id is destroyed at commit, so an
   * id planted before login (session fixation, OWASP ASVS V3.2.1) is worthless afterwards.
   *
   * The session cookie is a browser-session cookie (no Max-Age: gone when the browser closes;
   * the idle and absolute timeouts bound it on the server either way). `{ remember: true }`, for
   * an explicit "remember me", makes it persistent up to the absolute timeout (OWASP session
   * management cheat sheet: non-persistent cookies by default).
   */
  login(userId: string, options: { readonly remember?: boolean } = {}): void {
    if (typeof userId !== 'string' || userId.length === 0) {
      throw new ConfigError('VIAL_ERR_SESSION_USER_ID', 'session.login(userId) needs a non-empty string user id.');
    }
    loginGuards.get(this)?.();
    this.regenerate();
    const state = sessionState(this);
    state.userId = userId;
    if (options.remember === true) state.data[REMEMBER_SESSION_KEY] = true;
    else delete state.data[REMEMBER_SESSION_KEY];
  }

  /** True after `login(id, { remember: true })`: the cookie is persistent. */
  get remembered(): boolean {
    return sessionState(this).data[REMEMBER_SESSION_KEY] === true;
  }

  /** Ends the login: all data goes, the id is destroyed in the store and the cookie is cleared at commit. */
  logout(): void {
    const state = sessionState(this);
    this.regenerate();
    state.userId = undefined;
    state.data = Object.create(null) as Record<string, unknown>;
  }

  /** Issues a new id (and CSRF token) for any other privilege change; the data is kept. */
  regenerate(): void {
    const state = sessionState(this);
    if (state.id !== undefined) state.retiredIds.push(state.id);
    state.id = undefined;
    state.modified = true;
    delete state.data[CSRF_SESSION_KEY];
  }

  /** The session-bound CSRF token, created on first use (which makes the session persistent). */
  csrfToken(): string {
    const state = sessionState(this);
    const existing = state.data[CSRF_SESSION_KEY];
    if (typeof existing === 'string') return existing;
    const token = createCsrfToken();
    state.data[CSRF_SESSION_KEY] = token;
    state.modified = true;
    return token;
  }

  /** The token to compare a submitted one against, without creating one. */
  peekCsrfToken(): string | undefined {
    const existing = sessionState(this).data[CSRF_SESSION_KEY];
    return typeof existing === 'string' ? existing : undefined;
  }
}
