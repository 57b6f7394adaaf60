/**
 * Turns the app's and its blueprints' route definitions into RouteRecords: compiled patterns,
 * per-route hook chains (so the dispatcher walks one array instead of two scopes), names for
 * `urlFor`, and automatic HEAD for GET routes. Pure.
 */
import type { Blueprint } from './blueprint.ts';
import type { RouteInfo } from './context.ts';
import { ConfigError } from './errors.ts';
import { buildPath, compilePattern, Router } from './router.ts';
import type { CompiledPattern, Converter } from './router.ts';
import type { RouteView } from './plugin.ts';
import { NO_PLUGIN_HOOKS } from './plugin-host.ts';
import type { PluginHost, PluginRouteHooks } from './plugin-host.ts';
import type { AfterHook, BeforeHook, ErrorClass, ErrorHandler, Handler, RouteOptions, Scaffold, TeardownHook } from './scaffold.ts';

/** Error handlers of one scope (a blueprint or the app), looked up innermost first. */
export interface ErrorScope {
  readonly byStatus: ReadonlyMap<number, ErrorHandler>;
  readonly byClass: ReadonlyMap<ErrorClass, ErrorHandler>;
}

export interface RouteRecord {
  readonly method: string;
  readonly pattern: CompiledPattern;
  readonly handler: Handler | undefined;
  readonly options: Readonly<RouteOptions>;
  readonly info: RouteInfo;
  readonly before: readonly BeforeHook[];
  /** In the order they run: blueprint's then app's, each newest first (as Flask does). */
  readonly after: readonly AfterHook[];
  readonly teardown: readonly TeardownHook[];
  readonly errorScopes: readonly ErrorScope[];
  /** What plugins do on this route, decided once when the table was built (plugin-host.ts). */
  readonly plugins: PluginRouteHooks;
  /** The route as plugins saw it. */
  readonly view: RouteView;
}

export interface RouteTable {
  readonly router: Router<RouteRecord>;
  readonly records: readonly RouteRecord[];
  readonly byName: ReadonlyMap<string, RouteRecord>;
  readonly appErrorScope: ErrorScope;
}

export interface Mount {
  readonly blueprint: Blueprint;
  readonly prefix: string;
}

function scopeOf(s: Scaffold): ErrorScope {
  return { byStatus: s.errorHandlersByStatus, byClass: s.errorHandlersByClass };
}

export function buildRouteTable(app: Scaffold, mounts: readonly Mount[], converters: Readonly<Record<string, Converter>>, plugins?: PluginHost): RouteTable {
  plugins?.checkDependencies();
  const router = new Router<RouteRecord>();
  const records: RouteRecord[] = [];
  const byName = new Map<string, RouteRecord>();
  const appScope = scopeOf(app);
  const scopes: Array<{ scaffold: Scaffold; blueprint: Blueprint | undefined; prefix: string }> = [
    { scaffold: app, blueprint: undefined, prefix: '' },
    ...mounts.map((m) => ({ scaffold: m.blueprint, blueprint: m.blueprint, prefix: m.prefix })),
  ];
  for (const mount of mounts) mount.blueprint.freeze();
  for (const { scaffold, blueprint, prefix } of scopes) {
    const before = blueprint === undefined ? [...app.hooks.before] : [...app.hooks.before, ...blueprint.hooks.before];
    const after = [...(blueprint?.hooks.after ?? []).toReversed(), ...app.hooks.after.toReversed()];
    const teardown = [...(blueprint?.hooks.teardown ?? []).toReversed(), ...app.hooks.teardown.toReversed()];
    const errorScopes = blueprint === undefined ? [appScope] : [scopeOf(blueprint), appScope];
    for (const def of scaffold.routes) {
      const path = prefix + (def.path === '/' && prefix !== '' ? '' : def.path);
      const pattern = compilePattern(path === '' ? '/' : path, converters);
      const baseName = def.options.name ?? handlerName(def.handler);
      const name = baseName === undefined ? undefined : blueprint === undefined ? baseName : `${blueprint.name}.${baseName}`;
      const methods = [...def.methods];
      if (methods.includes('GET') && !methods.includes('HEAD')) methods.push('HEAD');
      let named: RouteRecord | undefined;
      for (const method of methods) {
        const info: RouteInfo = Object.freeze({ key: `${method === 'HEAD' && !def.methods.includes('HEAD') ? 'GET' : method} ${pattern.source}`, name, blueprint: blueprint?.name, timeoutMs: def.options.timeoutMs });
        const view: RouteView = Object.freeze({
          method,
          path: pattern.source,
          key: info.key,
          name,
          blueprint: blueprint?.name,
          options: def.options,
          paramNames: Object.freeze(pattern.segments.filter((s) => s.kind !== 'static').map((s) => s.text)),
        });
        if (plugins !== undefined && method === methods[0]) plugins.checkRouteOptions(view);
        const pluginHooks = plugins === undefined ? NO_PLUGIN_HOOKS : plugins.hooksFor(view);
        const record: RouteRecord = Object.freeze({
          method,
          pattern,
          handler: plugins === undefined ? def.handler : plugins.wrapHandler(view, def.handler),
          options: def.options,
          info,
          before: Object.freeze(before),
          after: Object.freeze(after),
          teardown: Object.freeze(teardown),
          errorScopes: Object.freeze(errorScopes),
          plugins: pluginHooks,
          view,
        });
        router.add(method, record);
        records.push(record);
        named ??= record;
      }
      if (name !== undefined && named !== undefined) {
        const existing = byName.get(name);
        if (existing !== undefined && existing.pattern.source !== pattern.source) {
          throw new ConfigError(
            'VIAL_ERR_ROUTE',
            `Two routes are named "${name}" (${existing.pattern.source} and ${pattern.source}). Give one a different \`name\` option.`,
          );
        }
        byName.set(name, named);
      }
    }
  }
  return { router, records, byName, appErrorScope: appScope };
}

function handlerName(handler: Handler | undefined): string | undefined {
  const name = handler?.name;
  // Arrow functions assigned inline get no name (''); bound ones get "bound x".
  return name === undefined || name === '' || name.includes(' ') ? undefined : name;
}

export function urlFor(table: RouteTable, name: string, params: Readonly<Record<string, unknown>> = {}, query?: Readonly<Record<string, string>>): string {
  const record = table.byName.get(name);
  if (record === undefined) {
    const known = [...table.byName.keys()].sort().join(', ') || '(none)';
    throw new ConfigError('VIAL_ERR_URL_FOR', `No route is named "${name}". Named routes: ${known}.`);
  }
  // A parameter the pattern does not have would be dropped without a word (Flask's `_external=True`
  // passed as a parameter is the usual one): say where it belongs instead.
  for (const key of Object.keys(params)) {
    if (!record.pattern.segments.some((segment) => segment.kind !== 'static' && segment.text === key)) {
      throw new ConfigError(
        'VIAL_ERR_URL_FOR',
        `urlFor("${name}") got "${key}", which is not a parameter of ${record.pattern.source}. Query values go in the third argument (\`{ tab: 'posts' }\` or \`{ query, external }\`).`,
      );
    }
  }
  const path = buildPath(record.pattern, params);
  if (query === undefined) return path;
  const search = new URLSearchParams(query).toString();
  return search === '' ? path : `${path}?${search}`;
}
