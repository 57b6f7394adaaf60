/**
 * vial/client against a real server (fetch over a socket) and the test client's `.api`: params
 * filled into the pattern, query and JSON body sent, JSON answers parsed, problems reported as
 * `ok: false` with their body.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import * as z from 'zod';
import { createClient, fillPath } from '../src/client.ts';
import { schemas } from '../src/index.ts';
import type { ProblemDetails } from '../src/index.ts';
import { testClient } from '../src/testing.ts';
import { makeApp } from './helpers/both.ts';

const Todo = z.object({ id: z.number(), title: z.string(), done: z.boolean() });

function todoApp() {
  return makeApp()
    .plugin(schemas)
    .get('/todos/<int:id>', { schema: { query: z.object({ shout: z.enum(['yes', 'no']).optional() }), response: { 200: Todo } } }, (ctx) => ({ id: ctx.params.id, title: ctx.valid.query.shout === 'yes' ? 'MILK' : 'milk', done: false }))
    .post('/todos', { schema: { body: z.object({ title: z.string().min(1) }), response: { 201: Todo } } }, (ctx) => ({ id: 2, title: ctx.valid.body.title, done: false }))
    .get('/files/<path:rest>', (ctx) => ({ rest: ctx.params.rest }));
}

it('fills a pattern from params: converters, find-my-way params, and <path:...> keeping its slashes', () => {
  assert.equal(fillPath('/todos/<int:id>/<name>', { id: 3, name: 'a b' }), '/todos/3/a%20b');
  assert.equal(fillPath('/files/<path:rest>', { rest: 'a/b c' }), '/files/a/b%20c');
  assert.equal(fillPath('/legacy/:id', { id: 'x/y' }), '/legacy/x%2Fy');
  assert.throws(() => fillPath('/todos/<int:id>', {}), /needs a value for "id"/);
});

it('calls a real server with fetch, typed from the app', async (t) => {
  const app = todoApp();
  const server = await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => server.close());
  const api = createClient<typeof app>(server.url);
  const shown = await api.get('/todos/<int:id>', { params: { id: 7 }, query: { shout: 'yes' } });
  assert.equal(shown.ok, true);
  assert.deepEqual(shown.data, { id: 7, title: 'MILK', done: false });
  const created = await api.post('/todos', { body: { title: 'bread' } });
  assert.equal(created.status, 201);
  assert.deepEqual(created.data, { id: 2, title: 'bread', done: false });
  const refused = await api.post('/todos', { body: { title: '' } });
  assert.equal(refused.ok, false);
  assert.equal(refused.status, 422);
  assert.equal((refused.data as ProblemDetails).code, 'VIAL_ERR_VALIDATION');
  const file = await api.get('/files/<path:rest>', { params: { rest: 'a/b.txt' } });
  assert.deepEqual(file.data, { rest: 'a/b.txt' });
});

it("gives the test client's .api the same calls, in-process", async () => {
  const client = testClient(todoApp());
  const shown = await client.api.get('/todos/<int:id>', { params: { id: 1 } });
  assert.equal(shown.status, 200);
  if (!shown.ok) assert.fail('expected a 2xx');
  assert.equal(shown.data.title, 'milk');
  assert.equal(shown.headers.get('content-type'), 'application/json; charset=utf-8');
});
