/**
 * Route schemas of every kind compile once into one validator shape: zod 4 and valibot through
 * Standard Schema, plain JSON Schema and TypeBox through ajv. Issues come out with a path, a JSON
 * Pointer and a message that never quotes the value it is about.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Type } from 'typebox';
import * as v from 'valibot';
import * as z from 'zod';
import { compileSchema, createCompilers } from '../src/schema/compile.ts';
import type { CompiledSchema, Outcome } from '../src/schema/compile.ts';
import { pointerOf, redact, REDACTED } from '../src/schema/issues.ts';
import { ConfigError } from '../src/errors.ts';

const compilers = createCompilers({ allErrors: true });
const site = { routeKey: 'POST /users', part: 'body' as const };

async function check(schema: CompiledSchema, value: unknown): Promise<Outcome> {
  return await schema.validate(value);
}

const kinds = {
  zod: z.object({ name: z.string().min(2), age: z.number().int().min(0), tags: z.array(z.string()).optional() }),
  valibot: v.object({ name: v.pipe(v.string(), v.minLength(2)), age: v.pipe(v.number(), v.integer(), v.minValue(0)), tags: v.optional(v.array(v.string())) }),
  'JSON Schema': {
    type: 'object',
    required: ['name', 'age'],
    properties: { name: { type: 'string', minLength: 2 }, age: { type: 'integer', minimum: 0 }, tags: { type: 'array', items: { type: 'string' } } },
  },
  TypeBox: Type.Object({ name: Type.String({ minLength: 2 }), age: Type.Integer({ minimum: 0 }), tags: Type.Optional(Type.Array(Type.String())) }),
};

describe('compiled route schemas', () => {
  for (const [kind, schema] of Object.entries(kinds)) {
    describe(kind, () => {
      const compiled = compileSchema(schema, site, compilers);

      it('accepts a valid value and hands back the validated one', async () => {
        const outcome = await check(compiled, { name: 'Ada', age: 36, tags: ['x'] });
        assert.deepEqual(outcome, { ok: true, value: { name: 'Ada', age: 36, tags: ['x'] } });
      });

      it('lists each issue with its path and pointer', async () => {
        const outcome = await check(compiled, { name: 'A', age: -1, tags: ['ok', 7] });
        assert.equal(outcome.ok, false);
        if (outcome.ok) return;
        const places = outcome.issues.map((i) => i.pointer).sort();
        assert.deepEqual(places, ['#/age', '#/name', '#/tags/1']);
        for (const i of outcome.issues) {
          assert.equal(i.in, 'body');
          assert.ok(i.message.length > 0);
        }
        assert.deepEqual(outcome.issues.find((i) => i.pointer === '#/tags/1')?.path, ['tags', 1]);
      });

      it('names a missing required field in its path', async () => {
        const outcome = await check(compiled, { age: 3 });
        assert.equal(outcome.ok, false);
        if (!outcome.ok) assert.deepEqual(outcome.issues.map((i) => i.path), [['name']]);
      });
    });
  }

  it('says which kind and vendor a schema is', () => {
    assert.equal(compileSchema(kinds.zod, site, compilers).vendor, 'zod');
    assert.equal(compileSchema(kinds.valibot, site, compilers).vendor, 'valibot');
    assert.equal(compileSchema(kinds.TypeBox, site, compilers).kind, 'json-schema');
  });

  it('coerces text to the declared type for query, params and headers, never for bodies', () => {
    const schema = { type: 'object', properties: { limit: { type: 'integer' }, ids: { type: 'array', items: { type: 'integer' } } } };
    const query = compileSchema(schema, { routeKey: 'GET /x', part: 'query' }, compilers);
    assert.deepEqual(query.validate({ limit: '10', ids: '3' }), { ok: true, value: { limit: 10, ids: [3] } });
    const body = compileSchema(schema, site, compilers);
    assert.equal((body.validate({ limit: '10' }) as Outcome).ok, false);
  });

  it('fills defaults from a JSON Schema', () => {
    const schema = compileSchema({ type: 'object', properties: { done: { type: 'boolean', default: false } } }, site, compilers);
    assert.deepEqual(schema.validate({}), { ok: true, value: { done: false } });
  });

  it('waits for an async Standard Schema', async () => {
    const schema = compileSchema(z.string().refine((s) => Promise.resolve(s === 'yes')), site, compilers);
    const pending = schema.validate('no');
    assert.ok(pending instanceof Promise);
    assert.equal((await pending).ok, false);
  });
});

describe('schema errors at startup', () => {
  it('refuses a JSON Schema ajv cannot compile, naming the route and part', () => {
    assert.throws(
      () => compileSchema({ type: 'object', properties: { n: { type: 'integr' } } }, site, compilers),
      (error: unknown) => error instanceof ConfigError && error.code === 'VIAL_ERR_SCHEMA' && /schema\.body of POST \/users/.test(error.message),
    );
  });

  it('refuses an unknown keyword (strict mode) rather than ignoring the rule', () => {
    assert.throws(() => compileSchema({ type: 'string', minLenght: 3 }, site, compilers), /minLenght/);
  });

  it('refuses something that is no schema at all', () => {
    assert.throws(() => compileSchema(new Date(), site, compilers), /neither a Standard Schema .* nor a JSON Schema object; got an instance of Date/);
    assert.throws(() => compileSchema('string', { routeKey: 'GET /x', part: 'response', status: 200 }, compilers), /schema\.response\[200\] of GET \/x .* got string/);
  });
});

describe('issues never echo the value', () => {
  it("scrubs valibot's quoted input from the message", async () => {
    const schema = compileSchema(v.object({ token: v.pipe(v.string(), v.email()) }), site, compilers);
    const outcome = await check(schema, { token: 'sk_live_hunter2' });
    assert.equal(outcome.ok, false);
    if (outcome.ok) return;
    const text = JSON.stringify(outcome.issues);
    assert.doesNotMatch(text, /hunter2/);
    assert.match(outcome.issues[0]?.message ?? '', new RegExp(REDACTED.replace(/[[\]]/g, '\\$&')));
  });

  it('scrubs whole tokens only, leaving the words of the message', () => {
    assert.equal(redact('Invalid value: Received "abc"', 'abc'), `Invalid value: Received ${REDACTED}`);
    assert.equal(redact('Invalid email', 'mail'), 'Invalid email');
    assert.equal(redact('Expected 8 but received 12345', 12345), `Expected 8 but received ${REDACTED}`);
  });

  it('writes pointers as RFC 6901 fragments', () => {
    assert.equal(pointerOf(['a/b', 'c~d', 0]), '#/a~1b/c~0d/0');
    assert.equal(pointerOf([]), '#');
  });
});
