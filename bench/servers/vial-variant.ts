/**
 * vial with one cost taken away, to show where the hello benchmark's time goes (scenario
 * hello-breakdown). The variant is argv[3]:
 *   no-headers   security headers off (security.headers.enabled false)
 *   bare         app.handler on a plain node:http server: no server limits, monitors or metrics
 * Never a configuration to ship: each removes a protection on purpose.
 */
import { createServer } from 'node:http';
import { Vial } from '../../src/index.ts';
import { announce, benchPort, HOST, listenAndAnnounce } from './port.ts';

const variant = process.argv[3] ?? '';
const app = new Vial({ env: 'production', ...(variant === 'no-headers' ? { security: { headers: { enabled: false } } } : {}) });
app.get('/hello', () => ({ hello: 'world' }));

if (variant === 'bare') {
  await app.start();
  const server = createServer(app.handler);
  listenAndAnnounce(server);
} else if (variant === 'no-headers') {
  const running = await app.listen({ port: benchPort(), host: HOST });
  announce(running.port, () => running.close());
} else {
  throw new Error(`vial-variant: unknown variant "${variant}" (no-headers or bare)`);
}
