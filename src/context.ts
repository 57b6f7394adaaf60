/**
 * The request context: `ctx`, and the `g`, `request` and `session` accessors. This file is the only
 * user of AsyncLocalStorage in vial. Each request runs inside its own store, opened before the body
 * is read, so anything awaited inside a handler or hook sees its own request and never another's.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { validateHeaderName, validateHeaderValue } from 'node:http';
import type { Logger } from 'pino';
import { ContextError } from './errors.ts';
import { requestIdFor } from './internal/request-id.ts';
import { invalidHeaderError, isNodeHeaderError } from './internal/header-error.ts';
import type { VialRequest } from './request.ts';
import type { UrlForOptions, UrlForQuery } from './urls.ts';

/**
 * Per-request scratch space, like Flask's `g`. Augment it for typed access:
 * `declare module 'vial' { interface G { user?: User } }`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface G extends Record<string, unknown> {}

/** The session interface handlers see; the security layer provides the implementation. */
export interface SessionLike {
  get<T = unknown>(key: string): T | undefined;
  set(key: string, value: unknown): void;
  delete(key: string): void;
  has(key: string): boolean;
  clear(): void;
  readonly userId: string | undefined;
  login(userId: string): void;
  logout(): void;
  regenerate(): void;
}

/** Whatever the route matched, as the context needs it. */
export interface RouteInfo {
  /** `GET /users/<int:id>`: the key used in logs, metrics and bulkheads. */
  readonly key: string;
  readonly name: string | undefined;
  readonly blueprint: string | undefined;
  /** The route's own deadline (`timeoutMs` option); undefined means the app's default. */
  readonly timeoutMs: number | undefined;
}

/**
 * Typed `ctx` decorations. A plugin augments this interface and registers a factory with
 * `r.decorate(key, init)` (plugin.ts): `declare module 'vial' { interface ContextDecorations { valid: Valid } }`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ContextDecorations {}

export interface ContextServices {
  readonly log: Logger;
  urlFor(name: string, params?: Record<string, unknown>, queryOrOptions?: UrlForQuery | UrlForOptions): string;
  /** Loads or creates the request's session; undefined when sessions are off. */
  session(ctx: Context): SessionLike | undefined;
  csrfToken(ctx: Context): string;
  /** Milliseconds left before ctx's deadline, on the deadline tracker's monotonic clock. */
  remainingMs(ctx: Context): number;
  offload<T>(task: { filename: string | URL; name?: string }, payload: unknown, ctx: Context): Promise<T>;
}

/** A flashed message (`ctx.flash(message, category)`). */
export interface Flash {
  readonly category: string;
  readonly message: string;
}

/** The session key flashed messages wait under. */
const FLASH_KEY = '_flashes';

/** Context's own services, for the plugin host's decorations (not part of the public API). */
let servicesOfContext: (ctx: Context) => ContextServices;
export function contextServices(ctx: Context): ContextServices {
  return servicesOfContext(ctx);
}

// Intentionally merged with the class: plugins add typed, lazily created members through
// ContextDecorations (plugin.ts), which the plugin host defines as getters on the prototype.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface Context extends ContextDecorations {}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class Context {
  static {
    servicesOfContext = (ctx) => ctx.#services;
  }
  readonly request: VialRequest;
  route: RouteInfo | undefined;
  /**
   * Headers added to whatever response this request ends with (also error responses); created on
   * first use. `set-cookie` is a list: every cookie set in the request is sent.
   */
  responseHeaders: Record<string, string | string[]> | undefined;
  /**
   * When this request's deadline passes, set at admission: epoch ms on the monotonic clock
   * (`performance.timeOrigin + performance.now()`), so a wall-clock step does not move it. For the
   * time left, compare with that same sum rather than with Date.now().
   */
  deadlineAt = 0;
  /** Set by the session layer. */
  sessionState: SessionLike | undefined;

  /**
   * Milliseconds left before this request's deadline (0 once it passed): pass it on to a
   * downstream call's timeout. Measured on the same monotonic clock as `deadlineAt`, so a
   * wall-clock step (NTP, a resumed VM) changes nothing, unlike `deadlineAt - Date.now()`.
   */
  remainingMs(): number {
    return this.#services.remainingMs(this);
  }
  // Intentionally lazy: most requests never read their id, g, signal or logger, and the hot path
  // should not pay for four allocations it does not use.
  #id: string | undefined;
  #g: G | undefined;
  #controller: AbortController | undefined;
  #abortReason: unknown;
  #onAbort: ((reason: Error) => void) | undefined;
  #log: Logger | undefined;
  #flashes: readonly Flash[] | undefined;
  readonly #services: ContextServices;

  constructor(request: VialRequest, services: ContextServices) {
    this.request = request;
    this.#services = services;
  }

  /** This request's id: in every log line, in error bodies, and in the `x-request-id` header of error responses (log.requestIdHeader). */
  get id(): string {
    // An incoming X-Request-Id only from a trusted proxy, and only well formed (internal/request-id.ts).
    return (this.#id ??= requestIdFor(this.request.raw.headers['x-request-id'], this.request.viaTrustedProxy));
  }

  /** Per-request scratch space: set in a hook, read in the handler. */
  get g(): G {
    return (this.#g ??= {});
  }

  /** Route parameters, already converted (`<int:id>` gives a number). */
  get params(): Record<string, unknown> {
    return this.request.params;
  }

  get query(): URLSearchParams {
    return this.request.query;
  }

  /**
   * Aborts when the deadline passes or the client disconnects. Pass it to fetch, database drivers
   * and timers so abandoned work stops. Created on first use: most handlers never touch it.
   */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#abortReason !== undefined) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  get aborted(): boolean {
    return this.#abortReason !== undefined;
  }

  /** The reason the request was aborted (a DeadlineError or ClientGoneError), if it was. */
  get abortReason(): unknown {
    return this.#abortReason;
  }

  /** Called by the dispatcher on deadline or disconnect. Idempotent. */
  abort(reason: Error): void {
    if (this.#abortReason !== undefined) return;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
    this.#onAbort?.(reason);
  }

  /** The dispatcher's own abort hook (cheaper than an AbortSignal listener); one at a time. */
  set onAbort(listener: ((reason: Error) => void) | undefined) {
    this.#onAbort = listener;
  }

  /** A pino child logger carrying this request's id and route. */
  get log(): Logger {
    this.#log ??= this.#services.log.child({ reqId: this.id, route: this.route?.key });
    return this.#log;
  }

  /** The session. Server-side by default; created in the store on first write only. */
  get session(): SessionLike {
    const session = this.sessionState ?? this.#services.session(this);
    if (session === undefined) {
      throw new ContextError('session (sessions are turned off for this app: set security.session)');
    }
    return session;
  }

  /** The CSRF token to embed in forms (`<input type="hidden" name="_csrf">`). */
  csrfToken(): string {
    return this.#services.csrfToken(this);
  }

  /**
   * Runs CPU-heavy work in the bounded worker-thread pool (password hashing, report rendering)
   * so the event loop stays free. `filename` is a module (path or URL, .ts works); its default
   * export (or `name`) receives `payload`. Cancelled with this request's signal.
   */
  offload<T = unknown>(filename: string | URL, payload: unknown, options: { name?: string } = {}): Promise<T> {
    return this.#services.offload<T>(options.name === undefined ? { filename } : { filename, name: options.name }, payload, this);
  }

  /**
   * Adds a response header to whatever response this request ends with. A second call with the
   * same name replaces the first, except for `set-cookie`, which adds one more cookie (RFC 6265
   * §3: one cookie per Set-Cookie header; `ctx.setCookie()` builds them).
   */
  header(name: string, value: string): this {
    // Refused here (VIAL_ERR_HEADER_INVALID naming the header), where the stack points at the
    // handler that echoed input into a header, rather than later when the response is written.
    try {
      validateHeaderName(name);
      validateHeaderValue(name, value);
    } catch (error) {
      throw isNodeHeaderError(error) ? invalidHeaderError(name, error) : error;
    }
    const headers = (this.responseHeaders ??= Object.create(null) as Record<string, string | string[]>);
    const key = name.toLowerCase();
    if (key === 'set-cookie') {
      const cookies = headers[key];
      headers[key] = cookies === undefined ? [value] : [...(cookies as string[]), value];
    } else {
      headers[key] = value;
    }
    return this;
  }

  /**
   * Flashes a message for the next request that shows them (Flask's `flash`): it is kept in the
   * session until `flashes()` reads it. Needs sessions.
   */
  flash(message: string, category = 'message'): void {
    const session = this.session;
    const pending = session.get<Flash[]>(FLASH_KEY) ?? [];
    session.set(FLASH_KEY, [...pending, { category, message }]);
  }

  /**
   * The flashed messages, oldest first, optionally of some categories only (Flask's
   * `get_flashed_messages`). The first call in a request takes them all out of the session; later
   * calls in the same request see the same list.
   */
  flashes(...categories: string[]): readonly Flash[] {
    if (this.#flashes === undefined) {
      const session = this.sessionState ?? this.#services.session(this);
      const stored = session?.get<Flash[]>(FLASH_KEY);
      if (stored !== undefined) session?.delete(FLASH_KEY);
      this.#flashes = Object.freeze(Array.isArray(stored) ? stored : []);
    }
    return categories.length === 0 ? this.#flashes : this.#flashes.filter((f) => categories.includes(f.category));
  }

  /** `ctx.urlFor('user', { id: 7 }, { tab: 'posts' })`; `{ query, external: true }` for an absolute URL (docs/urls.md). */
  urlFor(name: string, params?: Record<string, unknown>, queryOrOptions?: UrlForQuery | UrlForOptions): string {
    return this.#services.urlFor(name, params, queryOrOptions);
  }
}

const storage = new AsyncLocalStorage<Context>();

// Taken at module load, where no request is running: a snapshot of "no request context".
const noRequest = AsyncLocalStorage.snapshot();

/**
 * Runs `fn` outside any request's context. Long-lived things created lazily during a request (a
 * shared timer, a thread pool, a session store's sweeper, a Redis client) would otherwise carry
 * that request's AsyncLocalStorage context, and with it its ctx, request and socket, for the life
 * of the process (test/app-memory.test.ts catches this).
 */
export function outsideRequestContext<R>(fn: () => R): R {
  return noRequest(fn);
}

/** Runs `fn(...args)` with `ctx` as the current request. Used by the dispatcher only. */
export function runInContext<A extends unknown[], R>(ctx: Context, fn: (...args: A) => R, ...args: A): R {
  return storage.run(ctx, fn, ...args);
}

/** The current request's context, or undefined outside a request. */
export function peekContext(): Context | undefined {
  return storage.getStore();
}

/** The current request's context; throws a ContextError that says what to do outside a request. */
export function currentContext(what = 'ctx'): Context {
  const ctx = storage.getStore();
  if (ctx === undefined) throw new ContextError(what);
  return ctx;
}

function accessor<T extends object>(what: string, pick: (ctx: Context) => T): T {
  return new Proxy(Object.create(null) as T, {
    get: (_target, key) => Reflect.get(pick(currentContext(what)), key) as unknown,
    set: (_target, key, value) => Reflect.set(pick(currentContext(what)), key, value),
    has: (_target, key) => Reflect.has(pick(currentContext(what)), key),
    deleteProperty: (_target, key) => Reflect.deleteProperty(pick(currentContext(what)), key),
    ownKeys: (_target) => Reflect.ownKeys(pick(currentContext(what))),
    getOwnPropertyDescriptor: (_target, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(pick(currentContext(what)), key);
      if (descriptor !== undefined) descriptor.configurable = true;
      return descriptor;
    },
  });
}

/** The current request's `g`. Throws a ContextError outside a request. */
export const g: G = accessor('g', (ctx) => ctx.g);

/**
 * The current request. Throws a ContextError outside a request. Methods are bound to the real
 * request so `await request.json()` works through the proxy.
 */
export const request: VialRequest = new Proxy(Object.create(null) as VialRequest, {
  get: (_target, key) => {
    const real = currentContext('request').request;
    const value = Reflect.get(real, key, real) as unknown;
    return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(real) : value;
  },
});

/** The current request's session. Throws a ContextError outside a request. */
export const session: SessionLike = new Proxy(Object.create(null) as SessionLike, {
  get: (_target, key) => {
    const real = currentContext('session').session;
    const value = Reflect.get(real, key, real) as unknown;
    return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(real) : value;
  },
});
