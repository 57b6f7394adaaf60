/**
 * CORS (Fetch standard, "CORS protocol"): a built-in plugin that is off until registered with
 * explicit origins (docs/cors.md).
 *
 *   app.plugin(cors, { origins: ['https://app.example.com'], credentials: true });
 *   api.plugin(cors, { origins: '*' });                       // a blueprint's own settings
 *   app.get('/x', { cors: false }, handler);                  // or per route: false or overrides
 *
 * Each route's policy is decided once when the route table is built. Preflights (OPTIONS with
 * Access-Control-Request-Method) never reach a handler: they match no route and are answered from
 * `onUnmatched` with the policy of the route the browser is about to call. Every response of a
 * CORS-enabled route carries `Vary: Origin`, since what it says depends on the Origin it was asked
 * from. CORS is not access control and grants no CSRF pass: see docs/cors.md.
 */
import type { Context } from '../context.ts';
import { definePlugin } from '../plugin.ts';
import type { PluginAppView, RouteView } from '../plugin.ts';
import { VialResponse } from '../response.ts';
import { allowedOrigin, resolveCorsPolicy } from './options.ts';
import type { CorsOptions, CorsPolicy, CorsRouteOption } from './options.ts';

export type { CorsOptions, CorsRouteOption } from './options.ts';

declare module '../handlers.ts' {
  interface RouteOptions {
    /** `false` turns CORS off on this route; an object overrides the cors plugin's settings here. */
    cors?: CorsRouteOption;
  }
}

/** Per app, the blueprints that registered cors themselves: the app-level policy leaves their routes alone. */
const ownPolicies = new WeakMap<PluginAppView, Set<string>>();

function appendVary(response: VialResponse, name: string): void {
  const vary = response.headers['vary'];
  const current = typeof vary === 'string' ? vary : Array.isArray(vary) ? vary.join(', ') : '';
  if (current === '*' || current.toLowerCase().split(/\s*,\s*/).includes(name.toLowerCase())) return;
  response.headers['vary'] = current === '' ? name : `${current}, ${name}`;
}

function methodsAt(routes: readonly RouteView[], policyOf: (route: RouteView) => CorsPolicy | undefined): string {
  const methods = new Set<string>();
  for (const route of routes) {
    if (policyOf(route) === undefined) continue;
    methods.add(route.method);
    if (route.method === 'GET') methods.add('HEAD');
  }
  return [...methods].join(', ');
}

export const cors = definePlugin<CorsPolicy, CorsOptions>({
  name: 'cors',
  options: (input) => resolveCorsPolicy(input),
  setup(r, base) {
    const scope = r.blueprint;
    if (scope !== undefined) {
      let set = ownPolicies.get(r.app);
      if (set === undefined) ownPolicies.set(r.app, (set = new Set()));
      set.add(scope);
    }
    const policies = new WeakMap<RouteView, CorsPolicy | null>();
    const policyOf = (route: RouteView): CorsPolicy | undefined => {
      let policy = policies.get(route);
      if (policy === undefined) {
        const own = scope === undefined && route.blueprint !== undefined && ownPolicies.get(r.app)?.has(route.blueprint) === true;
        const option = route.options.cors;
        policy = own || option === false ? null : option === undefined ? base : resolveCorsPolicy(option, base);
        policies.set(route, policy);
      }
      return policy ?? undefined;
    };

    r.routeOption('cors', (value) => {
      if (value !== false) resolveCorsPolicy(value as Partial<CorsOptions>, base);
    });

    r.perRoute((route) => {
      const policy = policyOf(route);
      if (policy === undefined) return undefined;
      return {
        onResponse: function corsHeaders(ctx: Context, response: VialResponse): void {
          appendVary(response, 'Origin');
          const allow = allowedOrigin(policy, ctx.request.header('origin'));
          if (allow === undefined) return;
          response.headers['access-control-allow-origin'] = allow;
          if (policy.credentials) response.headers['access-control-allow-credentials'] = 'true';
          if (policy.exposeHeaders !== undefined) response.headers['access-control-expose-headers'] = policy.exposeHeaders;
        },
      };
    });

    r.onUnmatched(function corsPreflight(ctx, { allowed }) {
      const request = ctx.request;
      const requested = request.header('access-control-request-method');
      if (request.method !== 'OPTIONS' || requested === undefined) return undefined;
      const wanted = requested === 'HEAD' ? 'GET' : requested;
      const target = allowed.find((route) => route.method === wanted);
      const policy = target === undefined ? undefined : policyOf(target);
      if (policy === undefined) return undefined;
      const allow = allowedOrigin(policy, request.header('origin'));
      const response = new VialResponse(null, 204, {});
      appendVary(response, 'Origin');
      // A refused preflight is a 204 without Access-Control-Allow-Origin: the browser stops there.
      if (allow === undefined) return response;
      const headers = response.headers;
      headers['access-control-allow-origin'] = allow;
      headers['access-control-allow-methods'] = policy.methods?.join(', ') ?? methodsAt(allowed, policyOf);
      headers['access-control-allow-headers'] = policy.allowHeaders;
      headers['access-control-max-age'] = policy.maxAgeSec;
      if (policy.credentials) headers['access-control-allow-credentials'] = 'true';
      return response;
    });
  },
});
