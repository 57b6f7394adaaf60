/**
 * Type tests, checked by `tsc` (npm run typecheck, and test/types.test.ts in the suite): the
 * route's path and schema type the handler's ctx and reply. Each `@ts-expect-error` marks a call
 * that must not compile; if it ever does, tsc reports the unused directive.
 */
import { Type } from 'typebox';
import * as v from 'valibot';
import * as z from 'zod';
import { Vial, json } from '../../src/index.ts';
import type { TypedJsonSchema } from '../../src/index.ts';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
function expectType<T>(_value: T): void {}
function assertEqual<_T extends true>(): void {}

const app = new Vial();

// Path converters type ctx.params, with no schema at all.
app.get('/users/<int:id>/posts/<slug>/<uuid:key>', (ctx) => {
  assertEqual<Equal<Pick<typeof ctx.params, 'id' | 'slug' | 'key'>, { id: number; slug: string; key: string }>>();
  // @ts-expect-error id is a number, not a string
  const id: string = ctx.params.id;
  return id;
});
app.get('/files/<path:rest>', (ctx) => {
  expectType<string>(ctx.params.rest);
  return null;
});
app.get('/legacy/:name/:other', (ctx) => {
  assertEqual<Equal<Pick<typeof ctx.params, 'name' | 'other'>, { name: string; other: string }>>();
  return ctx.params.name;
});

// ctx.valid is typed from the schema, whichever library wrote it.
const Todo = z.object({ id: z.number(), title: z.string(), done: z.boolean() });
app.post('/todos', { schema: { body: z.object({ title: z.string() }), query: v.object({ dryRun: v.optional(v.string()) }) } }, (ctx) => {
  expectType<string>(ctx.valid.body.title);
  expectType<string | undefined>(ctx.valid.query.dryRun);
  // @ts-expect-error no params schema on this route
  void ctx.valid.params.id;
  // @ts-expect-error the body has no `done`
  void ctx.valid.body.done;
  return { ok: true };
});

// A params schema refines what the converter gave.
app.get('/todos/<int:id>', { schema: { params: z.object({ id: z.number().int().min(1) }) } }, (ctx) => {
  expectType<number>(ctx.params.id);
  expectType<number>(ctx.valid.params.id);
  return 'ok';
});

// A JSON Schema that carries its type (or TypeBox through JsonSchemaTypes) types ctx.valid too.
const NewUser = { type: 'object', required: ['name'], properties: { name: { type: 'string' } } } as const satisfies object as TypedJsonSchema<{ name: string }> & object;
app.post('/users', { schema: { body: NewUser } }, (ctx) => {
  expectType<string>(ctx.valid.body.name);
  return null;
});
app.post('/typebox', { schema: { body: Type.Object({ n: Type.Number() }) } }, (ctx) => {
  // Without the JsonSchemaTypes augmentation a TypeBox body is `unknown`, still validated at run time.
  expectType<unknown>(ctx.valid.body);
  return null;
});

// The handler's reply is checked against the response schemas.
app.get('/todos/<int:id>/full', { schema: { response: { 200: Todo } } }, (ctx) => ({ id: ctx.params.id, title: 'milk', done: false }));
app.get('/todos/<int:id>/async', { schema: { response: { 200: Todo, 404: z.object({ error: z.string() }) } } }, async () => {
  await Promise.resolve();
  return Math.random() > 0.5 ? { id: 1, title: 'milk', done: false } : { error: 'no such todo' };
});
app.get('/todos/<int:id>/response', { schema: { response: { 200: Todo } } }, () => json({ anything: true }, { status: 200 }));
// @ts-expect-error `done` must be a boolean
app.get('/todos/<int:id>/wrong', { schema: { response: { 200: Todo } } }, () => ({ id: 1, title: 'milk', done: 'yes' }));
// @ts-expect-error a reply is required when the route declares its responses
app.get('/todos/<int:id>/nothing', { schema: { response: { 200: Todo } } }, () => {});

// An unknown route option is a type error (and a startup error, VIAL_ERR_ROUTE).
// @ts-expect-error `timeout` is not an option (timeoutMs is)
app.get('/typo', { timeout: 5 }, () => 'ok');
app.get('/known', { timeoutMs: 5, name: 'known' }, () => 'ok');

// Handlers declared apart, with the wide Handler type, still register.
const wide = (): string => 'ok';
app.get('/wide', wide);
