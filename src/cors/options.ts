/**
 * CORS options: what users pass, checked and resolved once into a frozen policy.
 *
 * Pure module: no I/O, no request context.
 */
import { ConfigError } from '../errors.ts';

export interface CorsOptions {
  /**
   * Who may read responses from a script on another origin: exact origins
   * (`https://app.example.com`), anchored patterns (`/^https:\/\/[a-z0-9-]+\.example\.com$/`), or
   * `'*'` for any origin without credentials. Required: there is no default that lets anyone in.
   */
  readonly origins: readonly (string | RegExp)[] | '*';
  /** Let the browser send cookies and read the reply (Access-Control-Allow-Credentials). Never with `'*'`. Default false. */
  readonly credentials?: boolean;
  /** Methods a preflight allows. Default: the methods of the CORS-enabled routes at that path. */
  readonly methods?: readonly string[];
  /** Request headers a preflight allows. Default: content-type, authorization, x-csrf-token, x-requested-with. */
  readonly allowHeaders?: readonly string[];
  /** Response headers scripts may read beyond the CORS-safelisted ones. Default none. */
  readonly exposeHeaders?: readonly string[];
  /** How long a browser may cache a preflight (Access-Control-Max-Age). Default 600; Chromium caps at 7200. */
  readonly maxAgeSec?: number;
}

/** A route's `cors` option: `false` turns CORS off there; an object overrides the plugin's settings. */
export type CorsRouteOption = false | Partial<CorsOptions>;

export interface CorsPolicy {
  readonly any: boolean;
  readonly exact: ReadonlySet<string>;
  readonly patterns: readonly RegExp[];
  readonly credentials: boolean;
  readonly methods: readonly string[] | undefined;
  readonly allowHeaders: string;
  readonly exposeHeaders: string | undefined;
  readonly maxAgeSec: string;
}

export const DEFAULT_ALLOW_HEADERS: readonly string[] = Object.freeze(['content-type', 'authorization', 'x-csrf-token', 'x-requested-with']);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function bad(message: string): ConfigError {
  return new ConfigError('VIAL_ERR_CORS', `cors: ${message}`);
}

function tokens(name: string, list: readonly string[] | undefined): readonly string[] | undefined {
  if (list === undefined) return undefined;
  const items: unknown = list;
  if (!Array.isArray(items)) throw bad(`${name} is a list of names, got ${typeof items}.`);
  for (const item of items as unknown[]) if (typeof item !== 'string' || !TOKEN.test(item)) throw bad(`${name} has ${JSON.stringify(item)}, which is not a header or method name.`);
  return list;
}

/** Checks and resolves options; `base` is the plugin-level policy a route's option overrides. */
export function resolveCorsPolicy(input: Partial<CorsOptions> | undefined, base?: CorsPolicy): CorsPolicy {
  if (input === undefined || typeof input !== 'object') {
    if (base !== undefined) return base;
    throw bad("needs `origins`: the exact origins (or anchored patterns) allowed to call this app, e.g. { origins: ['https://app.example.com'] }.");
  }
  let any = base?.any ?? false;
  let exact = base?.exact ?? new Set<string>();
  let patterns = base?.patterns ?? [];
  if (input.origins !== undefined) {
    any = input.origins === '*';
    const set = new Set<string>();
    const found: RegExp[] = [];
    if (!any) {
      if (!Array.isArray(input.origins) || input.origins.length === 0) throw bad("origins is '*' or a non-empty list of origins and patterns.");
      for (const origin of input.origins) {
        if (origin instanceof RegExp) {
          // An unanchored pattern is the classic CORS hole: /example\.com/ also matches example.com.evil.net.
          if (!origin.source.startsWith('^') || !origin.source.endsWith('$') || origin.flags.includes('g') || origin.flags.includes('y')) {
            throw bad(`the pattern ${String(origin)} must be anchored (^...$) and have no g or y flag.`);
          }
          found.push(origin);
        } else if (typeof origin === 'string') {
          let url: URL | undefined;
          if (URL.canParse(origin)) url = new URL(origin);
          if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:') || origin.replace(/\/$/, '').toLowerCase() !== url.origin) {
            throw bad(`"${origin}" is not an origin; write scheme://host[:port] with no path, e.g. https://app.example.com.`);
          }
          set.add(url.origin);
        } else {
          throw bad('origins holds strings and RegExps only.');
        }
      }
    }
    exact = set;
    patterns = found;
  }
  const credentials = input.credentials ?? base?.credentials ?? false;
  if (typeof credentials !== 'boolean') throw bad('credentials is true or false.');
  // Fetch refuses `Access-Control-Allow-Origin: *` with credentials; reflecting every origin instead
  // would hand every site the user's cookies, so neither is offered.
  if (credentials && any) throw bad("credentials: true needs explicit origins, never '*'.");
  const methods = tokens('methods', input.methods)?.map((m) => m.toUpperCase()) ?? base?.methods;
  const allowHeaders = tokens('allowHeaders', input.allowHeaders)?.join(', ') ?? base?.allowHeaders ?? DEFAULT_ALLOW_HEADERS.join(', ');
  const expose = tokens('exposeHeaders', input.exposeHeaders);
  const exposeHeaders = expose === undefined ? base?.exposeHeaders : expose.length === 0 ? undefined : expose.join(', ');
  const maxAge = input.maxAgeSec ?? (base === undefined ? 600 : Number(base.maxAgeSec));
  if (!Number.isSafeInteger(maxAge) || maxAge < 0 || maxAge > 86_400) throw bad(`maxAgeSec is an integer from 0 to 86400, got ${String(maxAge)}.`);
  return Object.freeze({ any, exact, patterns: Object.freeze(patterns), credentials, methods, allowHeaders, exposeHeaders, maxAgeSec: String(maxAge) });
}

/** The Access-Control-Allow-Origin value for this Origin, or undefined when it is not allowed. */
export function allowedOrigin(policy: CorsPolicy, origin: string | undefined): string | undefined {
  if (origin === undefined || origin === 'null') return undefined;
  if (policy.any) return '*';
  if (policy.exact.has(origin)) return origin;
  for (const pattern of policy.patterns) if (pattern.test(origin)) return origin;
  return undefined;
}
