/**
 * Types that follow the route: `ctx.params` from the path pattern (`/users/<int:id>` gives
 * `{ id: number }`), `ctx.valid` and the handler's reply from the `schema` option, unknown route
 * options refused, and each route recorded on the app's type for the typed client (vial/client).
 * Type-only: nothing here exists at run time.
 */
import type { Context } from './context.ts';
import type { Reply, RouteOptions } from './handlers.ts';
import type { SchemaOutput, SchemaReply, Valid } from './schema/types.ts';

/**
 * The type each path converter gives. Augment it for your own converters:
 * `declare module 'vial' { interface ConverterTypes { slug: string } }`.
 */
export interface ConverterTypes {
  string: string;
  int: number;
  uuid: string;
  path: string;
}

type Simplify<T> = { [K in keyof T]: T[K] } & {};

type FlaskParam<S extends string> = S extends `${infer C}:${infer N}`
  ? { [K in N]: C extends keyof ConverterTypes ? ConverterTypes[C] : unknown }
  : { [K in S]: string };
type FlaskParams<P extends string> = P extends `${string}<${infer Inner}>${infer Rest}` ? FlaskParam<Inner> & FlaskParams<Rest> : unknown;
type ColonParams<P extends string> = P extends `${string}/:${infer Name}/${infer Rest}`
  ? { [K in Name]: string } & ColonParams<`/${Rest}`>
  : P extends `${string}/:${infer Name}` ? { [K in Name]: string } : unknown;
type WildcardParam<P extends string> = P extends `${string}*` ? { '*': string } : unknown;

/** `/users/<int:id>/posts/<slug>` -> `{ id: number; slug: string }`; a non-literal path gives a record. */
export type PathParams<P extends string> = string extends P ? Record<string, unknown> : Simplify<FlaskParams<P> & ColonParams<P> & WildcardParam<P>>;

/** The `schema` option of a route's options (as written, so its literal types survive), or `{}`. */
export type SchemaOf<O> = [O] extends [never] ? Record<never, never> : O extends { readonly schema: infer S } ? S : Record<never, never>;

type ParamsOf<P extends string, S> = S extends { readonly params: infer X } ? (unknown extends SchemaOutput<X> ? PathParams<P> : SchemaOutput<X>) : PathParams<P>;

/** The `ctx` a route's handler gets: params from the path (or its params schema), `valid` from its schema. */
export type RouteContext<P extends string, S = Record<never, never>> = Context & {
  readonly params: ParamsOf<P, S>;
  readonly valid: Valid<S>;
};

/** What a handler may return: anything vial turns into a response, or, with response schemas, a body one of them accepts. */
export type ReplyFor<S> = S extends { readonly response: object } ? SchemaReply<S> : Reply | void;

/** Options with no key vial or a registered plugin's RouteOptions augmentation does not know. */
export type KnownOptions<O> = O & { readonly [K in Exclude<keyof O, keyof RouteOptions>]: never };

export type RouteHandler<P extends string, S, R> = (ctx: RouteContext<P, S>) => R | Promise<R>;

/** One route as the typed client sees it. */
export interface RouteEntry<P extends string = string, S = unknown, R = unknown> {
  readonly path: P;
  readonly schema: S;
  /** What the handler returns (when no response schema says more). */
  readonly reply: R;
}

/** The routes an app (or blueprint) has declared so far, by `METHOD /pattern`. Phantom: no such property exists. */
export interface Routed<R> {
  readonly '~routes'?: R;
}

export type RouteMark<M extends string, P extends string, S, R> = Routed<{ readonly [K in `${M} ${P}`]: RouteEntry<P, S, Awaited<R>> }>;

/** The route map of `typeof app`: `{ 'GET /todos/<int:id>': RouteEntry<...>, ... }`. */
export type RoutesOf<T> = T extends { readonly '~routes'?: infer R } ? NonNullable<R> : never;

/** A prefix as the route table joins it (blueprint.ts normalizePrefix): no trailing slash, `''` for none. */
type NormalPrefix<P extends string> = P extends '' | '/' ? '' : P extends `${infer Head}/` ? NormalPrefix<Head> : P;
/** The route table's join: a blueprint's `/` under `/api/todos` is `/api/todos`, not `/api/todos/`. */
type JoinPath<Prefix extends string, P extends string> = Prefix extends '' ? P : P extends '/' ? Prefix : `${Prefix}${P}`;

/** The prefix a blueprint was built with, as a literal type; `string` when it was not a literal (or not given). */
export type PrefixOf<B> = B extends { readonly '~prefix'?: infer P } ? (P extends string ? P : string) : string;

/**
 * A blueprint's routes as `app.register()` mounts them, for the app's type (vial/client):
 * `GET /<int:id>` of a blueprint on `/api/todos` becomes `GET /api/todos/<int:id>`. Nothing when
 * the prefix is not a literal type: a route the types cannot place is left off rather than put
 * at a path it does not have.
 */
export type Mounted<Prefix extends string, B> = string extends Prefix
  ? unknown
  : [RoutesOf<B>] extends [never]
    ? unknown
    : Routed<{
        readonly [K in keyof RoutesOf<B> as K extends `${infer M} ${infer P}` ? `${M} ${JoinPath<NormalPrefix<Prefix>, P>}` : never]:
          RoutesOf<B>[K] extends RouteEntry<infer P, infer S, infer R> ? RouteEntry<JoinPath<NormalPrefix<Prefix>, P>, S, R> : never;
      }>;
