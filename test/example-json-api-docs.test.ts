/**
 * examples/json-api, the README quick start, schema-first: its routes validate what they accept
 * (422 problem details naming each field, 400 for a body that does not parse), answer what their
 * response schemas say, and serve an OpenAPI 3.1 document that passes a real validator. Run through
 * the test client and a real server; the typed client is used as a user of the example would.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { createClient } from '../src/client.ts';
import type { VialOptions } from '../src/index.ts';
import { createApp } from '../examples/json-api/app.ts';
import { both, connect } from './helpers/both.ts';

// As helpers/both.ts makeApp: silent, and without the process-wide monitors listen() would start.
const QUIET: VialOptions = {
  log: { level: 'silent' },
  watchdog: { enabled: false },
  memory: { allocationSampling: { enabled: false }, leakAlarm: { enabled: false } },
  load: { pressure: { enabled: false } },
};

interface Problem {
  status: number;
  code: string;
  detail: string;
  errors: { in: string; path: (string | number)[]; pointer: string; message: string }[];
}
interface Todo {
  id: number;
  title: string;
  done: boolean;
}
type Operation = { summary?: string; requestBody?: unknown; responses: Record<string, { content?: unknown }> };

both('examples/json-api, schema-first', (mode) => {
  it('creates, lists, shows, changes and deletes todos as their schemas say', async (t) => {
    const c = await connect(t, mode, createApp(QUIET));
    const created = await c.post('/api/todos', { json: { title: '  buy milk  ' } });
    assert.equal(created.status, 201);
    assert.equal(created.header('location'), '/api/todos/1');
    // zod's trim and default ran before the handler saw the body.
    assert.deepEqual(created.json<Todo>(), { id: 1, title: 'buy milk', done: false });
    await c.post('/api/todos', { json: { title: 'walk the dog', done: true } });

    assert.deepEqual((await c.get('/api/todos?done=true')).json<{ todos: Todo[] }>().todos.map((todo) => todo.id), [2]);
    assert.equal((await c.get('/api/todos?limit=1')).json<{ todos: Todo[] }>().todos.length, 1);
    assert.deepEqual((await c.get('/api/todos/1')).json<Todo>(), { id: 1, title: 'buy milk', done: false });
    const changed = await c.request('PATCH', '/api/todos/1', { json: { done: true } });
    assert.equal(changed.status, 200);
    assert.deepEqual(changed.json<Todo>(), { id: 1, title: 'buy milk', done: true });
    const removed = await c.request('DELETE', '/api/todos/1');
    assert.equal(removed.status, 204);
    assert.equal(removed.text, '');
    const gone = await c.get('/api/todos/1');
    assert.equal(gone.status, 404);
    assert.equal(gone.json<{ error: { code: string } }>().error.code, 'VIAL_ERR_HTTP_404');
  });

  it('answers 422 naming each field that does not fit, and 400 for a body that does not parse', async (t) => {
    const c = await connect(t, mode, createApp(QUIET));
    const invalid = await c.post('/api/todos', { json: { title: '', done: 'yes', titel: 'typo' } });
    assert.equal(invalid.status, 422);
    assert.match(invalid.header('content-type') ?? '', /^application\/problem\+json/);
    const problem = invalid.json<Problem>();
    assert.equal(problem.code, 'VIAL_ERR_VALIDATION');
    assert.deepEqual(problem.errors.map((e) => e.pointer).sort(), ['#', '#/done', '#/title']);
    assert.ok(problem.errors.every((e) => e.in === 'body'));
    assert.match(problem.errors.find((e) => e.pointer === '#')?.message ?? '', /titel/, 'the unknown key is named');

    const badId = await c.get('/api/todos/0');
    assert.equal(badId.status, 422);
    assert.deepEqual(badId.json<Problem>().errors.map((e) => `${e.in} ${e.pointer}`), ['params #/id']);
    assert.match(badId.json<Problem>().detail, /^The request path parameters do not match/);
    assert.equal((await c.get('/api/todos?limit=500')).status, 422);

    const malformed = await c.post('/api/todos', { body: '{"title": ', headers: { 'content-type': 'application/json' } });
    assert.equal(malformed.status, 400);
    assert.equal(malformed.json<Problem>().code, 'VIAL_ERR_MALFORMED_JSON');
  });

  it('serves an OpenAPI 3.1 document of every route that passes a real validator, and its docs page', async (t) => {
    const c = await connect(t, mode, createApp(QUIET));
    const res = await c.get('/openapi.json');
    assert.equal(res.status, 200);
    const doc = res.json<{ info: { title: string }; paths: Record<string, Record<string, Operation>> }>();
    const result = await new Validator().validate(doc);
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
    assert.equal(doc.info.title, 'Todo API');
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`));
    assert.deepEqual(operations.sort(), ['DELETE /api/todos/{id}', 'GET /api/todos', 'GET /api/todos/{id}', 'GET /health', 'PATCH /api/todos/{id}', 'POST /api/todos']);
    const create = doc.paths['/api/todos']?.['post'];
    assert.equal(create?.summary, 'Create a todo');
    assert.ok(create?.requestBody !== undefined);
    for (const status of ['201', '400', '409', '413', '415', '422']) assert.ok(status in (create?.responses ?? {}), `POST /api/todos documents ${status}`);
    assert.deepEqual(doc.paths['/api/todos/{id}']?.['delete']?.responses['204'], { description: 'No Content' }, 'a 204 has no content');
    const page = await c.get('/docs');
    assert.equal(page.status, 200);
    assert.match(page.text, /swagger-ui-bundle\.js/);
  });
});

it('is typed end to end: createClient<typeof app> reaches the blueprint routes with their schemas', async (t) => {
  const app = createApp(QUIET);
  const running = await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => running.close());
  const api = createClient<typeof app>(running.url);
  const created = await api.post('/api/todos', { body: { title: 'typed' } });
  assert.equal(created.status, 201);
  assert.ok(created.ok);
  const shown = await api.get('/api/todos/<int:id>', { params: { id: created.data.id } });
  assert.ok(shown.ok);
  assert.equal(shown.data.title, 'typed');
  const list = await api.get('/api/todos', { query: { done: 'false' } });
  assert.deepEqual(list.ok ? list.data.todos.map((todo) => todo.title) : [], ['typed']);
  const missing = await api.delete('/api/todos/<int:id>', { params: { id: 99 } });
  assert.equal(missing.status, 404);
});
