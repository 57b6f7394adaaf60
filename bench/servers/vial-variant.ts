/**
 * vial with one cost taken away or added, to show where the hello benchmark's time goes (scenario
 * hello-breakdown). The variant is argv[3]:
 *   no-headers   security headers off (security.headers.enabled false)
 *   no-metrics   the per-request metrics unsubscribed after start (request counters, latency
 *                histograms, live stats): what metrics cost
 *   admin        the admin listener on (a free port), as `vial run` starts it: what it costs
 *   bare         app.handler on a plain node:http server: no server limits, monitors or metrics
 * Never a configuration to ship: no-headers, no-metrics and bare each remove something on purpose.
 */
import { createServer } from 'node:http';
import type { VialOptions } from '../../src/index.ts';
import { vial } from './vial-package.ts';
import { announce, benchPort, HOST, listenAndAnnounce } from './port.ts';

const variant = process.argv[3] ?? '';
const OPTIONS: Readonly<Record<string, VialOptions>> = {
  'no-headers': { security: { headers: { enabled: false } } },
  'no-metrics': {},
  admin: { admin: { enabled: true, port: 0 } },
  bare: {},
};
const options = OPTIONS[variant];
if (options === undefined) throw new Error(`vial-variant: unknown variant "${variant}" (${Object.keys(OPTIONS).join(', ')})`);
const app = new vial.Vial({ env: 'production', ...options });
app.get('/hello', () => ({ hello: 'world' }));

if (variant === 'bare') {
  await app.start();
  listenAndAnnounce(createServer(app.handler));
} else {
  const running = await app.listen({ port: benchPort(), host: HOST });
  if (variant === 'no-metrics') app.monitors.metrics?.close();
  announce(running.port, () => running.close());
}
