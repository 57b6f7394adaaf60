/**
 * The OpenAPI document built from a route list is a valid OpenAPI 3.1 document (checked by a real
 * validator, @seriousme/openapi-schema-validator), converts each schema with its library's own JSON
 * Schema output, and documents what vial itself answers on every route.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Type } from 'typebox';
import * as v from 'valibot';
import * as z from 'zod';
import { toJsonSchema as valibotToJsonSchema } from '@valibot/to-json-schema';
import { buildDocument, openApiPath, pathParams } from '../src/openapi/document.ts';
import type { DocumentedRoute } from '../src/openapi/document.ts';
import { loadConverters } from '../src/openapi/convert.ts';
import type { Converters, JsonObject } from '../src/openapi/convert.ts';
import { ConfigError } from '../src/errors.ts';

const facts = { sessionCookie: 'vial_session', csrfHeader: 'x-csrf-token', csrfField: '_csrf' };
const info = { title: 'Todos', version: '1.0.0' };

function route(method: string, path: string, extra: Partial<DocumentedRoute> = {}): DocumentedRoute {
  return {
    method, path, name: undefined, blueprint: undefined, schema: undefined, docs: undefined,
    csrf: !['GET', 'HEAD', 'OPTIONS'].includes(method), maxBodyBytes: 1_048_576, timeoutMs: 30_000, rateLimited: false, ...extra,
  };
}

async function assertValid(document: JsonObject): Promise<void> {
  const result = await new Validator().validate(document);
  assert.equal(result.valid, true, `not a valid OpenAPI 3.1 document: ${JSON.stringify(result.errors, null, 2)}`);
}

type Op = { parameters?: JsonObject[]; requestBody?: { content: Record<string, { schema: JsonObject }> }; responses: Record<string, JsonObject & { content?: Record<string, { schema: JsonObject }>; headers?: JsonObject }>; security?: unknown; operationId: string; tags?: string[] };
const op = (doc: JsonObject, path: string, method: string): Op => (doc['paths'] as Record<string, Record<string, Op>>)[path]?.[method] as Op;

describe('OpenAPI paths', () => {
  it('writes converters as OpenAPI path templates', () => {
    assert.equal(openApiPath('/users/<int:id>/posts/<slug>'), '/users/{id}/posts/{slug}');
    assert.equal(openApiPath('/files/:name/*'), '/files/{name}/{wildcard}');
    assert.deepEqual(pathParams('/u/<int:id>/<uuid:key>/:x'), [{ name: 'id', converter: 'int' }, { name: 'key', converter: 'uuid' }, { name: 'x', converter: 'string' }]);
  });
});

describe('the generated document', () => {
  const Todo = z.object({ id: z.number().int(), title: z.string().min(1).max(200), done: z.boolean() });
  const NewTodo = v.object({ title: v.pipe(v.string(), v.minLength(1)), done: v.optional(v.boolean()) });
  const Query = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })), q: Type.Optional(Type.String()) });
  const routes = [
    route('GET', '/todos', { name: 'todos.list', blueprint: 'todos', schema: { query: Query, response: { 200: z.object({ todos: z.array(Todo) }) } } }),
    route('HEAD', '/todos', { name: 'todos.list', blueprint: 'todos' }),
    route('POST', '/todos', { name: 'todos.create', blueprint: 'todos', maxBodyBytes: 4096, schema: { body: NewTodo, response: { 201: Todo } }, docs: { summary: 'Create a todo', session: true } }),
    route('GET', '/todos/<int:id>', { name: 'todos.show', blueprint: 'todos', timeoutMs: 2000, schema: { response: { 200: Todo, 404: { type: 'object' } } } }),
    route('DELETE', '/todos/<int:id>', { name: 'todos.remove', blueprint: 'todos', rateLimited: true }),
    route('POST', '/hooks/stripe', { csrf: false }),
  ];
  let converters: Converters;
  let doc: JsonObject;

  it('passes a real OpenAPI 3.1 validator', async () => {
    converters = await loadConverters([NewTodo]);
    doc = buildDocument(routes, info, facts, converters);
    assert.equal(doc['openapi'], '3.1.1');
    await assertValid(doc);
  });

  it("converts zod with its own JSON Schema output, valibot with @valibot/to-json-schema, TypeBox as is", () => {
    const list = op(doc, '/todos', 'get');
    assert.deepEqual(list.responses['200']?.content?.['application/json']?.schema, (() => {
      const { $schema: _s, ...rest } = z.object({ todos: z.array(Todo) }).toJSONSchema({ io: 'output' });
      return rest;
    })());
    const create = op(doc, '/todos', 'post');
    const { $schema: _s, ...valibotJson } = valibotToJsonSchema(NewTodo, { target: 'draft-2020-12' });
    assert.deepEqual(create.requestBody?.content['application/json']?.schema, valibotJson);
    assert.deepEqual(list.parameters?.map((p) => [p['name'], p['in'], p['required'], p['schema']]), [
      ['limit', 'query', false, { type: 'integer', minimum: 1, maximum: 100 }],
      ['q', 'query', false, { type: 'string' }],
    ]);
  });

  it('types path parameters from their converters', () => {
    assert.deepEqual(op(doc, '/todos/{id}', 'get').parameters, [{ name: 'id', in: 'path', required: true, schema: { type: 'integer', minimum: 0, maximum: 999_999_999_999_999 } }]);
  });

  it("documents what vial answers: 503 with Retry-After and 504 everywhere, 413 with the route's limit, 403 for CSRF, 429 where limited", () => {
    const create = op(doc, '/todos', 'post');
    assert.ok(create.responses['503']?.headers?.['retry-after']);
    assert.match(String(create.responses['504']?.['description']), /30000 ms/);
    assert.match(String(op(doc, '/todos/{id}', 'get').responses['504']?.['description']), /2000 ms/);
    assert.match(String(create.responses['413']?.['description']), /4096 bytes/);
    assert.equal(create.responses['413']?.['x-vial-max-body-bytes'], 4096);
    assert.match(String(create.responses['403']?.['description']), /CSRF/);
    assert.equal(op(doc, '/todos', 'get').responses['403'], undefined, 'safe methods have no CSRF check');
    assert.equal(op(doc, '/hooks/stripe', 'post').responses['403'], undefined, 'csrf: false routes have none');
    assert.ok(op(doc, '/todos/{id}', 'delete').responses['429']?.headers?.['retry-after']);
    assert.equal(create.responses['429'], undefined);
  });

  it('documents 400, 415 and 422 as problem details where a schema validates', () => {
    const create = op(doc, '/todos', 'post');
    for (const status of ['400', '415', '422']) {
      assert.deepEqual(create.responses[status]?.content?.['application/problem+json']?.schema, { $ref: '#/components/schemas/Problem' }, status);
    }
    assert.equal(op(doc, '/todos/{id}', 'delete').responses['422'], undefined);
  });

  it('declares the session cookie as a security scheme and uses it where a route says so', () => {
    const components = doc['components'] as { securitySchemes: Record<string, JsonObject> };
    assert.deepEqual(components.securitySchemes['session'], { type: 'apiKey', in: 'cookie', name: 'vial_session', description: components.securitySchemes['session']?.['description'] });
    assert.deepEqual(op(doc, '/todos', 'post').security, [{ session: [] }]);
    assert.equal(op(doc, '/todos', 'get').security, undefined);
  });

  it('leaves out automatic HEAD routes, tags operations with their blueprint and keeps operation ids unique', () => {
    assert.equal(op(doc, '/todos', 'head'), undefined);
    assert.deepEqual(op(doc, '/todos', 'get').tags, ['todos']);
    assert.equal(op(doc, '/todos', 'get').operationId, 'todos.list');
    assert.deepEqual(doc['tags'], [{ name: 'todos' }]);
  });

  it("moves zod's $defs into components and points the refs there", async () => {
    const Node: z.ZodType<{ name: string; children: unknown[] }> = z.object({ name: z.string(), get children() { return z.array(Node); } });
    const tree = buildDocument([route('POST', '/tree', { name: 'tree', schema: { body: z.object({ root: Node }) } })], info, facts, {});
    await assertValid(tree);
    assert.doesNotMatch(JSON.stringify(tree), /#\/\$defs\//);
    const text = JSON.stringify(tree);
    assert.match(text, /#\/components\/schemas\//);
  });

  it('refuses, at startup, a schema its library cannot convert', () => {
    const opaque = { '~standard': { version: 1, vendor: 'homemade', validate: (value: unknown) => ({ value }) } };
    assert.throws(() => buildDocument([route('POST', '/x', { schema: { body: opaque } })], info, facts, {}), (e: unknown) => e instanceof ConfigError && e.code === 'VIAL_ERR_OPENAPI' && /homemade/.test(e.message));
  });
});
