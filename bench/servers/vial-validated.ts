/**
 * vial (built package, production defaults) with the schemas plugin: POST /users validates its
 * 10-field JSON body (scenario post-validated). BENCH_SCHEMA=zod validates with the zod schema
 * instead of the JSON Schema; BENCH_SCHEMA=none reads the body with `ctx.request.json()` and
 * validates nothing (diagnosis: what the schema check itself costs).
 */
import { announce, benchPort, HOST } from './port.ts';
import { createdReply, userJsonSchema, userZodSchema } from './user-schema.ts';
import { vial } from './vial-package.ts';

const kind = process.env['BENCH_SCHEMA'] ?? 'json-schema';
if (kind !== 'json-schema' && kind !== 'zod' && kind !== 'none') throw new Error(`bench: BENCH_SCHEMA is json-schema, zod or none, got "${kind}".`);

const app = new vial.Vial({ env: 'production' });
app.plugin(vial.schemas);
if (kind === 'none') {
  app.post('/users', async (ctx) => {
    const body = await ctx.request.json<{ id: number; name: string }>();
    return createdReply(body.id, body.name);
  });
} else {
  app.post('/users', { schema: { body: kind === 'zod' ? userZodSchema : userJsonSchema } }, (ctx) => {
    const body = ctx.valid.body as { id: number; name: string };
    return createdReply(body.id, body.name);
  });
}
const running = await app.listen({ port: benchPort(), host: HOST });
announce(running.port, () => running.close());
