/**
 * A JSON API, schema-first: a small todo service on a blueprint. Every route declares what it
 * accepts and answers (zod schemas); vial validates requests before the handler runs, checks
 * replies in development, and serves the OpenAPI 3.1 document and its docs page from the same
 * schemas (docs/schemas.md).
 *
 *   npm start                      # or: node src/cli/main.ts run examples/json-api/app.ts
 *   curl localhost:5000/api/todos
 *   curl -X POST localhost:5000/api/todos -H 'content-type: application/json' -d '{"title":"milk"}'
 *   curl -X POST localhost:5000/api/todos -H 'content-type: application/json' -d '{"title":""}'   # 422
 *   open http://localhost:5000/docs                                   # Swagger UI, works offline
 *   curl localhost:5000/openapi.json
 *
 * POST from curl passes CSRF because curl sends no cookies: CSRF only guards requests that carry
 * ambient credentials (a session cookie) or come from a browser on another site.
 *
 * The app is built by `createApp()` so tests get a fresh store each; `app` is the one `vial run`
 * serves. It is one chained expression so that `typeof app` carries every route, blueprint ones
 * included, for the typed client: `createClient<typeof app>(url).get('/api/todos/<int:id>', ...)`.
 */
import * as z from 'zod';
import { Blueprint, Vial, abort, schemas } from '../../src/index.ts';
import type { VialOptions } from '../../src/index.ts';

const Todo = z.object({
  id: z.number().int().min(1),
  title: z.string(),
  done: z.boolean(),
});
type Todo = z.infer<typeof Todo>;

// strictObject: an unknown key ({"titel": ...}) is a 422 naming it, not silently dropped.
const NewTodo = z.strictObject({
  title: z.string().trim().min(1).max(200),
  done: z.boolean().default(false),
});
const TodoChanges = z.strictObject({
  title: z.string().trim().min(1).max(200).optional(),
  done: z.boolean().optional(),
});
// The path converter already made `id` a number; the schema adds the rule that it is positive.
const TodoId = z.object({ id: z.number().int().min(1) });
// The query arrives as text: z.coerce turns "5" into 5; `done` stays the literal text it was sent as.
const ListQuery = z.object({
  done: z.enum(['true', 'false']).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
});
/** vial's own error body (abort(404), a 409 ...): documented so clients know what a refusal looks like. */
const ErrorBody = z.object({
  error: z.object({ status: z.number().int(), code: z.string(), message: z.string(), requestId: z.string() }),
});

/** Intentionally a small in-memory store for the example; a real app keeps this in a database. */
export const MAX_TODOS = 1000;

export function createApp(options: VialOptions = {}) {
  const store = new Map<number, Todo>();
  let nextId = 1;
  const find = (id: number): Todo => store.get(id) ?? abort(404, `No todo with id ${id}.`);

  const todos = new Blueprint('todos', { prefix: '/api/todos' })
    .get('/', {
      schema: { query: ListQuery, response: { 200: z.object({ todos: z.array(Todo) }) } },
      openapi: { summary: 'List todos', description: 'Oldest first; `done=true` or `done=false` filters.' },
    }, function list(ctx) {
      const { done, limit } = ctx.valid.query;
      const all = [...store.values()].filter((t) => done === undefined || String(t.done) === done);
      return { todos: all.slice(0, limit) };
    })
    .get('/<int:id>', {
      schema: { params: TodoId, response: { 200: Todo, 404: ErrorBody } },
      openapi: { summary: 'Show a todo' },
    }, function show(ctx) {
      return find(ctx.valid.params.id);
    })
    .post('/', {
      schema: { body: NewTodo, response: { 201: Todo, 409: ErrorBody } },
      openapi: { summary: 'Create a todo', description: `Answers 201 with a Location header. The example keeps at most ${MAX_TODOS} todos.` },
    }, function create(ctx) {
      if (store.size >= MAX_TODOS) abort(409, `The example keeps at most ${MAX_TODOS} todos; delete some first.`);
      const todo: Todo = { id: nextId++, ...ctx.valid.body };
      store.set(todo.id, todo);
      ctx.header('location', ctx.urlFor('todos.show', { id: todo.id }));
      return todo; // the only 2xx with a schema: sent as 201
    })
    .patch('/<int:id>', {
      schema: { params: TodoId, body: TodoChanges, response: { 200: Todo, 404: ErrorBody } },
      openapi: { summary: 'Change a todo', description: 'Send only the fields to change.' },
    }, function update(ctx) {
      const todo = find(ctx.valid.params.id);
      const changes = ctx.valid.body;
      const next: Todo = { ...todo, ...(changes.title === undefined ? {} : { title: changes.title }), ...(changes.done === undefined ? {} : { done: changes.done }) };
      store.set(next.id, next);
      return next;
    })
    .delete('/<int:id>', {
      // 204 carries no body: z.null() types the handler's `return null` (and the document shows no content).
      schema: { params: TodoId, response: { 204: z.null(), 404: ErrorBody } },
      openapi: { summary: 'Delete a todo', description: 'Answers 204 with no body.' },
    }, function remove(ctx) {
      if (!store.delete(ctx.valid.params.id)) abort(404, `No todo with id ${ctx.valid.params.id}.`);
      return null;
    });

  return new Vial({ name: 'json-api', ...options })
    .plugin(schemas, {
      openapi: { info: { title: 'Todo API', version: '1.0.0', description: 'The vial json-api example: a small todo service, schema-first.' } },
    })
    .get('/', { openapi: false }, (ctx) => ({ service: 'json-api', todos: ctx.urlFor('todos.list'), docs: '/docs', openapi: '/openapi.json' }))
    .get('/health', { schema: { response: { 200: z.object({ ok: z.literal(true) }) } }, openapi: { summary: 'Liveness', tags: ['service'] } }, () => ({ ok: true as const }))
    .register(todos);
}

export const app = createApp();
export default app;
