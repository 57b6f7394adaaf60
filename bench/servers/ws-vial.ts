/**
 * vial's WebSocket plugin as users run it: the built package (servers/vial-package.ts), production
 * env, one echo route (text stays text, bytes stay bytes). `GET /health` answers the harness's
 * readiness probe.
 *
 * Two route limits are raised, and only because the bench's clients are deliberate, not because
 * the defaults cost anything: `maxMessagesPerSecond` (default 100 per socket, an abuse guard)
 * would close a ping-pong socket that a fast server lets run above 100 echoes/s, and
 * `maxConnections` (default 1,000 per route) leaves no room for a socket of one phase that is
 * still closing when the next phase opens its 1,000. The token bucket and the counters still run
 * on every message and socket, so vial pays for them as a default app does.
 */
import { announce, benchPort, HOST } from './port.ts';
import { vial } from './vial-package.ts';

const app = new vial.Vial({ env: 'production' });
app.plugin(vial.websocket);
app.get('/health', () => 'ok');
app.get('/echo', { websocket: { maxMessagesPerSecond: 1_000_000, maxConnections: 5_000 } }, (ctx) => {
  const socket = ctx.websocket;
  socket.onMessage((message) => {
    socket.send(message);
  });
});

const running = await app.listen({ port: benchPort(), host: HOST });
announce(running.port, () => running.close());
