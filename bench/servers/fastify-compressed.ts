/** Fastify with @fastify/compress (its defaults), serving ~50 kB of JSON at /json50k (scenario json-compressed). */
import compress from '@fastify/compress';
import Fastify from 'fastify';
import { reply } from './json-50k.ts';
import { announce, benchPort, HOST } from './port.ts';

const app = Fastify();
await app.register(compress);
app.get('/json50k', () => reply);
await app.listen({ port: benchPort(), host: HOST });
const address = app.server.address();
announce(typeof address === 'object' && address !== null ? address.port : 0, () => app.close());
