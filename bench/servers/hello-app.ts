/**
 * The hello app as a module (no listen), so that servers/vial.ts (`app.listen()`) and `vial run
 * hello-app.ts` (the built CLI) serve the same thing. vial as a user would ship it: the built
 * package, production env, default options (every protection that is on by default is on).
 *
 *   /hello         a synchronous JSON reply
 *   /hello-async   the same reply from an async handler: the path most real handlers take
 *   BENCH_HOOK=1   adds one app-wide before hook, the shape of most real apps' auth check: read the
 *                  Authorization header and put who is asking on `g` (anonymous here: the bench
 *                  sends none). Fastify's counterpart is an onRequest hook (servers/fastify.ts).
 *   BENCH_VIAL_OPTIONS   JSON merged into the options, to see what one default costs (diagnosis only)
 */
import type { Context, VialOptions } from '../../src/index.ts';
import { vial } from './vial-package.ts';

const options = JSON.parse(process.env['BENCH_VIAL_OPTIONS'] ?? '{}') as VialOptions;
export const app = new vial.Vial({ env: 'production', ...options });

if (process.env['BENCH_HOOK'] === '1') {
  app.beforeRequest(function authenticate(ctx: Context) {
    const authorization = ctx.request.header('authorization');
    ctx.g.user = authorization === undefined ? 'anonymous' : authorization.slice(7);
  });
}

app.get('/hello', () => ({ hello: 'world' }));
// eslint-disable-next-line @typescript-eslint/require-await -- async on purpose: the scenario measures that path
app.get('/hello-async', async () => ({ hello: 'world' }));

export default app;
