/**
 * Path matching over find-my-way, with Flask-style converters (`/users/<int:id>`) and reverse
 * routing by name. Pure: no sockets, timers or request context.
 *
 * Patterns accept both Flask syntax (`<name>`, `<int:id>`, `<uuid:id>`, `<path:rest>`, or a custom
 * converter) and find-my-way's own (`:id`, `*`). Converters with a regex become find-my-way regex
 * parameters, so `/u/<int:id>` and `/u/<name>` can live side by side and a non-number simply does
 * not match the first one.
 */
import FindMyWay from 'find-my-way';
import { ConfigError } from './errors.ts';

export interface Converter {
  /** Regex source for one path segment (no anchors). Omit for "any segment". */
  regex?: string;
  /** Turns the matched text into the value handlers see. */
  parse?: (text: string) => unknown;
  /** Turns a value back into text for `urlFor`. */
  format?: (value: unknown) => string;
}

export const BUILTIN_CONVERTERS: Readonly<Record<string, Converter>> = Object.freeze({
  string: {},
  int: { regex: '\\d{1,15}', parse: Number },
  uuid: {
    regex: '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}',
    parse: (text: string) => text.toLowerCase(),
  },
  // `path` is handled as a wildcard, see compilePattern.
  path: {},
});

export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export type Method = (typeof METHODS)[number];

interface Segment {
  readonly kind: 'static' | 'param' | 'wildcard';
  readonly text: string; // static text, or the param name
  readonly converter?: Converter;
}

export interface CompiledPattern {
  /** The pattern as written, e.g. `/users/<int:id>`. */
  readonly source: string;
  /** The find-my-way form, e.g. `/users/:id(^\d{1,15}$)`. */
  readonly fmwPath: string;
  readonly segments: readonly Segment[];
  /** Params that need a parse step (converters with `parse`, and the wildcard rename). */
  readonly parsers: ReadonlyArray<readonly [name: string, parse: (text: string) => unknown]>;
  readonly wildcardName: string | undefined;
}

const FLASK_PARAM = /<(?:([A-Za-z_][A-Za-z0-9_]*):)?([A-Za-z_][A-Za-z0-9_]*)>/y;

export function compilePattern(source: string, converters: Readonly<Record<string, Converter>>): CompiledPattern {
  if (!source.startsWith('/')) throw new ConfigError('VIAL_ERR_ROUTE', `Route paths start with "/", got "${source}".`);
  const segments: Segment[] = [];
  let fmwPath = '';
  let wildcardName: string | undefined;
  const parsers: Array<readonly [string, (text: string) => unknown]> = [];
  let i = 0;
  let staticText = '';
  const flushStatic = (): void => {
    if (staticText !== '') segments.push({ kind: 'static', text: staticText });
    staticText = '';
  };
  while (i < source.length) {
    if (wildcardName !== undefined) {
      throw new ConfigError('VIAL_ERR_ROUTE', `In "${source}", a <path:...> or * parameter must come last.`);
    }
    const ch = source[i];
    FLASK_PARAM.lastIndex = i;
    const flask = ch === '<' ? FLASK_PARAM.exec(source) : null;
    if (flask !== null) {
      const convName = flask[1] ?? 'string';
      const name = flask[2] as string;
      const converter = converters[convName];
      if (converter === undefined) {
        throw new ConfigError(
          'VIAL_ERR_ROUTE',
          `Unknown converter "${convName}" in "${source}". Known: ${Object.keys(converters).join(', ')}. ` +
            'Register your own with app.converter(name, { regex, parse }).',
        );
      }
      flushStatic();
      if (convName === 'path') {
        wildcardName = name;
        segments.push({ kind: 'wildcard', text: name });
        fmwPath += '*';
      } else {
        segments.push({ kind: 'param', text: name, converter });
        fmwPath += converter.regex === undefined ? `:${name}` : `:${name}(^${converter.regex}$)`;
        if (converter.parse !== undefined) parsers.push([name, converter.parse]);
      }
      i = FLASK_PARAM.lastIndex;
      continue;
    }
    if (ch === ':' && source[i - 1] === '/') {
      const match = /^:([A-Za-z_][A-Za-z0-9_]*)/.exec(source.slice(i));
      if (match !== null) {
        flushStatic();
        const name = match[1] as string;
        segments.push({ kind: 'param', text: name, converter: BUILTIN_CONVERTERS['string'] as Converter });
        fmwPath += `:${name}`;
        i += match[0].length;
        continue;
      }
    }
    if (ch === '*' && i === source.length - 1) {
      flushStatic();
      wildcardName = '*';
      segments.push({ kind: 'wildcard', text: '*' });
      fmwPath += '*';
      i++;
      continue;
    }
    if (ch === '<' || ch === '>') throw new ConfigError('VIAL_ERR_ROUTE', `Malformed parameter in "${source}".`);
    staticText += ch;
    // find-my-way treats ':' as a param start and '::' as a literal colon.
    fmwPath += ch === ':' ? '::' : ch;
    i++;
  }
  flushStatic();
  return { source, fmwPath, segments, parsers, wildcardName };
}

/** Builds a URL path from a compiled pattern and parameter values (reverse routing). */
export function buildPath(pattern: CompiledPattern, params: Readonly<Record<string, unknown>>): string {
  let out = '';
  for (const segment of pattern.segments) {
    if (segment.kind === 'static') {
      out += segment.text;
      continue;
    }
    const value = params[segment.text];
    if (value === undefined || value === null) {
      throw new ConfigError('VIAL_ERR_URL_FOR', `urlFor("${pattern.source}") needs a value for "${segment.text}".`);
    }
    if (segment.kind === 'wildcard') {
      out += String(value as string).split('/').map(encodeURIComponent).join('/');
      continue;
    }
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- params are numbers or strings unless a converter formats them
    const text = segment.converter?.format !== undefined ? segment.converter.format(value) : String(value);
    if (segment.converter?.regex !== undefined && !new RegExp(`^(?:${segment.converter.regex})$`).test(text)) {
      throw new ConfigError('VIAL_ERR_URL_FOR', `urlFor("${pattern.source}"): "${text}" is not a valid "${segment.text}".`);
    }
    out += encodeURIComponent(text);
  }
  return out;
}

export interface Match<T> {
  readonly route: T;
  readonly params: Record<string, unknown>;
}

/**
 * The route table. `T` is whatever the app stores per route (its RouteRecord); the router only
 * needs the compiled pattern, so it stays generic and testable without an app.
 */
export class Router<T extends { readonly pattern: CompiledPattern }> {
  readonly #fmw = FindMyWay({ maxParamLength: 500, caseSensitive: true, ignoreTrailingSlash: false });
  readonly #byMethod = new Map<string, number>();
  /**
   * Routes without parameters by method, then by their exact path: a request path equal to one
   * (no percent-encoding to decode) is that route in find-my-way too, since static nodes win over
   * parametric ones, so one Map lookup stands in for the tree walk on the commonest requests.
   */
  readonly #static = new Map<string, Map<string, T>>();

  add(method: string, route: T): void {
    try {
      this.#fmw.on(method as FindMyWay.HTTPMethod, route.pattern.fmwPath, noop, route);
    } catch (error) {
      throw new ConfigError(
        'VIAL_ERR_ROUTE',
        `Cannot add ${method} ${route.pattern.source}: ${(error as Error).message}`,
      );
    }
    this.#byMethod.set(method, (this.#byMethod.get(method) ?? 0) + 1);
    if (route.pattern.segments.every((s) => s.kind === 'static') && !/[%:*]/.test(route.pattern.fmwPath)) {
      let paths = this.#static.get(method);
      if (paths === undefined) this.#static.set(method, (paths = new Map<string, T>()));
      paths.set(route.pattern.fmwPath, route);
    }
  }

  has(method: string, path: string): boolean {
    return this.#fmw.hasRoute(method as FindMyWay.HTTPMethod, path);
  }

  /** Finds the route for a path without its query string. Returns undefined when nothing matches. */
  find(method: string, path: string): Match<T> | undefined {
    const exact = this.#static.get(method)?.get(path);
    if (exact !== undefined) return { route: exact, params: {} };
    const found = this.#fmw.find(method as FindMyWay.HTTPMethod, path);
    if (found === null) return undefined;
    const route = found.store as T;
    const params = found.params as Record<string, unknown>;
    const { parsers, wildcardName } = route.pattern;
    for (let i = 0; i < parsers.length; i++) {
      const [name, parse] = parsers[i] as readonly [string, (text: string) => unknown];
      params[name] = parse(params[name] as string);
    }
    if (wildcardName !== undefined && wildcardName !== '*') {
      params[wildcardName] = params['*'];
      delete params['*'];
    }
    return { route, params };
  }

  /** Methods that would match this path (for 405 `Allow` and automatic OPTIONS). Cold path. */
  allowedMethods(path: string): string[] {
    const allowed: string[] = [];
    for (const method of this.#byMethod.keys()) {
      if (this.#fmw.find(method as FindMyWay.HTTPMethod, path) !== null) allowed.push(method);
    }
    return allowed;
  }

  /** The routes of every method that match this path (for 405, automatic OPTIONS, CORS preflights). Cold path. */
  routesAt(path: string): T[] {
    const routes: T[] = [];
    for (const method of this.#byMethod.keys()) {
      const found = this.#fmw.find(method as FindMyWay.HTTPMethod, path);
      if (found !== null) routes.push(found.store as T);
    }
    return routes;
  }
}

function noop(): void {}
