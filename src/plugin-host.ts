/**
 * The app's side of the plugin seam: runs each plugin's setup with a scoped registrar, keeps what
 * plugins declared (route options, per-route deciders, unmatched hooks, response headers, ctx
 * decorations, server hooks), and turns it into per-route hook lists when the route table is built.
 * Pure registration: no sockets, no timers; `attachServer` only calls the plugins' own hooks.
 */
import type { Server } from 'node:http';
import { Context, contextServices } from './context.ts';
import { ConfigError } from './errors.ts';
import type { Plugin, PluginAppView, PluginRegistrar, ReplyHook, ResponseHeaderSet, RouteHooks, RouteOptionCheck, RouteView, ServerHook, UnmatchedHook } from './plugin.ts';
import { isPlugin } from './plugin.ts';
import type { AfterHook, BeforeHook, Handler, RouteOptions, Scaffold, TeardownHook } from './scaffold.ts';
import { BUILTIN_ROUTE_OPTIONS } from './scaffold.ts';
import type { HeaderList } from './security/headers.ts';

/** A scope: the app (undefined) or one blueprint, by name. */
type Scope = string | undefined;

/** The plugin hooks of one route, in registration order; empty arrays when no plugin touches it. */
export interface PluginRouteHooks {
  readonly onRequest: readonly BeforeHook[];
  readonly beforeHandler: readonly BeforeHook[];
  readonly onResponse: readonly AfterHook[];
  readonly teardown: readonly TeardownHook[];
  /**
   * A plain reply (string or plain object) shorter than this skips every onResponse hook: the
   * smallest of their `onResponseMinBytes` (0 when any hook wants every response).
   */
  readonly plainBelowBytes: number;
}

export const NO_PLUGIN_HOOKS: PluginRouteHooks = Object.freeze({ onRequest: [], beforeHandler: [], onResponse: [], teardown: [], plainBelowBytes: Infinity });

/** True when a route's plugins leave it the fast path: none, or only onResponse hooks that skip small bodies. */
export function keepsFastPath(hooks: PluginRouteHooks): boolean {
  if (hooks === NO_PLUGIN_HOOKS) return true;
  return hooks.onRequest.length === 0 && hooks.beforeHandler.length === 0 && hooks.teardown.length === 0 && hooks.plainBelowBytes > 0;
}

interface Registration {
  readonly name: string;
  readonly scope: Scope;
  readonly dependencies: readonly string[];
  readonly deciders: ((route: RouteView) => RouteHooks | undefined)[];
}

type DecorationInit = (ctx: Context) => unknown;

/** Which app's decorations a context sees: set per app, read by the prototype getters below. */
const decorationsOf = new WeakMap<object, ReadonlyMap<string, { plugin: string; init: DecorationInit }>>();
/** Keys already defined on Context.prototype (process-wide: the getter looks up the app's own init). */
const definedKeys = new Set<string>();

export class PluginHost {
  readonly #app: PluginAppView & Scaffold;
  readonly #registrations: Registration[] = [];
  readonly #routeOptions = new Map<string, { plugin: string; scope: Scope; check: RouteOptionCheck | undefined }[]>();
  readonly #unmatched: UnmatchedHook[] = [];
  readonly #headers: ResponseHeaderSet[] = [];
  readonly #decorations = new Map<string, { plugin: string; init: DecorationInit }>();
  readonly #serverHooks: ServerHook[] = [];
  readonly #detach: (() => void)[] = [];
  /** onReply hooks by route, kept apart from PluginRouteHooks: they wrap the handler (wrapHandler). */
  readonly #replyHooks = new WeakMap<RouteView, readonly ReplyHook[]>();
  readonly #onStartup: (hook: (app: PluginAppView) => void | Promise<void>) => void;
  readonly #onShutdown: (hook: (app: PluginAppView) => void | Promise<void>) => void;

  constructor(
    app: PluginAppView & Scaffold,
    lifecycle: { onStartup(hook: (app: PluginAppView) => void | Promise<void>): void; onShutdown(hook: (app: PluginAppView) => void | Promise<void>): void },
  ) {
    this.#app = app;
    this.#onStartup = (hook) => lifecycle.onStartup(hook);
    this.#onShutdown = (hook) => lifecycle.onShutdown(hook);
  }

  /** Resolves the options and runs setup, scoped to `scaffold` (the app, or a blueprint being registered). */
  register<O, I>(plugin: Plugin<O, I>, input: I | undefined, scaffold: Scaffold, blueprint: string | undefined): void {
    if (!isPlugin(plugin)) {
      throw new ConfigError('VIAL_ERR_PLUGIN', 'app.plugin() takes a plugin made with definePlugin({ name, setup }).');
    }
    const where = blueprint === undefined ? 'the app' : `blueprint "${blueprint}"`;
    if (this.#registrations.some((r) => r.name === plugin.name && r.scope === blueprint)) {
      throw new ConfigError('VIAL_ERR_PLUGIN', `Plugin "${plugin.name}" is already registered on ${where}. Register a plugin once per scope.`);
    }
    const options = plugin.options === undefined ? (input as unknown as O) : plugin.options(input, this.#app);
    const registration: Registration = { name: plugin.name, scope: blueprint, dependencies: plugin.dependencies ?? [], deciders: [] };
    this.#registrations.push(registration);
    plugin.setup(this.#registrar(registration, scaffold), deepFreeze(options));
  }

  /** True when a plugin of this name is registered on the app (not only on a blueprint). */
  registered(name: string): boolean {
    return this.#registrations.some((r) => r.name === name && r.scope === undefined);
  }

  /** Startup check: every dependency is registered in the same scope or on the app. */
  checkDependencies(): void {
    for (const r of this.#registrations) {
      for (const dependency of r.dependencies) {
        const found = this.#registrations.some((other) => other.name === dependency && (other.scope === undefined || other.scope === r.scope));
        if (!found) {
          throw new ConfigError(
            'VIAL_ERR_PLUGIN',
            `Plugin "${r.name}" needs plugin "${dependency}", which is not registered${r.scope === undefined ? '' : ` on the app or on blueprint "${r.scope}"`}. Register it first: app.plugin(${dependency}).`,
          );
        }
      }
    }
  }

  /** Startup check of one route's options: known keys only, each plugin's own check on its key. */
  checkRouteOptions(route: RouteView): void {
    for (const key of Object.keys(route.options)) {
      if (BUILTIN_ROUTE_OPTIONS.has(key)) continue;
      const owners = (this.#routeOptions.get(key) ?? []).filter((o) => o.scope === undefined || o.scope === route.blueprint);
      if (owners.length === 0) {
        const known = [...BUILTIN_ROUTE_OPTIONS, ...this.#routeOptions.keys()].sort().join(', ');
        throw new ConfigError(
          'VIAL_ERR_ROUTE',
          `Route ${route.key} has an unknown option "${key}". Known options: ${known}. If a plugin reads it, register that plugin on the app or the route's blueprint.`,
        );
      }
      for (const owner of owners) owner.check?.((route.options as Record<string, unknown>)[key], route);
    }
  }

  /** The plugin hooks for one route: each registration in scope decides once. */
  hooksFor(route: RouteView): PluginRouteHooks {
    const onRequest: BeforeHook[] = [];
    const beforeHandler: BeforeHook[] = [];
    const onResponse: AfterHook[] = [];
    const teardown: TeardownHook[] = [];
    const reply: ReplyHook[] = [];
    let plainBelowBytes = Infinity;
    for (const r of this.#registrations) {
      if (r.scope !== undefined && r.scope !== route.blueprint) continue;
      for (const decide of r.deciders) {
        const hooks = decide(route);
        if (hooks === undefined) continue;
        if (hooks.onRequest !== undefined) onRequest.push(hooks.onRequest);
        if (hooks.beforeHandler !== undefined) beforeHandler.push(hooks.beforeHandler);
        if (hooks.onResponse !== undefined) {
          onResponse.push(hooks.onResponse);
          plainBelowBytes = Math.min(plainBelowBytes, hooks.onResponseMinBytes ?? 0);
        }
        if (hooks.teardown !== undefined) teardown.push(hooks.teardown);
        if (hooks.onReply !== undefined) reply.push(hooks.onReply);
      }
    }
    if (reply.length > 0) this.#replyHooks.set(route, Object.freeze(reply));
    if (onRequest.length + beforeHandler.length + onResponse.length + teardown.length === 0) return NO_PLUGIN_HOOKS;
    return Object.freeze({ onRequest: Object.freeze(onRequest), beforeHandler: Object.freeze(beforeHandler), onResponse: Object.freeze(onResponse), teardown: Object.freeze(teardown), plainBelowBytes });
  }

  /**
   * The route's handler with the plugins' onReply hooks applied to what it returns (after hooksFor
   * decided them). A synchronous handler stays synchronous; an untouched route gets its own handler.
   */
  wrapHandler(route: RouteView, handler: Handler | undefined): Handler | undefined {
    const hooks = this.#replyHooks.get(route);
    if (handler === undefined || hooks === undefined) return handler;
    const apply = (ctx: Context, reply: unknown): unknown => {
      for (const hook of hooks) reply = hook(ctx, reply);
      return reply;
    };
    const wrapped = (ctx: Context): unknown => {
      const reply = handler(ctx);
      return reply instanceof Promise ? reply.then((value: unknown) => apply(ctx, value)) : apply(ctx, reply);
    };
    // Keeps the handler's name in stack traces and route listings.
    Object.defineProperty(wrapped, 'name', { value: handler.name });
    return wrapped as Handler;
  }

  get unmatchedHooks(): readonly UnmatchedHook[] {
    return this.#unmatched;
  }

  /** The response headers every plugin asked for, for documents and for data (JSON, event streams). */
  responseHeaders(): { readonly document: HeaderList; readonly data: HeaderList } {
    const document: (readonly [string, string])[] = [];
    const data: (readonly [string, string])[] = [];
    for (const set of this.#headers) {
      document.push(...set.document);
      data.push(...(set.data ?? set.document));
    }
    return { document: Object.freeze(document), data: Object.freeze(data) };
  }

  /** Makes this app's decorations visible on its contexts (services are per app). */
  bindDecorations(services: object): void {
    decorationsOf.set(services, this.#decorations);
  }

  /** Calls every plugin's server hook; `detachServers()` undoes them at shutdown. */
  attachServer(server: Server): void {
    for (const hook of this.#serverHooks) {
      const detach = hook(server);
      if (typeof detach === 'function') this.#detach.push(detach);
    }
  }

  detachServers(): void {
    for (const detach of this.#detach.splice(0).toReversed()) detach();
  }

  #registrar(registration: Registration, scaffold: Scaffold): PluginRegistrar {
    const routeOptions = this.#routeOptions;
    const unmatched = this.#unmatched;
    const headerSets = this.#headers;
    const decorations = this.#decorations;
    const serverHooks = this.#serverHooks;
    const onStartup = this.#onStartup;
    const onShutdown = this.#onShutdown;
    const scope = registration.scope;
    const name = registration.name;
    const where = `plugin "${name}"`;
    const registrar: PluginRegistrar = {
      name,
      app: this.#app,
      blueprint: scope,
      route: (methods: string | readonly string[], path: string, a: RouteOptions | Handler, b?: Handler) => (addRoute(scaffold, methods, path, a, b), registrar),
      get: (path: string, a: RouteOptions | Handler, b?: Handler) => (addRoute(scaffold, 'GET', path, a, b), registrar),
      post: (path: string, a: RouteOptions | Handler, b?: Handler) => (addRoute(scaffold, 'POST', path, a, b), registrar),
      beforeRequest: (hook) => (scaffold.beforeRequest(hook), registrar),
      afterRequest: (hook) => (scaffold.afterRequest(hook), registrar),
      teardownRequest: (hook) => (scaffold.teardownRequest(hook), registrar),
      errorHandler: (key, handler) => (scaffold.errorHandler(key, handler), registrar),
      onStartup: (hook) => (onStartup(hook), registrar),
      onShutdown: (hook) => (onShutdown(hook), registrar),
      onServer: (hook) => (serverHooks.push(hook), registrar),
      routeOption(key, check) {
        if (BUILTIN_ROUTE_OPTIONS.has(key)) throw new ConfigError('VIAL_ERR_PLUGIN', `${where} declares route option "${key}", which is one of vial's own.`);
        const owners = routeOptions.get(key) ?? [];
        owners.push({ plugin: name, scope, check });
        routeOptions.set(key, owners);
        return registrar;
      },
      perRoute(decide) {
        registration.deciders.push(decide);
        return registrar;
      },
      onUnmatched(hook) {
        if (scope === undefined) {
          unmatched.push(hook);
          return registrar;
        }
        // In a blueprint, the hook sees only that blueprint's routes at the path, and runs only
        // when there are some (a CORS preflight for a blueprint with its own CORS settings).
        unmatched.push(function blueprintUnmatched(ctx, info) {
          const mine = info.allowed.filter((route) => route.blueprint === scope);
          return mine.length === 0 ? undefined : hook(ctx, { allowed: mine });
        });
        return registrar;
      },
      responseHeaders(headers) {
        if (scope !== undefined) throw new ConfigError('VIAL_ERR_PLUGIN', `${where}: responseHeaders are app-wide; in a blueprint, add headers in a perRoute onResponse hook.`);
        headerSets.push(Object.freeze({ document: Object.freeze([...headers.document]), data: Object.freeze([...(headers.data ?? headers.document)]) }));
        return registrar;
      },
      decorate(key, init) {
        if (key in Context.prototype && !definedKeys.has(key)) {
          throw new ConfigError('VIAL_ERR_PLUGIN', `${where} cannot decorate ctx.${key}: the context already has it. Pick another name.`);
        }
        const existing = decorations.get(key);
        if (existing !== undefined) throw new ConfigError('VIAL_ERR_PLUGIN', `${where} cannot decorate ctx.${key}: plugin "${existing.plugin}" already does.`);
        decorations.set(key, { plugin: name, init: init });
        defineDecoration(key);
        return registrar;
      },
    };
    return registrar;
  }
}

/** One way into Scaffold.route for the registrar's route, get and post (its overloads split options from handler). */
function addRoute(scaffold: Scaffold, methods: string | readonly string[], path: string, a: RouteOptions | Handler, b: Handler | undefined): void {
  if (typeof a === 'function') scaffold.route(methods, path, a);
  else if (b === undefined) scaffold.route(methods, path, a as RouteOptions & { worker: string });
  else scaffold.route(methods, path, a, b);
}

/** A getter on Context.prototype that creates the decoration on first access, once per request. */
function defineDecoration(key: string): void {
  if (definedKeys.has(key)) return;
  definedKeys.add(key);
  const cache = new WeakMap<Context, unknown>();
  Object.defineProperty(Context.prototype, key, {
    configurable: true,
    enumerable: false,
    get(this: Context) {
      if (cache.has(this)) return cache.get(this);
      const entry = decorationsOf.get(contextServices(this))?.get(key);
      if (entry === undefined) {
        throw new ConfigError('VIAL_ERR_PLUGIN', `ctx.${key} comes from a plugin this app has not registered. Register it with app.plugin(...).`);
      }
      const value = entry.init(this);
      cache.set(this, value);
      return value;
    },
  });
}

function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  // Intentionally only plain objects and arrays: class instances (a Redis client, a schema) keep their state.
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null && !Array.isArray(value)) return value;
  for (const inner of Object.values(value)) deepFreeze(inner);
  return Object.freeze(value);
}
