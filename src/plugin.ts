/**
 * The plugin seam: how a feature (CORS, schemas, rate limits, WebSockets, vial's own security
 * headers) joins the app without the lifecycle file learning its name.
 *
 * A plugin is a named setup function with an options resolver. `app.plugin(p, input)` resolves the
 * options once (frozen) and runs `setup` with a registrar scoped to the app; `blueprint.plugin(p,
 * input)` does the same when the blueprint is registered on an app (the options resolver needs the
 * app's config), scoped to that blueprint's routes. Everything a plugin adds goes through the
 * registrar, and per-route work is decided once, when the route table is built (`perRoute`), so a
 * plugin costs nothing on routes it does not touch: those stay on the dispatcher's fast path.
 *
 * Pure registration: nothing here touches a socket or a request.
 */
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { VialConfig } from './config.ts';
import type { Context, ContextDecorations } from './context.ts';
import { ConfigError } from './errors.ts';
import type { AfterHook, BeforeHook, ErrorHandler, Handler, RouteOptions, TeardownHook } from './scaffold.ts';
import type { HeaderList } from './security/headers.ts';

/** What a plugin may know about the app it joins: its frozen config and logger. */
export interface PluginAppView {
  readonly config: VialConfig;
  readonly log: Logger;
}

/** A route as plugins see it, when the route table is built. */
export interface RouteView {
  readonly method: string;
  /** The pattern as written, with the blueprint prefix: `/users/<int:id>`. */
  readonly path: string;
  /** `GET /users/<int:id>`: the key in logs, metrics and bulkheads. */
  readonly key: string;
  readonly name: string | undefined;
  readonly blueprint: string | undefined;
  readonly options: Readonly<RouteOptions>;
  readonly paramNames: readonly string[];
}

/**
 * What a plugin does on one route, decided once per route. Every member is optional; a route with
 * none (or `perRoute` returning undefined) pays nothing.
 */
export interface RouteHooks {
  /** After admission and context, before the session and CSRF guard. A returned value short-circuits. */
  readonly onRequest?: BeforeHook;
  /** After CSRF and the before hooks, right before the handler. A returned value short-circuits. */
  readonly beforeHandler?: BeforeHook;
  /**
   * The handler's own return value, before it becomes a response (only the handler's: not a before
   * hook's short-circuit nor an error handler's). Returns the reply to use instead: a checked or
   * pre-serialized one (the schema plugin's response check and serializer). Runs inside the handler
   * step, synchronously for a synchronous handler, so a route with only this hook keeps the fast path.
   */
  readonly onReply?: ReplyHook;
  /**
   * Every response of the route, error responses included, after the afterRequest hooks and before
   * the session is saved and the response written. May change the response or return a new one.
   */
  readonly onResponse?: AfterHook;
  /**
   * `onResponse` only acts on bodies of at least this many bytes (compression, ETags): a string or
   * plain-object reply shorter than this goes out on the fast path without calling it, so a tiny
   * JSON reply pays nothing for the plugin. Default 0: every response reaches the hook.
   */
  readonly onResponseMinBytes?: number;
  /** After the user's teardown hooks; always runs. */
  readonly teardown?: TeardownHook;
}

/** The routes at a path that matched no route for this method (for CORS preflights, 405s). */
export interface UnmatchedInfo {
  readonly allowed: readonly RouteView[];
}
export type UnmatchedHook = (ctx: Context, info: UnmatchedInfo) => unknown;

/** Headers added to every response (or in blueprint scope, every response of its routes). */
export interface ResponseHeaderSet {
  /** For HTML and anything not known to be data. */
  readonly document: HeaderList;
  /** For JSON and text/event-stream. Default: the same as `document`. */
  readonly data?: HeaderList;
}

/** Per server vial creates (`listen()`, `createServer()`); the returned function detaches. */
export type ServerHook = (server: Server) => void | (() => void);
export type PluginLifecycleHook = (app: PluginAppView) => void | Promise<void>;
export type RouteOptionCheck = (value: unknown, route: RouteView) => void;
/** See RouteHooks.onReply. Throwing fails the request as the handler throwing would. */
export type ReplyHook = (ctx: Context, reply: unknown) => unknown;

export interface PluginDefinition<Options, Input> {
  /** Unique per scope; used in errors, dependency checks and diagnostics. */
  readonly name: string;
  /** Plugins that must be registered (in this scope or on the app) before this one. */
  readonly dependencies?: readonly string[];
  /** Resolves user input into options once, at registration. Throw a ConfigError on bad input. */
  readonly options?: (input: Input | undefined, app: PluginAppView) => Options;
  setup(registrar: PluginRegistrar, options: Options): void;
}

export interface Plugin<Options = unknown, Input = Options> extends PluginDefinition<Options, Input> {
  readonly [PLUGIN]: true;
}

const PLUGIN: unique symbol = Symbol('vial.plugin');

/**
 * Declares a plugin. `Options` is what `setup` receives (resolved, frozen); `Input` what users pass.
 * ```ts
 * const serverTiming = definePlugin<{ metric: string }, { metric?: string }>({
 *   name: 'server-timing',
 *   options: (input) => ({ metric: input?.metric ?? 'app' }),
 *   setup(r, { metric }) { r.afterRequest((ctx, res) => { res.header('server-timing', metric); }); },
 * });
 * app.plugin(serverTiming, { metric: 'total' });
 * ```
 */
export function definePlugin<Options = undefined, Input = Options>(definition: PluginDefinition<Options, Input>): Plugin<Options, Input> {
  if (typeof definition.name !== 'string' || definition.name.trim() === '') {
    throw new ConfigError('VIAL_ERR_PLUGIN', 'A plugin needs a non-empty `name`.');
  }
  if (typeof definition.setup !== 'function') {
    throw new ConfigError('VIAL_ERR_PLUGIN', `Plugin "${definition.name}" needs a \`setup(registrar, options)\` function.`);
  }
  return Object.freeze({ ...definition, [PLUGIN]: true as const });
}

export function isPlugin(value: unknown): value is Plugin<unknown, unknown> {
  return typeof value === 'object' && value !== null && (value as { [PLUGIN]?: unknown })[PLUGIN] === true;
}

/** What `setup` uses. Registration methods are scoped to where the plugin was registered. */
export interface PluginRegistrar {
  /** The plugin's name. */
  readonly name: string;
  readonly app: PluginAppView;
  /** `undefined` for the app, else the blueprint's name. */
  readonly blueprint: string | undefined;

  route(methods: string | readonly string[], path: string, options: RouteOptions, handler?: Handler): this;
  route(methods: string | readonly string[], path: string, handler: Handler): this;
  get(path: string, handler: Handler): this;
  get(path: string, options: RouteOptions, handler?: Handler): this;
  post(path: string, handler: Handler): this;
  post(path: string, options: RouteOptions, handler?: Handler): this;
  beforeRequest(hook: BeforeHook): this;
  afterRequest(hook: AfterHook): this;
  teardownRequest(hook: TeardownHook): this;
  errorHandler<E extends Error>(key: number | (abstract new (...args: never[]) => E), handler: ErrorHandler<E>): this;

  /** App-wide, whatever the scope: runs in `app.start()` (before listening). */
  onStartup(hook: PluginLifecycleHook): this;
  /** App-wide: runs at shutdown, newest first, after the app's own hooks. */
  onShutdown(hook: PluginLifecycleHook): this;
  /** App-wide: runs for each http.Server vial creates (e.g. to take `upgrade` events). */
  onServer(hook: ServerHook): this;

  /** Declares a route option this plugin reads; `check` validates each route's value at startup. */
  routeOption(key: string, check?: RouteOptionCheck): this;
  /** Decides, once per route in scope, what this plugin does on it. */
  perRoute(decide: (route: RouteView) => RouteHooks | undefined): this;
  /**
   * Requests no route matched (404, 405, automatic OPTIONS). A value answers. In a blueprint, runs
   * only for paths where that blueprint has routes, and `allowed` holds only those.
   */
  onUnmatched(hook: UnmatchedHook): this;
  /** Headers for every response in scope, precomputed (no per-request cost on the fast path). */
  responseHeaders(headers: ResponseHeaderSet): this;
  /** A typed, lazily created `ctx[key]` (once per request, on first access). */
  decorate<K extends keyof ContextDecorations>(key: K, init: (ctx: Context) => ContextDecorations[K]): this;
}

export { PLUGIN as PLUGIN_BRAND };
