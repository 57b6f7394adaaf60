/**
 * Fastify (defaults) sending the headers vial sends on a JSON success by default (nosniff, CSP
 * frame-ancestors, HSTS), set the way a Fastify app sets headers for every route: an onRequest
 * hook. The like-for-like comparison for vial's hello figure (scenarios hello, hello-async,
 * hello-hook, hello-breakdown). BENCH_HOOK=1 adds the same onRequest auth hook as servers/fastify.ts.
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
if (process.env['BENCH_HOOK'] === '1') {
  // The counterpart of vial's app-wide before hook (servers/hello-app.ts): who is asking, per request.
  app.decorateRequest('user', '');
  app.addHook('onRequest', (request, _reply, done) => {
    const authorization = request.headers.authorization;
    (request as { user?: string }).user = authorization === undefined ? 'anonymous' : authorization.slice(7);
    done();
  });
}
app.get('/hello', () => ({ hello: 'world' }));
// eslint-disable-next-line @typescript-eslint/require-await -- async on purpose: the scenario measures that path
app.get('/hello-async', async () => ({ hello: 'world' }));

await app.listen({ port: benchPort(), host: HOST });
const address = app.server.address();
announce(typeof address === 'object' && address !== null ? address.port : 0, () => app.close());
