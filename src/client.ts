/**
 * `vial/client`: a typed client for a vial app, its request and response types inferred from the
 * app's routes (`createClient<typeof app>(baseUrl)`): the path pattern as the route wrote it,
 * params from its converters or params schema, query, headers and body from its schema, and the
 * success body from its response schemas (or the handler's return type). Change a schema and the
 * call sites that no longer fit stop compiling. The test client offers the same typing (`.api`).
 *
 * Runs anywhere `fetch` does; nothing here imports the server.
 */
import type { PathParams, RouteEntry, RoutesOf } from './route-types.ts';
import type { SchemaInput, SchemaOutput } from './schema/types.ts';

type Entries<A> = RoutesOf<A> extends infer R ? (R extends object ? R : never) : never;
type RouteKey<A> = Extract<keyof Entries<A>, string>;
/** The path patterns the app serves for a method: `'/todos/<int:id>'`. */
export type PathsFor<A, M extends string> = RouteKey<A> extends infer K ? (K extends `${M} ${infer P}` ? P : never) : never;
type EntryOf<A, M extends string, P extends string> = Entries<A>[`${M} ${P}` & keyof Entries<A>] extends infer E ? (E extends RouteEntry ? E : never) : never;

type SchemaPart<S, K extends string> = S extends { readonly [P in K]: infer X } ? X : undefined;
type Optionality<K extends string, T> = Record<never, never> extends T ? { readonly [P in K]?: T } : { readonly [P in K]: T };
type QueryValue = string | number | boolean | readonly (string | number | boolean)[];

type ParamsInit<E extends RouteEntry> = SchemaPart<E['schema'], 'params'> extends undefined
  ? keyof PathParams<E['path']> extends never ? { readonly params?: undefined } : { readonly params: PathParams<E['path']> }
  : { readonly params: SchemaInput<SchemaPart<E['schema'], 'params'>> };
type QueryInit<E extends RouteEntry> = SchemaPart<E['schema'], 'query'> extends undefined
  ? { readonly query?: Readonly<Record<string, QueryValue | undefined>> }
  : Optionality<'query', SchemaInput<SchemaPart<E['schema'], 'query'>>>;
type HeadersInit<E extends RouteEntry> = SchemaPart<E['schema'], 'headers'> extends undefined
  ? { readonly headers?: Readonly<Record<string, string>> }
  : Optionality<'headers', SchemaInput<SchemaPart<E['schema'], 'headers'>> & Readonly<Record<string, string>>>;
type BodyInit<E extends RouteEntry> = SchemaPart<E['schema'], 'body'> extends undefined
  ? { readonly body?: unknown }
  : { readonly body: SchemaInput<SchemaPart<E['schema'], 'body'>> };

/** What a call to this route takes: `{ params, query, headers, body, signal }`, each as its schema says. */
export type RequestInit<E extends RouteEntry> = ParamsInit<E> & QueryInit<E> & HeadersInit<E> & BodyInit<E> & { readonly signal?: AbortSignal };

type Success = 200 | 201 | 202 | 203 | 204 | 205 | 206;
type SuccessBody<E extends RouteEntry> = E['schema'] extends { readonly response: infer R }
  ? { [K in keyof R]: K extends Success ? SchemaOutput<R[K]> : never }[keyof R]
  : E['reply'] extends string ? string : Exclude<E['reply'], void | undefined | { readonly headers: unknown; readonly status: number; readonly body: unknown }>;

/** A 2xx with the body typed from the route; anything else with its status and parsed body. */
export type ClientResult<E extends RouteEntry> =
  | { readonly ok: true; readonly status: number; readonly headers: Headers; readonly data: SuccessBody<E> }
  | { readonly ok: false; readonly status: number; readonly headers: Headers; readonly data: unknown };

type Args<E extends RouteEntry> = Record<never, never> extends RequestInit<E> ? [init?: RequestInit<E>] : [init: RequestInit<E>];

/** How a request leaves: fetch for `createClient`, the in-process test client for `testClient(app).api`. */
export type Transport = (request: { method: string; url: string; headers: Record<string, string>; body: string | undefined; signal: AbortSignal | undefined }) => Promise<{ status: number; headers: Headers; text: string }>;

export interface Client<A> {
  get<P extends PathsFor<A, 'GET'>>(path: P, ...init: Args<EntryOf<A, 'GET', P>>): Promise<ClientResult<EntryOf<A, 'GET', P>>>;
  post<P extends PathsFor<A, 'POST'>>(path: P, ...init: Args<EntryOf<A, 'POST', P>>): Promise<ClientResult<EntryOf<A, 'POST', P>>>;
  put<P extends PathsFor<A, 'PUT'>>(path: P, ...init: Args<EntryOf<A, 'PUT', P>>): Promise<ClientResult<EntryOf<A, 'PUT', P>>>;
  patch<P extends PathsFor<A, 'PATCH'>>(path: P, ...init: Args<EntryOf<A, 'PATCH', P>>): Promise<ClientResult<EntryOf<A, 'PATCH', P>>>;
  delete<P extends PathsFor<A, 'DELETE'>>(path: P, ...init: Args<EntryOf<A, 'DELETE', P>>): Promise<ClientResult<EntryOf<A, 'DELETE', P>>>;
}

export interface ClientOptions {
  /** Headers sent with every request (an API token). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Default: the global fetch. */
  readonly fetch?: typeof fetch;
}

/**
 * `const api = createClient<typeof app>('http://127.0.0.1:5000')`; then
 * `const res = await api.get('/todos/<int:id>', { params: { id: 1 } }); if (res.ok) res.data.title`.
 * The type argument is only a type: import the app with `import type`.
 */
export function createClient<A>(baseUrl: string | URL, options: ClientOptions = {}): Client<A> {
  const base = String(baseUrl).replace(/\/$/, '');
  const fetchImpl = options.fetch ?? fetch;
  return clientOver<A>(async (request) => {
    const res = await fetchImpl(`${base}${request.url}`, {
      method: request.method,
      headers: { ...options.headers, ...request.headers },
      ...(request.body === undefined ? {} : { body: request.body }),
      ...(request.signal === undefined ? {} : { signal: request.signal }),
    });
    return { status: res.status, headers: res.headers, text: await res.text() };
  });
}

/** A typed client over any transport (the test client uses this). */
export function clientOver<A>(transport: Transport): Client<A> {
  const call = (method: string) => async (path: string, init: RawInit = {}): Promise<ClientResult<RouteEntry>> => {
    const headers: Record<string, string> = { accept: 'application/json', ...(init.headers as Record<string, string> | undefined) };
    let body: string | undefined;
    if (init.body !== undefined) {
      body = JSON.stringify(init.body);
      headers['content-type'] = 'application/json';
    }
    const url = fillPath(path, init.params ?? {}) + queryString(init.query);
    const res = await transport({ method, url, headers, body, signal: init.signal });
    const type = res.headers.get('content-type') ?? '';
    const data: unknown = /^application\/(?:[\w.+-]*\+)?json\b/i.test(type) && res.text !== '' ? JSON.parse(res.text) : res.text;
    const ok = res.status >= 200 && res.status < 300;
    return { ok, status: res.status, headers: res.headers, data };
  };
  return { get: call('GET'), post: call('POST'), put: call('PUT'), patch: call('PATCH'), delete: call('DELETE') } as unknown as Client<A>;
}

interface RawInit {
  readonly params?: Readonly<Record<string, unknown>>;
  readonly query?: Readonly<Record<string, unknown>>;
  readonly headers?: unknown;
  readonly body?: unknown;
  readonly signal?: AbortSignal;
}

/** `/todos/<int:id>` with `{ id: 3 }` -> `/todos/3`; `<path:rest>` keeps its slashes. */
export function fillPath(pattern: string, params: Readonly<Record<string, unknown>>): string {
  const value = (name: string): string => {
    const v = params[name];
    if (v === undefined || v === null) throw new TypeError(`${pattern} needs a value for "${name}".`);
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- params are numbers and strings (the route's converters)
    return String(v);
  };
  return pattern
    .replace(/<(?:([A-Za-z_][A-Za-z0-9_]*):)?([A-Za-z_][A-Za-z0-9_]*)>/g, (_m, converter: string | undefined, name: string) =>
      converter === 'path' ? value(name).split('/').map(encodeURIComponent).join('/') : encodeURIComponent(value(name)))
    .replace(/(^|\/):([A-Za-z_][A-Za-z0-9_]*)/g, (_m, slash: string, name: string) => `${slash}${encodeURIComponent(value(name))}`)
    .replace(/\*$/, () => value('*').split('/').map(encodeURIComponent).join('/'));
}

function queryString(query: Readonly<Record<string, unknown>> | undefined): string {
  if (query === undefined) return '';
  const search = new URLSearchParams();
  for (const [key, v] of Object.entries(query)) {
    if (v === undefined) continue;
    for (const item of Array.isArray(v) ? (v as unknown[]) : [v]) search.append(key, String(item));
  }
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}
