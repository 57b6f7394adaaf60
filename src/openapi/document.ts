/**
 * The OpenAPI 3.1 document of an app, from its routes: what each route accepts and answers as its
 * schemas say, and what vial itself answers on every route whatever the handler does (503 with
 * Retry-After when shed, 504 past the deadline, 413 over the route's body limit, 403 for CSRF on
 * unsafe methods, 429 where a rate limit applies, 400/415/422 problem details where a schema
 * validates). Pure: routes and facts in, a plain object out.
 */
import { STATUS_CODES } from 'node:http';
import type { RouteSchema } from '../schema/types.ts';
import type { AnySchema } from '../schema/compile.ts';
import { hoistDefs, toJsonSchema } from './convert.ts';
import type { Converters, Direction, JsonObject } from './convert.ts';

/** The `openapi` route option. `false` leaves the route out of the document. */
export interface RouteDocs {
  readonly summary?: string;
  readonly description?: string;
  /** Default: the blueprint's name. */
  readonly tags?: readonly string[];
  /** Default: the route's name (`todos.show`), made unique per method. */
  readonly operationId?: string;
  readonly deprecated?: boolean;
  /** The route needs a logged-in session: documented as the session cookie security scheme. */
  readonly session?: boolean;
}

export interface DocumentedRoute {
  readonly method: string;
  /** The pattern as written: `/users/<int:id>`. */
  readonly path: string;
  readonly name: string | undefined;
  readonly blueprint: string | undefined;
  readonly schema: RouteSchema | undefined;
  readonly docs: RouteDocs | undefined;
  /** CSRF is checked on this route (an unsafe method, CSRF on, no `csrf: false`). */
  readonly csrf: boolean;
  readonly maxBodyBytes: number;
  readonly timeoutMs: number;
  /** A rate limit applies: documented as 429 with Retry-After. */
  readonly rateLimited: boolean;
}

export interface DocumentInfo {
  readonly title: string;
  readonly version: string;
  readonly description?: string;
  readonly servers?: readonly { readonly url: string; readonly description?: string }[];
}

export interface VialFacts {
  /** The session cookie's name; undefined when the app has no sessions. */
  readonly sessionCookie: string | undefined;
  readonly csrfHeader: string;
  readonly csrfField: string;
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const NO_CONTENT: ReadonlySet<string> = new Set(['204', '205', '304']);
// OpenAPI 3.1 §4.8.12.1: header parameters with these names are ignored; the document describes them elsewhere.
const IGNORED_HEADERS = new Set(['accept', 'content-type', 'authorization']);

const retryAfter = { description: 'Seconds to wait before retrying.', schema: { type: 'integer', minimum: 0 } };
const requestIdHeader = { description: 'The request id, as in the body and the server log.', schema: { type: 'string' } };

function baseComponents(): JsonObject {
  return {
    VialError: {
      type: 'object',
      description: "vial's error body (docs/errors.md lists every code).",
      required: ['error'],
      properties: {
        error: {
          type: 'object',
          required: ['status', 'code', 'message', 'requestId'],
          properties: { status: { type: 'integer' }, code: { type: 'string' }, message: { type: 'string' }, requestId: { type: 'string' } },
        },
      },
    },
    Problem: {
      type: 'object',
      description: 'RFC 9457 problem details.',
      required: ['type', 'title', 'status', 'detail', 'code', 'requestId'],
      properties: {
        type: { type: 'string', format: 'uri-reference' },
        title: { type: 'string' },
        status: { type: 'integer' },
        detail: { type: 'string' },
        instance: { type: 'string' },
        code: { type: 'string' },
        requestId: { type: 'string' },
        errors: {
          type: 'array',
          items: {
            type: 'object',
            required: ['in', 'path', 'pointer', 'message'],
            properties: {
              in: { enum: ['params', 'query', 'headers', 'body'] },
              path: { type: 'array', items: { type: ['string', 'integer'] } },
              pointer: { type: 'string', description: 'JSON Pointer (URI fragment form) into the part named by "in".' },
              message: { type: 'string' },
            },
          },
        },
      },
    },
  };
}

const vialError = (description: string, headers?: JsonObject): JsonObject => ({
  description,
  headers: { 'x-request-id': requestIdHeader, ...headers },
  content: { 'application/json': { schema: { $ref: '#/components/schemas/VialError' } }, 'text/html': { schema: { type: 'string' } } },
});
const problem = (description: string): JsonObject => ({
  description,
  headers: { 'x-request-id': requestIdHeader },
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});

/** `/users/<int:id>` -> `/users/{id}`; find-my-way's `:id` and `*` too. */
export function openApiPath(pattern: string): string {
  return pattern
    .replace(/<(?:[A-Za-z_][A-Za-z0-9_]*:)?([A-Za-z_][A-Za-z0-9_]*)>/g, '{$1}')
    .replace(/(^|\/):([A-Za-z_][A-Za-z0-9_]*)/g, '$1{$2}')
    .replace(/\*$/, '{wildcard}');
}

interface PathParam {
  readonly name: string;
  readonly converter: string;
}

export function pathParams(pattern: string): PathParam[] {
  const out: PathParam[] = [];
  for (const m of pattern.matchAll(/<(?:([A-Za-z_][A-Za-z0-9_]*):)?([A-Za-z_][A-Za-z0-9_]*)>|(?:^|\/):([A-Za-z_][A-Za-z0-9_]*)|\*$/g)) {
    if (m[2] !== undefined) out.push({ name: m[2], converter: m[1] ?? 'string' });
    else if (m[3] !== undefined) out.push({ name: m[3], converter: 'string' });
    else out.push({ name: 'wildcard', converter: 'path' });
  }
  return out;
}

function converterSchema(converter: string): JsonObject {
  switch (converter) {
    case 'int': return { type: 'integer', minimum: 0, maximum: 999_999_999_999_999 };
    case 'uuid': return { type: 'string', format: 'uuid' };
    case 'path': return { type: 'string', description: 'May contain "/".' };
    default: return { type: 'string' };
  }
}

export function buildDocument(routes: readonly DocumentedRoute[], info: DocumentInfo, facts: VialFacts, converters: Converters): JsonObject {
  const schemas = new Map<string, JsonObject>(Object.entries(baseComponents()) as [string, JsonObject][]);
  const paths: Record<string, Record<string, JsonObject>> = {};
  const operationIds = new Set<string>();
  const tags = new Set<string>();
  let usesSession = false;

  for (const route of routes) {
    if (route.method === 'HEAD' && routes.some((r) => r.method === 'GET' && r.path === route.path)) continue;
    if (route.method === 'OPTIONS' && route.docs === undefined) continue;
    const method = route.method.toLowerCase();
    const where = `${route.method} ${route.path}`;
    const schema = route.schema ?? {};
    const convert = (s: AnySchema, direction: Direction, label: string): JsonObject =>
      hoistDefs(toJsonSchema(s, direction, converters, `${label} of ${where}`), schemas, componentName(route, label));

    const operation: JsonObject = {};
    const docs = route.docs ?? {};
    if (docs.summary !== undefined) operation['summary'] = docs.summary;
    if (docs.description !== undefined) operation['description'] = docs.description;
    const opTags = docs.tags ?? (route.blueprint === undefined ? [] : [route.blueprint]);
    if (opTags.length > 0) {
      operation['tags'] = [...opTags];
      for (const t of opTags) tags.add(t);
    }
    operation['operationId'] = uniqueId(docs.operationId ?? route.name ?? `${method}${route.path}`.replace(/[^A-Za-z0-9]+/g, '_'), route.method, operationIds);
    if (docs.deprecated === true) operation['deprecated'] = true;

    const parameters: JsonObject[] = [];
    const paramsSchema = schema.params === undefined ? undefined : convert(schema.params, 'input', 'schema.params');
    for (const p of pathParams(route.path)) {
      const fromSchema = propertyOf(paramsSchema, p.name);
      parameters.push({ name: p.name, in: 'path', required: true, schema: fromSchema ?? converterSchema(p.converter) });
    }
    if (schema.query !== undefined) parameters.push(...objectParameters(convert(schema.query, 'input', 'schema.query'), 'query'));
    if (schema.headers !== undefined) parameters.push(...objectParameters(convert(schema.headers, 'input', 'schema.headers'), 'header'));
    if (parameters.length > 0) operation['parameters'] = parameters;

    if (schema.body !== undefined) {
      operation['requestBody'] = { required: true, content: { 'application/json': { schema: convert(schema.body, 'input', 'schema.body') } } };
    }

    const responses: Record<string, JsonObject> = {};
    for (const [status, s] of Object.entries(schema.response ?? {})) {
      // 204, 205 and 304 carry no content (RFC 9110 §15.3.5, §15.3.6, §15.4.5), whatever schema
      // the route gave them (`z.null()` to type a handler's `return null`).
      const description = STATUS_CODES[status] ?? `Status ${status}`;
      responses[status] = NO_CONTENT.has(status)
        ? { description }
        : { description, content: { 'application/json': { schema: convert(s, 'output', `schema.response[${status}]`) } } };
    }
    if (!Object.keys(responses).some((s) => s.startsWith('2'))) responses['200'] = { description: 'Success.' };
    const validates = schema.params !== undefined || schema.query !== undefined || schema.headers !== undefined || schema.body !== undefined;
    if (schema.body !== undefined) {
      responses['400'] ??= problem('The body could not be parsed (malformed JSON, invalid UTF-8, a forbidden key or too deep).');
      responses['415'] ??= problem('The body is not application/json.');
    }
    if (BODY_METHODS.has(route.method)) {
      const as = schema.body === undefined ? vialError : problem;
      responses['413'] ??= { ...as(`The body is larger than ${route.maxBodyBytes} bytes, this route's limit.`), 'x-vial-max-body-bytes': route.maxBodyBytes };
    }
    if (validates) responses['422'] ??= problem("The request parsed but does not match the route's schema; \"errors\" lists each issue.");
    if (route.csrf) {
      responses['403'] ??= vialError(
        `CSRF refusal (VIAL_ERR_CSRF): a cross-site request, or one carrying the session cookie without the CSRF token (header ${facts.csrfHeader} or form field ${facts.csrfField}) and without Sec-Fetch-Site/Origin of this site.`,
      );
    }
    if (route.rateLimited) responses['429'] ??= vialError('Rate limit reached for this client.', { 'retry-after': retryAfter });
    responses['503'] ??= vialError('The server is at capacity or this route is shed (VIAL_ERR_OVERLOADED); retry after Retry-After.', { 'retry-after': retryAfter });
    responses['504'] ??= { ...vialError(`The request did not finish within its deadline of ${route.timeoutMs} ms (VIAL_ERR_DEADLINE).`), 'x-vial-timeout-ms': route.timeoutMs };
    operation['responses'] = sortByStatus(responses);

    if (docs.session === true && facts.sessionCookie !== undefined) {
      operation['security'] = [{ session: [] }];
      usesSession = true;
    }
    (paths[openApiPath(route.path)] ??= {})[method] = operation;
  }

  const components: JsonObject = { schemas: Object.fromEntries(schemas) };
  if (facts.sessionCookie !== undefined && usesSession) {
    components['securitySchemes'] = {
      session: { type: 'apiKey', in: 'cookie', name: facts.sessionCookie, description: 'The server-side session (HttpOnly, SameSite=Lax; rotated at login and logout).' },
    };
  }
  const document: JsonObject = {
    openapi: '3.1.1',
    info: { title: info.title, version: info.version, ...(info.description === undefined ? {} : { description: info.description }) },
    // Intentionally no jsonSchemaDialect: the default (OAS 3.1's base dialect) is draft 2020-12 plus
    // OpenAPI's keywords, which is what the converters write; naming plain 2020-12 instead makes
    // Swagger UI warn that it does not support the document's dialect.
  };
  if (info.servers !== undefined) document['servers'] = info.servers.map((s) => ({ ...s }));
  if (tags.size > 0) document['tags'] = [...tags].sort().map((name) => ({ name }));
  document['paths'] = paths;
  document['components'] = components;
  return document;
}

function componentName(route: DocumentedRoute, label: string): string {
  const base = (route.name ?? `${route.method}_${route.path}`).replace(/[^A-Za-z0-9._-]+/g, '_');
  return `${base}.${label.replace(/^schema\./, '').replace(/[^A-Za-z0-9]+/g, '')}`;
}

function uniqueId(wanted: string, method: string, taken: Set<string>): string {
  let id = taken.has(wanted) ? `${wanted}_${method.toLowerCase()}` : wanted;
  for (let n = 2; taken.has(id); n++) id = `${wanted}_${n}`;
  taken.add(id);
  return id;
}

function propertyOf(schema: JsonObject | undefined, name: string): JsonObject | undefined {
  const props = schema?.['properties'];
  if (typeof props !== 'object' || props === null) return undefined;
  const value = (props as Record<string, unknown>)[name];
  return typeof value === 'object' && value !== null ? (value as JsonObject) : undefined;
}

/** One parameter per property of an object schema; anything else as one exploded form parameter. */
function objectParameters(schema: JsonObject, location: 'query' | 'header'): JsonObject[] {
  const props = schema['properties'];
  if (typeof props !== 'object' || props === null) {
    return location === 'query' ? [{ name: 'query', in: 'query', style: 'form', explode: true, schema }] : [];
  }
  const required = new Set(Array.isArray(schema['required']) ? (schema['required'] as string[]) : []);
  return Object.entries(props as Record<string, JsonObject>)
    .filter(([name]) => location !== 'header' || !IGNORED_HEADERS.has(name.toLowerCase()))
    .map(([name, s]) => {
      const { description, ...rest } = s;
      return { name, in: location, required: required.has(name), ...(typeof description === 'string' ? { description } : {}), schema: rest };
    });
}

function sortByStatus(responses: Record<string, JsonObject>): Record<string, JsonObject> {
  return Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b)));
}
