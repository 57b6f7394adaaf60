/**
 * The schemas plugin's `openapi` option: the served document passes a real OpenAPI 3.1 validator
 * (@seriousme/openapi-schema-validator), documents what vial itself answers, and the docs page
 * works offline: every asset it loads is served by the app.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Type } from 'typebox';
import * as v from 'valibot';
import * as z from 'zod';
import { Blueprint, ConfigError, schemas } from '../src/index.ts';
import type { Vial } from '../src/index.ts';
import { both, connect, makeApp } from './helpers/both.ts';

type Doc = { paths: Record<string, Record<string, { responses: Record<string, unknown>; security?: unknown; requestBody?: unknown; parameters?: { name: string; in: string }[] }>>; components: { securitySchemes?: Record<string, { in: string; name: string }> } };

function todoApp(): Vial {
  const app = makeApp();
  app.plugin(schemas, { openapi: { info: { title: 'Todos', version: '1.2.0' } } });
  const Todo = z.object({ id: z.number().int(), title: z.string(), done: z.boolean() });
  const todos = new Blueprint('todos', { prefix: '/todos' });
  todos.get('/', { schema: { query: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1 })) }), response: { 200: z.object({ todos: z.array(Todo) }) } } }, () => ({ todos: [] }));
  todos.post('/', { maxBodyBytes: 4096, schema: { body: v.object({ title: v.string() }), response: { 201: Todo } }, openapi: { summary: 'Create a todo', session: true } }, (ctx) => ({ id: 1, title: ctx.valid.body.title, done: false }));
  todos.get('/<int:id>', { timeoutMs: 2000, schema: { response: { 200: Todo } } }, (ctx) => ({ id: ctx.params.id, title: 'milk', done: false }));
  app.register(todos);
  app.get('/hidden', { openapi: false }, () => 'not in the document');
  return app;
}

both('the served OpenAPI document', (mode) => {
  it('passes a real OpenAPI 3.1 validator', async (t) => {
    const c = await connect(t, mode, todoApp());
    const res = await c.get('/openapi.json');
    assert.equal(res.status, 200);
    const result = await new Validator().validate(res.json<Record<string, unknown>>());
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
  });

  it("documents each route's schemas and what vial itself answers", async (t) => {
    const c = await connect(t, mode, todoApp());
    const doc = (await c.get('/openapi.json')).json<Doc>();
    assert.deepEqual(Object.keys(doc.paths).sort(), ['/todos', '/todos/{id}']);
    const create = doc.paths['/todos']?.['post'];
    assert.ok(create?.requestBody !== undefined);
    for (const status of ['201', '400', '403', '413', '415', '422', '503', '504']) assert.ok(status in (create?.responses ?? {}), `POST /todos documents ${status}`);
    assert.deepEqual(create?.security, [{ session: [] }]);
    assert.equal(doc.components.securitySchemes?.['session']?.in, 'cookie');
    assert.deepEqual(doc.paths['/todos']?.['get']?.parameters?.map((p) => `${p.in} ${p.name}`), ['query limit']);
    assert.deepEqual(doc.paths['/todos/{id}']?.['get']?.parameters?.map((p) => `${p.in} ${p.name}`), ['path id']);
    assert.ok(!('403' in (doc.paths['/todos']?.['get']?.responses ?? {})), 'no CSRF refusal on a safe method');
  });

  it('serves a docs page whose every asset comes from the app, none from a CDN', async (t) => {
    const c = await connect(t, mode, todoApp());
    const page = await c.get('/docs');
    assert.equal(page.status, 200);
    assert.match(page.header('content-type') ?? '', /^text\/html/);
    const assets = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string);
    assert.ok(assets.length >= 3);
    for (const asset of assets) {
      assert.ok(asset.startsWith('/'), `${asset} is served by the app`);
      const res = await c.get(asset);
      assert.equal(res.status, 200, asset);
    }
    assert.match((await c.get('/docs/init.js')).text, /"\/openapi\.json"/);
  });
});

it('leaves the document off unless asked, and refuses a schema with no JSON Schema form at startup', async () => {
  const off = makeApp();
  off.plugin(schemas);
  off.get('/x', () => 'ok');
  await off.start();
  assert.equal(off.routeList.some((r) => r.pattern.source === '/openapi.json'), false);

  const app = makeApp();
  app.plugin(schemas, { openapi: { docsPath: false } });
  app.post('/x', { schema: { body: z.object({ at: z.date() }) } }, () => 'ok');
  await assert.rejects(app.start(), (error: unknown) => error instanceof ConfigError && error.code === 'VIAL_ERR_OPENAPI' && /POST \/x/.test(error.message));
});
