/**
 * One route's `schema` option, checked and compiled once at startup: which parts it validates,
 * each part's validator, and each response status's validator (and, for JSON Schemas, its
 * serializer). Pure apart from ajv's and fast-json-stringify's code generation.
 */
import { createRequire } from 'node:module';
import { ConfigError } from '../errors.ts';
import type { RouteView } from '../plugin.ts';
import { compileSchema, describeSite } from './compile.ts';
import type { AnySchema, CompiledSchema, Compilers } from './compile.ts';
import type { SchemaPart } from './issues.ts';

/**
 * fast-json-stringify (~0.13 MB of source) is loaded by the first response serializer built, not
 * with vial (issue 16): an app without response schemas never pays for it. Synchronous, as route
 * compilation is; the package is CommonJS.
 */
const requireDependency = createRequire(import.meta.url);

export const REQUEST_PARTS = ['params', 'query', 'headers', 'body'] as const;
export type RequestPart = (typeof REQUEST_PARTS)[number];
const KNOWN_KEYS: ReadonlySet<string> = new Set<string>([...REQUEST_PARTS, 'response']);
const NO_BODY_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface CompiledResponse {
  readonly status: number;
  readonly validator: CompiledSchema;
  /** fast-json-stringify's serializer, for a JSON Schema (TypeBox included); undefined otherwise. */
  readonly serialize: ((value: unknown) => string) | undefined;
}

export interface CompiledRouteSchema {
  readonly parts: readonly (readonly [RequestPart, CompiledSchema])[];
  readonly responses: ReadonlyMap<number, CompiledResponse>;
  /** The status a plain (non-VialResponse) reply gets: the only 2xx with a schema, else 200. */
  readonly defaultStatus: number;
}

export interface CompileRouteOptions {
  readonly compilers: Compilers;
  /** Build fast-json-stringify serializers for JSON Schema responses (production). */
  readonly serializers: boolean;
}

/** Throws a VIAL_ERR_SCHEMA ConfigError naming the route and part for anything it cannot use. */
export function compileRouteSchema(value: unknown, route: RouteView, options: CompileRouteOptions): CompiledRouteSchema {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError('VIAL_ERR_SCHEMA', `The schema option of ${route.key} must be an object like { body, query, params, headers, response: { 200: ... } }.`);
  }
  for (const key of Object.keys(value)) {
    if (!KNOWN_KEYS.has(key)) {
      throw new ConfigError('VIAL_ERR_SCHEMA', `The schema option of ${route.key} has an unknown part "${key}". Known parts: params, query, headers, body, response.`);
    }
  }
  const schema = value as Partial<Record<RequestPart | 'response', unknown>>;
  if (schema.body !== undefined && NO_BODY_METHODS.has(route.method)) {
    throw new ConfigError('VIAL_ERR_SCHEMA', `${route.key} has schema.body, but ${route.method} requests carry no body. Validate the query instead, or make the route POST/PUT/PATCH.`);
  }
  const parts: (readonly [RequestPart, CompiledSchema])[] = [];
  for (const part of REQUEST_PARTS) {
    const s = schema[part];
    if (s !== undefined) parts.push([part, compileSchema(s, { routeKey: route.key, part }, options.compilers)]);
  }
  const responses = new Map<number, CompiledResponse>();
  if (schema.response !== undefined) {
    if (typeof schema.response !== 'object' || schema.response === null || Array.isArray(schema.response)) {
      throw new ConfigError('VIAL_ERR_SCHEMA', `schema.response of ${route.key} must be an object of schemas by status: { 200: Todo, 404: NotFound }.`);
    }
    for (const [key, s] of Object.entries(schema.response as Record<string, unknown>)) {
      const status = Number(key);
      if (!Number.isInteger(status) || status < 100 || status > 599) {
        throw new ConfigError('VIAL_ERR_SCHEMA', `schema.response of ${route.key} has the key "${key}"; keys are HTTP statuses from 100 to 599.`);
      }
      const site = { routeKey: route.key, part: 'response' as SchemaPart, status };
      const validator = compileSchema(s, site, options.compilers);
      responses.set(status, { status, validator, serialize: options.serializers && validator.kind === 'json-schema' ? serializer(validator.source, describeSite(site)) : undefined });
    }
  }
  const success = [...responses.keys()].filter((s) => s >= 200 && s < 300);
  return { parts, responses, defaultStatus: success.length === 1 ? (success[0] as number) : 200 };
}

function serializer(schema: AnySchema, where: string): (value: unknown) => string {
  try {
    const fastJson = requireDependency('fast-json-stringify') as typeof import('fast-json-stringify');
    return fastJson(schema as Parameters<typeof fastJson>[0]);
  } catch (error) {
    throw new ConfigError('VIAL_ERR_SCHEMA', `${where}: fast-json-stringify cannot build a serializer from it (${(error as Error).message}). Fix the schema, or set schemas({ responses: 'check' }).`);
  }
}
