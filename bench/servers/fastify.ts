/** Fastify with its default config, as its own benchmarks run it: `Fastify()` and one route. */
import Fastify from 'fastify';
import { announce, benchPort, HOST } from './port.ts';

const app = Fastify();
app.get('/hello', () => ({ hello: 'world' }));
// The same reply from an async handler (scenario hello-async).
// eslint-disable-next-line @typescript-eslint/require-await -- async on purpose: the scenario measures that path
app.get('/hello-async', async () => ({ hello: 'world' }));

await app.listen({ port: benchPort(), host: HOST });
const address = app.server.address();
announce(typeof address === 'object' && address !== null ? address.port : 0, () => app.close());
