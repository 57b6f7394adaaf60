/**
 * Fastify with its default config, as its own benchmarks run it: `Fastify()` and one route.
 * BENCH_HOOK=1 adds the counterpart of vial's app-wide before hook (servers/hello-app.ts): an
 * onRequest hook that reads the Authorization header and decorates the request with the user.
 */
import Fastify from 'fastify';
import { announce, benchPort, HOST } from './port.ts';

declare module 'fastify' {
  interface FastifyRequest {
    user: string;
  }
}

const app = Fastify();
if (process.env['BENCH_HOOK'] === '1') {
  app.decorateRequest('user', '');
  app.addHook('onRequest', (request, _reply, done) => {
    const authorization = request.headers.authorization;
    request.user = authorization === undefined ? 'anonymous' : authorization.slice(7);
    done();
  });
}
app.get('/hello', () => ({ hello: 'world' }));
// The same reply from an async handler (scenario hello-async).
// eslint-disable-next-line @typescript-eslint/require-await -- async on purpose: the scenario measures that path
app.get('/hello-async', async () => ({ hello: 'world' }));

await app.listen({ port: benchPort(), host: HOST });
const address = app.server.address();
announce(typeof address === 'object' && address !== null ? address.port : 0, () => app.close());
