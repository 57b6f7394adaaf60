/**
 * A JSON API with a blueprint: a small todo service.
 *
 *   npm start                      # or: node src/cli/main.ts run examples/json-api/app.ts
 *   curl localhost:5000/api/todos
 *   curl -X POST localhost:5000/api/todos -H 'content-type: application/json' -d '{"title":"milk"}'
 *
 * POST from curl passes CSRF because curl sends no cookies: CSRF only guards requests that carry
 * ambient credentials (a session cookie) or come from a browser on another site.
 */
import { Blueprint, HttpError, Vial, abort } from '../../src/index.ts';

interface Todo {
  id: number;
  title: string;
  done: boolean;
}

const todos = new Blueprint('todos', { prefix: '/api/todos' });
// Intentionally a small fixed-size store for the example; a real app keeps this in a database.
const store = new Map<number, Todo>();
const MAX_TODOS = 1000;
let nextId = 1;

function parseTodo(body: unknown): { title: string; done: boolean } {
  if (typeof body !== 'object' || body === null) abort(422, 'Send a JSON object like {"title": "milk"}.');
  const { title, done } = body as Record<string, unknown>;
  if (typeof title !== 'string' || title.trim() === '' || title.length > 200) abort(422, '"title" must be a non-empty string of at most 200 characters.');
  if (done !== undefined && typeof done !== 'boolean') abort(422, '"done" must be true or false.');
  return { title: title.trim(), done: done === true };
}

todos.get('/', function list() {
  return { todos: [...store.values()] };
});

todos.get('/<int:id>', function show(ctx) {
  const todo = store.get(ctx.params.id);
  if (todo === undefined) abort(404, 'No todo with that id.');
  return todo;
});

todos.post('/', async function create(ctx) {
  if (store.size >= MAX_TODOS) abort(409, `The example keeps at most ${MAX_TODOS} todos; delete some first.`);
  const todo = { id: nextId++, ...parseTodo(await ctx.request.json()) };
  store.set(todo.id, todo);
  ctx.header('location', ctx.urlFor('todos.show', { id: todo.id }));
  return todo;
});

todos.delete('/<int:id>', function remove(ctx) {
  if (!store.delete(ctx.params.id)) abort(404, 'No todo with that id.');
  return null;
});

// Blueprint-scoped error handler: validation errors of this API get a friendlier shape.
todos.errorHandler(422, (error) => ({ error: 'invalid todo', detail: error instanceof HttpError ? error.message : 'invalid' }));

export const app = new Vial({ name: 'json-api' });
app.get('/', () => ({ service: 'json-api', todos: app.urlFor('todos.list') }));
app.get('/health', () => ({ ok: true }));
app.register(todos);

export default app;
