/**
 * Fastify (defaults) sending the headers vial sends on a JSON success by default (nosniff, CSP
 * frame-ancestors, HSTS), set the way a Fastify app sets headers for every route: an onRequest
 * hook. The like-for-like comparison for vial's hello figure (scenario hello-breakdown).
 */
import Fastify from 'fastify';
import { announce, benchPort, HOST } from './port.ts';

const HEADERS = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "frame-ancestors 'none'",
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
} as const;

const app = Fastify();
app.addHook('onRequest', (_request, reply, done) => {
  reply.headers(HEADERS);
  done();
});
app.get('/hello', () => ({ hello: 'world' }));

await app.listen({ port: benchPort(), host: HOST });
const address = app.server.address();
announce(typeof address === 'object' && address !== null ? address.port : 0, () => app.close());
