/**
 * vial (built package, production defaults: compression and ETags are on by default) serving
 * ~50 kB of JSON at /json50k (scenario json-compressed).
 */
import { reply } from './json-50k.ts';
import { announce, benchPort, HOST } from './port.ts';
import { vial } from './vial-package.ts';

const app = new vial.Vial({ env: 'production' });
app.get('/json50k', () => reply);
const running = await app.listen({ port: benchPort(), host: HOST });
announce(running.port, () => running.close());
