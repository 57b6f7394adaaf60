/**
 * Fastify with @fastify/websocket, its defaults: one echo route (text stays text, bytes stay bytes).
 * `GET /health` answers the harness's readiness probe.
 */
import websocket from '@fastify/websocket';
import Fastify from 'fastify';
import { announce, benchPort, HOST } from './port.ts';

const app = Fastify();
await app.register(websocket);
app.get('/health', () => 'ok');
app.get('/echo', { websocket: true }, (socket) => {
  socket.on('message', (data, isBinary) => socket.send(data as Buffer, { binary: isBinary }));
});

await app.listen({ port: benchPort(), host: HOST });
const address = app.server.address();
announce(typeof address === 'object' && address !== null ? address.port : 0, () => app.close());
