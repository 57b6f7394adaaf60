/**
 * The rate-limit plugin (docs/ratelimit.md): GCRA limits per client IP, session user, API key or
 * a function of the request, on the app, a blueprint or a route, in memory or on Redis; and
 * brute-force protection for routes marked `login`.
 *
 *   app.plugin(rateLimit, { limit: 100, windowSec: 60 });                      // per IP, app-wide
 *   api.plugin(rateLimit, { limit: 1000, windowSec: 3600, key: { header: 'x-api-key' }, store });
 *   app.get('/health', { rateLimit: false }, handler);                          // exempt
 *   app.post('/search', { rateLimit: { limit: 10, windowSec: 60 } }, handler);  // its own limit too
 *   app.post('/login', { login: { account: 'email' } }, handler);               // 5 / account, 20 / IP per 15 min
 *
 * Limits keyed by IP, header or function run in `onRequest`, before the session loads and before
 * CSRF: a flood is refused before it costs anything. Limits keyed by user run after the session
 * loads. Limits of the app and of a blueprint both apply to the blueprint's routes; a route's own
 * `rateLimit` option is read by the innermost registration (the blueprint's, else the app's), and
 * `rateLimit: false` exempts the route from every limit (login protection stays). Requests that
 * match no route (404, 405) count against the app's limits.
 */
import type { Context } from '../context.ts';
import { ConfigError } from '../errors.ts';
import { definePlugin } from '../plugin.ts';
import type { PluginAppView, RouteHooks, RouteView } from '../plugin.ts';
import { runLimits, StoreHealth } from './limiter.ts';
import type { LimiterDeps } from './limiter.ts';
import { loginHooks } from './login.ts';
import { LazyMemoryRateLimitStore } from './memory-store.ts';
import { assertUniqueNames, checkLoginOption, resolveLimit, resolveLimits, resolveLogin } from './options.ts';
import type { LimitOptions, LoginRouteOption, RateLimitOptions, RateLimitRouteOption, ResolvedLimit, ResolvedLogin } from './options.ts';
import type { RateLimitStore } from './store.ts';

export { MemoryRateLimitStore } from './memory-store.ts';
export type { MemoryRateLimitStoreOptions } from './memory-store.ts';
export { RedisRateLimitStore } from './redis-store.ts';
export type { RedisRateLimitStoreOptions } from './redis-store.ts';
export type { RateLimitStore } from './store.ts';
export type { RateLimitKey } from './keys.ts';
export type { LimitOptions, LoginOptions, LoginRouteOption, RateLimitOptions, RateLimitRouteOption, StoreErrorMode } from './options.ts';
export type { RateDecision, GcraPolicy } from './gcra.ts';

declare module '../handlers.ts' {
  interface RouteOptions {
    /** `false`: no rate limit on this route. A limit (or several): this route's own, on top of the scope's. */
    rateLimit?: RateLimitRouteOption;
    /** Marks a login route: failed attempts are limited per account (this form/JSON field) and per IP. */
    login?: true | LoginRouteOption;
  }
}

interface Resolved {
  readonly input: RateLimitOptions;
  /** Closed at the app's shutdown (a Redis store closes only a client it connected itself). */
  readonly store: RateLimitStore;
  readonly headers: boolean;
  readonly login: ResolvedLogin | undefined;
}

/** Per app, the blueprints with a rateLimit registration of their own (they read their routes' options). */
const ownScopes = new WeakMap<PluginAppView, Set<string>>();

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

function routeLimits(option: RateLimitRouteOption | undefined, route: RouteView, scope: string): readonly ResolvedLimit[] {
  if (option === undefined || option === false) return [];
  const list: readonly LimitOptions[] = Array.isArray(option) ? option : [option as LimitOptions];
  // A route's own limit counts for that route alone: its key carries the route.
  const limits = list.map((l, i) => resolveLimit(l, `route ${route.key}: rateLimit`, `${scope}|${route.key}`, i === 0 ? 'route' : `route-${i + 1}`));
  assertUniqueNames(limits, `route ${route.key}: rateLimit`);
  return limits;
}

/** Chains two optional before-hooks: the second runs only when the first let the request through. */
function chain(first: RouteHooks['onRequest'], second: RouteHooks['onRequest']): RouteHooks['onRequest'] {
  if (first === undefined) return second;
  if (second === undefined) return first;
  return async function rateLimits(ctx: Context): Promise<unknown> {
    const reply = await first(ctx);
    return reply === undefined ? second(ctx) : reply;
  };
}

function limitsHook(limits: readonly ResolvedLimit[], deps: LimiterDeps): RouteHooks['onRequest'] {
  if (limits.length === 0) return undefined;
  return function rateLimit(ctx: Context): undefined | Promise<undefined> {
    const running = runLimits(ctx, limits, deps);
    return running === undefined ? undefined : running.then(() => undefined);
  };
}

export const rateLimit = definePlugin<Resolved, RateLimitOptions>({
  name: 'rate-limit',
  options(input) {
    const o = input ?? {};
    if (typeof o !== 'object') throw new ConfigError('VIAL_ERR_RATE_LIMIT_OPTIONS', 'rateLimit: options are an object, e.g. { limit: 100, windowSec: 60 }.');
    if (o.store !== undefined && typeof o.store.hit !== 'function') throw new ConfigError('VIAL_ERR_RATE_LIMIT_OPTIONS', 'rateLimit: store is a MemoryRateLimitStore, a RedisRateLimitStore or another RateLimitStore.');
    // Validate the limits now (a typo fails at registration); they are resolved again per scope.
    resolveLimits(o, '');
    const login = resolveLogin(o.login);
    return Object.freeze({ input: o, store: o.store ?? new LazyMemoryRateLimitStore(), headers: o.headers ?? false, login });
  },
  setup(r, options) {
    const scope = r.blueprint ?? '';
    if (r.blueprint !== undefined) {
      let set = ownScopes.get(r.app);
      if (set === undefined) ownScopes.set(r.app, (set = new Set()));
      set.add(r.blueprint);
    }
    const limits = resolveLimits(options.input, scope);
    const deps: LimiterDeps = { store: options.store, health: new StoreHealth(r.app.log, options.store.kind), headers: options.headers };
    const owns = (route: RouteView): boolean =>
      r.blueprint !== undefined || route.blueprint === undefined || ownScopes.get(r.app)?.has(route.blueprint) !== true;

    r.routeOption('rateLimit', (value, route) => {
      if (value !== false) routeLimits(value as RateLimitRouteOption, route, scope);
    });
    r.routeOption('login', (value) => checkLoginOption(value));
    r.onShutdown(() => options.store.close?.());

    // Requests that match no route count too (a scanner probing paths gets 429, not endless 404s):
    // app-wide limits only, and those that need no session.
    const unmatchedLimits = limitsHook(r.blueprint === undefined ? limits.filter((l) => l.key.phase === 'request') : [], deps);
    if (unmatchedLimits !== undefined) r.onUnmatched(unmatchedLimits);

    r.perRoute((route) => {
      const option = route.options.rateLimit;
      const mine = owns(route);
      const all = option === false ? [] : [...limits, ...(mine ? routeLimits(option, route, scope) : [])];
      const early = all.filter((l) => l.key.phase === 'request');
      const late = all.filter((l) => l.key.phase === 'handler');
      const loginOption = route.options.login;
      const login = mine && loginOption !== undefined && options.login !== undefined && !SAFE.has(route.method)
        ? loginHooks(loginOption, options.login, scope, deps)
        : undefined;
      const onRequest = chain(limitsHook(early, deps), login?.onRequest);
      const beforeHandler = chain(limitsHook(late, deps), login?.beforeHandler);
      if (onRequest === undefined && beforeHandler === undefined) return undefined;
      const hooks: { -readonly [K in keyof RouteHooks]: RouteHooks[K] } = {};
      if (onRequest !== undefined) hooks.onRequest = onRequest;
      if (beforeHandler !== undefined) hooks.beforeHandler = beforeHandler;
      if (login?.onResponse !== undefined) hooks.onResponse = login.onResponse;
      return hooks;
    });
  },
});
