/**
 * The request of scenario post-validated: one 10-field JSON body and the JSON Schema every system
 * validates it with (vial through ajv, Fastify through its built-in ajv), plus the same rules in
 * zod for the vial+zod row. The rules are the ones a real "create user" route has: required
 * fields, lengths, ranges, an enum, an array, no unknown keys. No `format` keyword, so the systems
 * cannot differ by which format plugin they load.
 */
import * as z from 'zod';

export const userJsonSchema = {
  type: 'object',
  required: ['id', 'name', 'email', 'age', 'active', 'score', 'role', 'tags', 'country', 'createdAt'],
  additionalProperties: false,
  properties: {
    id: { type: 'integer', minimum: 1 },
    name: { type: 'string', minLength: 1, maxLength: 100 },
    email: { type: 'string', minLength: 3, maxLength: 254, pattern: '^[^@\\s]+@[^@\\s]+$' },
    age: { type: 'integer', minimum: 0, maximum: 150 },
    active: { type: 'boolean' },
    score: { type: 'number', minimum: 0, maximum: 100 },
    role: { type: 'string', enum: ['admin', 'editor', 'viewer'] },
    tags: { type: 'array', maxItems: 10, items: { type: 'string', maxLength: 32 } },
    country: { type: 'string', minLength: 2, maxLength: 2 },
    createdAt: { type: 'string', minLength: 10, maxLength: 40 },
  },
} as const;

export const userZodSchema = z.strictObject({
  id: z.number().int().min(1),
  name: z.string().min(1).max(100),
  email: z.string().min(3).max(254).regex(/^[^@\s]+@[^@\s]+$/),
  age: z.number().int().min(0).max(150),
  active: z.boolean(),
  score: z.number().min(0).max(100),
  role: z.enum(['admin', 'editor', 'viewer']),
  tags: z.array(z.string().max(32)).max(10),
  country: z.string().length(2),
  createdAt: z.string().min(10).max(40),
});

/** What the load sends: valid under both schemas. */
export const userBody = JSON.stringify({
  id: 4217,
  name: 'Ada Lovelace',
  email: 'ada@example.com',
  age: 36,
  active: true,
  score: 87.5,
  role: 'editor',
  tags: ['math', 'engines', 'poetry'],
  country: 'GB',
  createdAt: '2026-12-03T15:00:00Z',
});

/** What every system answers: the same small JSON. */
export const createdReply = (id: number, name: string): { created: boolean; id: number; name: string } => ({ created: true, id, name });
