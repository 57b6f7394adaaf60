/**
 * Type tests for vial/client and the test client's `.api`: request and response types follow the
 * app's routes, and a changed schema turns an existing call site into a type error.
 */
import * as z from 'zod';
import { createClient } from '../../src/client.ts';
import { Vial, schemas } from '../../src/index.ts';
import { testClient } from '../../src/testing.ts';

function expectType<T>(_value: T): void {}

const Todo = z.object({ id: z.number(), title: z.string(), done: z.boolean() });
const NewTodo = z.object({ title: z.string().min(1), done: z.boolean().optional() });

export function v1() {
  return new Vial()
    .plugin(schemas)
    .get('/todos', { schema: { query: z.object({ limit: z.coerce.number().optional() }), response: { 200: z.object({ todos: z.array(Todo) }) } } }, () => ({ todos: [] }))
    .get('/todos/<int:id>', { schema: { response: { 200: Todo } } }, (ctx) => ({ id: ctx.params.id, title: 'milk', done: false }))
    .post('/todos', { schema: { body: NewTodo, response: { 201: Todo } } }, (ctx) => ({ id: 1, title: ctx.valid.body.title, done: false }))
    .delete('/todos/<int:id>', () => null)
    .get('/health', () => ({ ok: true as const }));
}
// The same app after a schema change: a todo now needs a priority.
export function v2() {
  return new Vial()
    .plugin(schemas)
    .post('/todos', { schema: { body: NewTodo.extend({ priority: z.number() }), response: { 201: Todo } } }, () => ({ id: 1, title: 'x', done: false }));
}
type AppV1 = ReturnType<typeof v1>;
type AppV2 = ReturnType<typeof v2>;

export async function calls(): Promise<void> {
  const api = createClient<AppV1>('http://127.0.0.1:5000');

  const one = await api.get('/todos/<int:id>', { params: { id: 3 } });
  if (one.ok) expectType<{ id: number; title: string; done: boolean }>(one.data);
  const list = await api.get('/todos', { query: { limit: 10 } });
  if (list.ok) expectType<number | undefined>(list.data.todos[0]?.id);
  await api.get('/todos');
  const created = await api.post('/todos', { body: { title: 'milk' } });
  if (created.ok) expectType<string>(created.data.title);
  const health = await api.get('/health');
  if (health.ok) expectType<true>(health.data.ok);
  await api.delete('/todos/<int:id>', { params: { id: 1 } });

  // @ts-expect-error no such route
  await api.get('/todo');
  // @ts-expect-error GET /todos/<int:id> needs its params
  await api.get('/todos/<int:id>');
  // @ts-expect-error id is a number
  await api.get('/todos/<int:id>', { params: { id: 'three' } });
  // @ts-expect-error the body must match NewTodo
  await api.post('/todos', { body: { title: 42 } });
  // @ts-expect-error POST /todos is not a GET route
  await api.get('/todos', { body: { title: 'milk' } }).then(() => api.put('/todos'));

  // The call that compiled against v1 does not against v2: `priority` is now required.
  const next = createClient<AppV2>('http://127.0.0.1:5000');
  await next.post('/todos', { body: { title: 'milk', priority: 1 } });
  // @ts-expect-error priority is missing since the schema changed
  await next.post('/todos', { body: { title: 'milk' } });

  // The test client's `.api` has the same typing.
  const client = testClient(v1());
  const shown = await client.api.get('/todos/<int:id>', { params: { id: 1 } });
  if (shown.ok) expectType<string>(shown.data.title);
  // @ts-expect-error the test client's api refuses the same wrong call
  await client.api.post('/todos', { body: {} });
}
