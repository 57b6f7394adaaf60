/**
 * What a route schema means for types: `ctx.valid.body` is the body schema's output, a handler's
 * reply must match its response schemas, a client sends the schemas' input. Type-only.
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { VialResponse } from '../response.ts';
import type { AnySchema } from './compile.ts';

/**
 * How a plain JSON Schema gets a type. By default it is `unknown` (ajv still validates it); with
 * TypeBox, teach vial TypeBox's own inference once:
 *
 *   import type { Static, TSchema } from 'typebox';
 *   declare module 'vial' {
 *     interface JsonSchemaTypes<S> { output: S extends TSchema ? Static<S> : unknown }
 *   }
 *
 * `S` is the schema being typed. (Intentionally a type parameter rather than Fastify's
 * `this['schema']`: merged into this interface, `this` made every inference too deep for tsc.)
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unused-vars -- empty until an app augments it; S is the schema the augmentation types
export interface JsonSchemaTypes<S = unknown> {}

/** A plain JSON Schema that carries its type, for apps without TypeBox: `jsonSchema<Todo>()({ type: 'object', ... })`. */
export interface TypedJsonSchema<T> {
  readonly '~type'?: T;
}

type FromJsonSchema<S> = S extends TypedJsonSchema<infer T>
  ? (unknown extends T ? ProvidedType<S> : T)
  : ProvidedType<S>;
type ProvidedType<S> = JsonSchemaTypes<S> extends { readonly output: infer O } ? O : unknown;

/** What a schema accepts. */
export type SchemaInput<S> = S extends StandardSchemaV1<infer I, unknown> ? I : FromJsonSchema<S>;
/** What a schema gives after validation (after transforms and defaults). */
export type SchemaOutput<S> = S extends StandardSchemaV1<unknown, infer O> ? O : FromJsonSchema<S>;

/** The `schema` route option. Every part is optional; a part without a schema is not validated. */
export interface RouteSchema {
  /** Path parameters, after the path converters (`<int:id>` is already a number). */
  readonly params?: AnySchema;
  /** The query string as an object: one value is a string, a repeated key an array of strings. */
  readonly query?: AnySchema;
  /** Request headers, names lower-case. */
  readonly headers?: AnySchema;
  /** The JSON body (or, for form content types, the fields as an object). */
  readonly body?: AnySchema;
  /** Response bodies by status. Checked in development; documented in OpenAPI. */
  readonly response?: { readonly [status: number]: AnySchema };
}

type Part<S, K extends keyof RouteSchema> = S extends { readonly [P in K]: infer X } ? (undefined extends X ? undefined : SchemaOutput<X>) : undefined;

/** `ctx.valid` on any route: each part `unknown` until a route's schema types it (see Valid). */
export interface ValidParts {
  readonly params: unknown;
  readonly query: unknown;
  readonly headers: unknown;
  readonly body: unknown;
}

/** `ctx.valid`: the validated parts of this request, typed from the route's schema. */
export interface Valid<S = RouteSchema> {
  readonly params: Part<S, 'params'>;
  readonly query: Part<S, 'query'>;
  readonly headers: Part<S, 'headers'>;
  readonly body: Part<S, 'body'>;
}

/** Statuses a route declares a response schema for. */
export type ResponseStatuses<S> = S extends { readonly response: infer R } ? Extract<keyof R, number> : never;

/** The bodies a handler may return for a route with response schemas: any declared status's input, or a VialResponse. */
export type SchemaReply<S> = S extends { readonly response: infer R }
  ? { [K in keyof R]: SchemaInput<R[K]> }[keyof R] | VialResponse
  : unknown;
