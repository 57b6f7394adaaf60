/**
 * Fastify with its defaults: POST /users validates its 10-field JSON body with the same JSON
 * Schema, compiled by Fastify's built-in ajv (scenario post-validated).
 */
import Fastify from 'fastify';
import { announce, benchPort, HOST } from './port.ts';
import { createdReply, userJsonSchema } from './user-schema.ts';

const app = Fastify();
app.post('/users', { schema: { body: userJsonSchema } }, (request) => {
  const body = request.body as { id: number; name: string };
  return createdReply(body.id, body.name);
});
await app.listen({ port: benchPort(), host: HOST });
const address = app.server.address();
announce(typeof address === 'object' && address !== null ? address.port : 0, () => app.close());
