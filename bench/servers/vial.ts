/**
 * vial as a user would ship it: production env, default options (so every protection that is on by
 * default is on), logging at the default level. vial writes no per-request log lines at the default
 * level, so nothing needs redirecting; if that changes, set `log.level` here and say so in the README.
 */
import { Vial } from '../../src/index.ts';
import { announce, benchPort, HOST } from './port.ts';

const app = new Vial({ env: 'production' });
app.get('/hello', () => ({ hello: 'world' }));
// The same reply from an async handler (scenario hello-async): the path most real handlers take.
// eslint-disable-next-line @typescript-eslint/require-await -- async on purpose: the scenario measures that path
app.get('/hello-async', async () => ({ hello: 'world' }));

const running = await app.listen({ port: benchPort(), host: HOST });
announce(running.port, () => running.close());
