/**
 * Type tests: routes registered on a blueprint appear on the app's type under the blueprint's
 * prefix (or register's `prefix` option), so `createClient<typeof app>` and the test client's
 * `.api` reach them with their schemas. Checked by tsc (see test/route-types.test.ts).
 */
import * as z from 'zod';
import { createClient } from '../../src/client.ts';
import { Blueprint, Vial, schemas } from '../../src/index.ts';
import { testClient } from '../../src/testing.ts';

function expectType<T>(_value: T): void {}

const Todo = z.object({ id: z.number(), title: z.string(), done: z.boolean() });

export function todosBlueprint() {
  return new Blueprint('todos', { prefix: '/api/todos/' })
    .get('/', { schema: { response: { 200: z.object({ todos: z.array(Todo) }) } } }, () => ({ todos: [] }))
    .get('/<int:id>', { schema: { response: { 200: Todo } } }, (ctx) => ({ id: ctx.params.id, title: 'milk', done: false }))
    .post('/', { schema: { body: z.object({ title: z.string() }), response: { 201: Todo } } }, (ctx) => ({ id: 1, title: ctx.valid.body.title, done: false }));
}
export function adminBlueprint() {
  return new Blueprint('admin').get('/stats', () => ({ users: 3 }));
}
export function prefixless() {
  return new Blueprint('misc').get('/misc', () => 'ok');
}

export function makeApp() {
  return new Vial()
    .plugin(schemas)
    .get('/health', () => ({ ok: true as const }))
    .register(todosBlueprint())
    // register's own prefix wins over the blueprint's, as at run time.
    .register(adminBlueprint(), { prefix: '/admin' })
    .register(prefixless());
}
type App = ReturnType<typeof makeApp>;

export async function calls(): Promise<void> {
  const api = createClient<App>('http://127.0.0.1:5000');
  const health = await api.get('/health');
  if (health.ok) expectType<true>(health.data.ok);
  // The trailing slash of the prefix is dropped and the blueprint's `/` is the prefix itself.
  const list = await api.get('/api/todos');
  if (list.ok) expectType<number | undefined>(list.data.todos[0]?.id);
  const one = await api.get('/api/todos/<int:id>', { params: { id: 3 } });
  if (one.ok) expectType<string>(one.data.title);
  const created = await api.post('/api/todos', { body: { title: 'milk' } });
  if (created.ok) expectType<boolean>(created.data.done);
  const stats = await api.get('/admin/stats');
  if (stats.ok) expectType<number>(stats.data.users);

  // @ts-expect-error the blueprint's routes are under its prefix, not at the root
  await api.get('/<int:id>', { params: { id: 3 } });
  // @ts-expect-error register's prefix replaced the blueprint's (none), so /stats is not a route
  await api.get('/stats');
  // @ts-expect-error the id of a mounted route is still a number
  await api.get('/api/todos/<int:id>', { params: { id: 'three' } });
  // @ts-expect-error the body of a mounted route is still checked against its schema
  await api.post('/api/todos', { body: { title: 1 } });
  // @ts-expect-error a blueprint built without a literal prefix is left off the app's type, not put at the root
  await api.get('/misc');

  // The test client's typed api sees the same routes.
  const shown = await testClient(makeApp()).api.get('/api/todos/<int:id>', { params: { id: 1 } });
  if (shown.ok) expectType<number>(shown.data.id);
}
