/**
 * The schemas plugin on real routes: each part validated with zod, valibot and a JSON Schema
 * (TypeBox too); 400 for a body that does not parse, 422 with an RFC 9457 problem body for one that
 * does not match, never an echo of the value sent; ctx.valid filled; validation after CSRF; schema
 * errors at startup; response checks in development and test.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import { Type } from 'typebox';
import * as v from 'valibot';
import * as z from 'zod';
import { ConfigError, schemas } from '../src/index.ts';
import type { ProblemDetails, RouteSchema, Vial } from '../src/index.ts';
import { both, connect, makeApp } from './helpers/both.ts';

const SECRET = 'hunter2-very-secret';

const kinds = {
  zod: {
    body: z.object({ name: z.string().min(2), age: z.number().int().min(0), password: z.string().min(30) }),
    query: z.object({ limit: z.coerce.number().int().max(100).optional() }),
    params: z.object({ id: z.number().int().min(1) }),
    headers: z.object({ 'x-tenant': z.string().regex(/^[a-z]+$/) }),
  },
  valibot: {
    body: v.object({ name: v.pipe(v.string(), v.minLength(2)), age: v.pipe(v.number(), v.integer(), v.minValue(0)), password: v.pipe(v.string(), v.minLength(30)) }),
    query: v.object({ limit: v.optional(v.pipe(v.string(), v.transform(Number), v.number(), v.maxValue(100))) }),
    params: v.object({ id: v.pipe(v.number(), v.minValue(1)) }),
    headers: v.object({ 'x-tenant': v.pipe(v.string(), v.regex(/^[a-z]+$/)) }),
  },
  'JSON Schema': {
    body: {
      type: 'object', required: ['name', 'age', 'password'], additionalProperties: false,
      properties: { name: { type: 'string', minLength: 2 }, age: { type: 'integer', minimum: 0 }, password: { type: 'string', minLength: 30 } },
    },
    query: { type: 'object', properties: { limit: { type: 'integer', maximum: 100 } } },
    params: { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1 } } },
    headers: { type: 'object', required: ['x-tenant'], properties: { 'x-tenant': { type: 'string', pattern: '^[a-z]+$' } } },
  },
  TypeBox: {
    body: Type.Object({ name: Type.String({ minLength: 2 }), age: Type.Integer({ minimum: 0 }), password: Type.String({ minLength: 30 }) }),
    query: Type.Object({ limit: Type.Optional(Type.Integer({ maximum: 100 })) }),
    params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
    headers: Type.Object({ 'x-tenant': Type.String({ pattern: '^[a-z]+$' }) }),
  },
};

function appWith(schema: (typeof kinds)[keyof typeof kinds]): Vial {
  const app = makeApp();
  app.plugin(schemas);
  app.post('/users/<int:id>', { schema }, (ctx) => ({ params: ctx.valid.params, query: ctx.valid.query, tenant: (ctx.valid.headers as Record<string, unknown>)['x-tenant'], body: ctx.valid.body }));
  return app;
}

const good = { name: 'Ada', age: 36, password: 'p'.repeat(30) };

for (const [kind, schema] of Object.entries(kinds)) {
  both(`route schemas with ${kind}`, (mode) => {
    it('hands the handler the validated parts on ctx.valid', async (t) => {
      const c = await connect(t, mode, appWith(schema));
      const res = await c.post('/users/7?limit=5', { json: good, headers: { 'x-tenant': 'acme' } });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json(), { params: { id: 7 }, query: { limit: 5 }, tenant: 'acme', body: good });
    });

    it('answers 422 with a problem listing each issue, by part, and never the value sent', async (t) => {
      const c = await connect(t, mode, appWith(schema));
      const res = await c.post('/users/7?limit=500', { json: { name: 'A', age: -1, password: SECRET }, headers: { 'x-tenant': 'ACME' } });
      assert.equal(res.status, 422);
      assert.match(res.header('content-type') ?? '', /^application\/problem\+json/);
      const body = res.json<ProblemDetails>();
      assert.equal(body.status, 422);
      assert.equal(body.title, 'Unprocessable Content');
      assert.equal(body.type, 'about:blank');
      assert.equal(body.code, 'VIAL_ERR_VALIDATION');
      assert.equal(body.instance, '/users/7');
      assert.equal(body.requestId, res.header('x-request-id'));
      const where = new Set(body.errors?.map((e) => `${e.in} ${e.pointer}`));
      for (const expected of ['query #/limit', 'headers #/x-tenant', 'body #/name', 'body #/age', 'body #/password']) assert.ok(where.has(expected), `${expected} in ${[...where].join(', ')}`);
      assert.ok(!res.text.includes(SECRET), 'the problem body must not echo the password');
      assert.ok(!res.text.includes('ACME'), 'nor the header value');
    });

    it('answers 400 for a body that does not parse, and 415 for one that is not JSON', async (t) => {
      const c = await connect(t, mode, appWith(schema));
      const malformed = await c.post('/users/7', { body: '{"name": "Ada",', headers: { 'content-type': 'application/json', 'x-tenant': 'acme' } });
      assert.equal(malformed.status, 400);
      assert.equal(malformed.json<ProblemDetails>().code, 'VIAL_ERR_MALFORMED_JSON');
      assert.match(malformed.header('content-type') ?? '', /^application\/problem\+json/);
      const text = await c.post('/users/7', { body: 'name=Ada', headers: { 'content-type': 'text/plain', 'x-tenant': 'acme' } });
      assert.equal(text.status, 415);
      assert.equal(text.json<ProblemDetails>().status, 415);
    });
  });
}

both('the schemas plugin in the lifecycle', (mode) => {
  it('validates only after CSRF: a cross-site POST is refused before its body is looked at', async (t) => {
    const c = await connect(t, mode, appWith(kinds.zod));
    const res = await c.post('/users/7', { json: { name: 1 }, crossSite: true, headers: { 'x-tenant': 'acme' } });
    assert.equal(res.status, 403);
  });

  it('leaves routes without a schema alone and takes form bodies as objects', async (t) => {
    const app = makeApp();
    app.plugin(schemas);
    app.get('/plain', (ctx) => ({ valid: ctx.valid.body ?? null }));
    app.post('/form', { schema: { body: z.object({ tag: z.array(z.string()), q: z.string() }) } }, (ctx) => ({ body: ctx.valid.body }));
    const c = await connect(t, mode, app);
    assert.deepEqual((await c.get('/plain')).json(), { valid: null });
    const res = await c.post('/form', { body: 'tag=a&tag=b&q=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.deepEqual(res.json(), { body: { tag: ['a', 'b'], q: 'x' } });
  });

  it('checks responses in development and test: a wrong shape is a 500 naming the field in the log', async (t) => {
    const lines: string[] = [];
    const app = makeApp();
    // Capture what the app logs: request loggers are pino children, which inherit the parent's methods.
    const error = app.log.error.bind(app.log);
    app.log.error = (...args: Parameters<typeof error>) => {
      lines.push(JSON.stringify(args));
      return error(...args);
    };
    app.plugin(schemas);
    const Todo = z.object({ id: z.number(), title: z.string() });
    app.post('/todos', { schema: { response: { 201: Todo } } }, () => ({ id: 1, title: 'milk' }));
    app.get('/broken', { schema: { response: { 200: Todo } } }, () => JSON.parse('{"id": "one", "title": "milk"}') as { id: number; title: string });
    const c = await connect(t, mode, app);
    const created = await c.post('/todos');
    assert.equal(created.status, 201, 'a plain reply takes the route\'s one declared 2xx status');
    assert.deepEqual(created.json(), { id: 1, title: 'milk' });
    const broken = await c.get('/broken');
    assert.equal(broken.status, 500);
    assert.ok(!broken.text.includes('one'), 'the client sees no detail');
    assert.ok(lines.some((l) => l.includes('#/id') && l.includes('GET /broken')), lines.join('\n'));
  });

  it('serializes with fast-json-stringify in production, dropping what the schema does not declare', async (t) => {
    const app = makeApp({ env: 'production', allowedHosts: ['*'], security: { secretKey: randomBytes(32).toString('base64url') } });
    app.plugin(schemas);
    const User = Type.Object({ id: Type.Integer(), name: Type.String() });
    app.get('/me', { schema: { response: { 200: User } } }, () => ({ id: 1, name: 'Ada', passwordHash: 'secret-hash' }));
    const c = await connect(t, mode, app);
    const res = await c.get('/me');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { id: 1, name: 'Ada' });
  });
});

it('refuses a broken schema at startup, naming the route and part', () => {
  const cases: [string, unknown, RegExp][] = [
    ['unknown keyword', { body: { type: 'object', propertys: {} } }, /schema\.body of POST \/x is not a valid JSON Schema/],
    ['unknown part', { bdy: z.object({}) }, /unknown part "bdy"/],
    ['not a schema', { query: new Map() }, /neither a Standard Schema/],
    ['bad status', { response: { ok: z.object({}) } }, /keys are HTTP statuses/],
  ];
  for (const [what, schema, message] of cases) {
    const app = makeApp();
    app.plugin(schemas);
    app.post('/x', { schema: schema as RouteSchema }, () => 'ok');
    assert.throws(() => app.handler, (error: unknown) => error instanceof ConfigError && error.code === 'VIAL_ERR_SCHEMA' && message.test(error.message), what);
  }
  const getWithBody = makeApp();
  getWithBody.plugin(schemas);
  getWithBody.get('/x', { schema: { body: z.object({}) } }, () => 'ok');
  assert.throws(() => getWithBody.handler, /GET requests carry no body/);
});

it('refuses a schema option when the plugin is not registered', () => {
  const app = makeApp();
  app.get('/x', { schema: { query: z.object({}) } }, () => 'ok');
  assert.throws(() => app.handler, (error: unknown) => error instanceof ConfigError && error.code === 'VIAL_ERR_ROUTE' && /unknown option "schema"/.test(error.message));
});
