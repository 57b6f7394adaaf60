/**
 * What Vial and Blueprint share: route definitions, hooks and error handlers, collected by scope.
 * Pure registration: nothing here touches a socket or a request. The app turns these definitions
 * into router entries on `register()` / first request.
 */
import { ConfigError } from './errors.ts';
import type { AfterHook, BeforeHook, ErrorClass, ErrorHandler, Handler, RouteOptions, TeardownHook } from './handlers.ts';
import type { KnownOptions, ReplyFor, RouteHandler, RouteMark, SchemaOf } from './route-types.ts';

// The user-code types live in handlers.ts (route-types.ts builds on them; plugins augment
// RouteOptions there: `declare module '../handlers.ts'`); re-exported for vial's own modules.
export type { AfterHook, BeforeHook, ErrorClass, ErrorHandler, Handler, Reply, RouteOptions, TeardownHook } from './handlers.ts';

/** Any handler the typed route overloads accept (their ctx is a narrower Context). */
type AnyHandler = (ctx: never) => unknown;

/** A WebSocket route's own limits: what the websocket plugin declares for its route option (never without it). */
type WebSocketLimits = RouteOptions extends { websocket?: infer W } ? Exclude<W, boolean | undefined> : never;

/**
 * vial's own route options; any other key must be declared by a registered plugin
 * (`r.routeOption(key)`), or the route table refuses to build (a typo never passes silently).
 */
export const BUILTIN_ROUTE_OPTIONS: ReadonlySet<string> = new Set(['name', 'timeoutMs', 'concurrency', 'maxQueue', 'maxBodyBytes', 'csrf', 'worker']);

export interface RouteDefinition {
  readonly methods: readonly string[];
  readonly path: string;
  readonly handler: Handler | undefined;
  readonly options: Readonly<RouteOptions>;
}

export interface Hooks {
  readonly before: BeforeHook[];
  readonly after: AfterHook[];
  readonly teardown: TeardownHook[];
}

export class Scaffold {
  readonly routes: RouteDefinition[] = [];
  readonly hooks: Hooks = { before: [], after: [], teardown: [] };
  readonly errorHandlersByStatus = new Map<number, ErrorHandler>();
  readonly errorHandlersByClass = new Map<ErrorClass, ErrorHandler>();

  // Each route method is typed from its arguments (src/route-types.ts): `ctx.params` from the
  // path, `ctx.valid` and the reply from the `schema` option, options checked for unknown keys;
  // the return type records the route for the typed client. A path or handler held in a variable
  // of a wider type (string, Handler) fits the same overloads, with untyped params.
  route<M extends string, P extends string, R extends ReplyFor<Record<never, never>>>(methods: M | readonly M[], path: P, handler: RouteHandler<P, Record<never, never>, R>): this & RouteMark<Uppercase<M>, P, Record<never, never>, R>;
  route<M extends string, P extends string, O extends RouteOptions, R extends ReplyFor<SchemaOf<O>>>(methods: M | readonly M[], path: P, options: KnownOptions<O>, handler: RouteHandler<P, SchemaOf<O>, R>): this & RouteMark<Uppercase<M>, P, SchemaOf<O>, R>;
  /** A route run in the worker-thread pool (`worker` option) needs no handler. */
  route(methods: string | readonly string[], path: string, options: RouteOptions & { worker: URL | string }): this;
  route(methods: string | readonly string[], path: string, a: RouteOptions | AnyHandler, b?: AnyHandler): this {
    return this.#push(methods, path, a, b);
  }

  get<P extends string, R extends ReplyFor<Record<never, never>>>(path: P, handler: RouteHandler<P, Record<never, never>, R>): this & RouteMark<'GET', P, Record<never, never>, R>;
  get<P extends string, O extends RouteOptions, R extends ReplyFor<SchemaOf<O>>>(path: P, options: KnownOptions<O>, handler: RouteHandler<P, SchemaOf<O>, R>): this & RouteMark<'GET', P, SchemaOf<O>, R>;
  get(path: string, options: RouteOptions & { worker: URL | string }): this;
  get(path: string, a: RouteOptions | AnyHandler, b?: AnyHandler): this {
    return this.#add('GET', path, a, b);
  }
  post<P extends string, R extends ReplyFor<Record<never, never>>>(path: P, handler: RouteHandler<P, Record<never, never>, R>): this & RouteMark<'POST', P, Record<never, never>, R>;
  post<P extends string, O extends RouteOptions, R extends ReplyFor<SchemaOf<O>>>(path: P, options: KnownOptions<O>, handler: RouteHandler<P, SchemaOf<O>, R>): this & RouteMark<'POST', P, SchemaOf<O>, R>;
  post(path: string, options: RouteOptions & { worker: URL | string }): this;
  post(path: string, a: RouteOptions | AnyHandler, b?: AnyHandler): this {
    return this.#add('POST', path, a, b);
  }
  put<P extends string, R extends ReplyFor<Record<never, never>>>(path: P, handler: RouteHandler<P, Record<never, never>, R>): this & RouteMark<'PUT', P, Record<never, never>, R>;
  put<P extends string, O extends RouteOptions, R extends ReplyFor<SchemaOf<O>>>(path: P, options: KnownOptions<O>, handler: RouteHandler<P, SchemaOf<O>, R>): this & RouteMark<'PUT', P, SchemaOf<O>, R>;
  put(path: string, options: RouteOptions & { worker: URL | string }): this;
  put(path: string, a: RouteOptions | AnyHandler, b?: AnyHandler): this {
    return this.#add('PUT', path, a, b);
  }
  patch<P extends string, R extends ReplyFor<Record<never, never>>>(path: P, handler: RouteHandler<P, Record<never, never>, R>): this & RouteMark<'PATCH', P, Record<never, never>, R>;
  patch<P extends string, O extends RouteOptions, R extends ReplyFor<SchemaOf<O>>>(path: P, options: KnownOptions<O>, handler: RouteHandler<P, SchemaOf<O>, R>): this & RouteMark<'PATCH', P, SchemaOf<O>, R>;
  patch(path: string, options: RouteOptions & { worker: URL | string }): this;
  patch(path: string, a: RouteOptions | AnyHandler, b?: AnyHandler): this {
    return this.#add('PATCH', path, a, b);
  }
  delete<P extends string, R extends ReplyFor<Record<never, never>>>(path: P, handler: RouteHandler<P, Record<never, never>, R>): this & RouteMark<'DELETE', P, Record<never, never>, R>;
  delete<P extends string, O extends RouteOptions, R extends ReplyFor<SchemaOf<O>>>(path: P, options: KnownOptions<O>, handler: RouteHandler<P, SchemaOf<O>, R>): this & RouteMark<'DELETE', P, SchemaOf<O>, R>;
  delete(path: string, options: RouteOptions & { worker: URL | string }): this;
  delete(path: string, a: RouteOptions | AnyHandler, b?: AnyHandler): this {
    return this.#add('DELETE', path, a, b);
  }

  /**
   * A WebSocket route: `get(path, { websocket: limits ?? true }, handler)`, which it is (the
   * websocket plugin must be registered: docs/websocket.md). The handler runs once per socket, with
   * `ctx.websocket`; a plain GET to the path gets 426.
   */
  ws<P extends string>(path: P, handler: RouteHandler<P, Record<never, never>, ReplyFor<Record<never, never>>>): this;
  ws<P extends string>(path: P, limits: WebSocketLimits, handler: RouteHandler<P, Record<never, never>, ReplyFor<Record<never, never>>>): this;
  ws(path: string, a: WebSocketLimits | AnyHandler, b?: AnyHandler): this {
    if (typeof a === 'function') return this.#push('GET', path, { websocket: true }, a);
    return this.#push('GET', path, { websocket: a }, b);
  }

  #push(
    methods: string | readonly string[],
    path: string,
    optionsOrHandler: RouteOptions | AnyHandler,
    maybeHandler?: AnyHandler,
  ): this {
    this.assertMutable(`add route ${path}`);
    const options = typeof optionsOrHandler === 'function' ? {} : optionsOrHandler;
    // The typed overloads' handlers take a narrower ctx (route-types.ts); at run time it is the Context.
    const handler = (typeof optionsOrHandler === 'function' ? optionsOrHandler : maybeHandler) as Handler | undefined;
    if (handler === undefined && options.worker === undefined) {
      throw new ConfigError('VIAL_ERR_ROUTE', `Route ${path} needs a handler function (or a \`worker\` module).`);
    }
    const list = (typeof methods === 'string' ? [methods] : methods).map((m) => m.toUpperCase());
    if (list.length === 0) throw new ConfigError('VIAL_ERR_ROUTE', `Route ${path} needs at least one method.`);
    this.routes.push(Object.freeze({ methods: Object.freeze(list), path, handler, options: Object.freeze({ ...options }) }));
    return this;
  }

  #add(method: string, path: string, a: RouteOptions | AnyHandler, b: AnyHandler | undefined): this {
    return this.#push(method, path, a, b);
  }

  /** Subclasses refuse changes once they are in use (the app after its first request). */
  protected assertMutable(_what: string): void {}

  // plugin() lives on Vial and Blueprint, not here: the seam (plugin.ts) is built on these
  // registration types, so Scaffold must not depend on it (no import cycle, docs/architecture.md).

  beforeRequest(hook: BeforeHook): this {
    this.assertMutable('add a beforeRequest hook');
    this.hooks.before.push(hook);
    return this;
  }
  afterRequest(hook: AfterHook): this {
    this.assertMutable('add an afterRequest hook');
    this.hooks.after.push(hook);
    return this;
  }
  teardownRequest(hook: TeardownHook): this {
    this.assertMutable('add a teardownRequest hook');
    this.hooks.teardown.push(hook);
    return this;
  }

  /** Handles errors by HTTP status (`404`) or by class (`ValidationError`, matched with instanceof). */
  errorHandler<E extends Error>(key: number | (abstract new (...args: never[]) => E), handler: ErrorHandler<E>): this {
    this.assertMutable('add an error handler');
    if (typeof key === 'number') this.errorHandlersByStatus.set(key, handler as ErrorHandler);
    else this.errorHandlersByClass.set(key, handler as ErrorHandler);
    return this;
  }
}
