// A small app using the server-timing plugin: `node src/cli/main.ts run examples/server-timing/app.ts`,
// then `curl -i localhost:5000/report` and `curl localhost:5000/_timing`.
import { setTimeout as delay } from 'node:timers/promises';
import { Vial } from '../../src/index.ts';
import { serverTiming } from './plugin.ts';

const app = new Vial();
app.plugin(serverTiming, { metric: 'app', statsPath: '/_timing' });

app.get('/report', async function report(ctx) {
  const rows = await ctx.timing.measure('db', async () => {
    await delay(5, undefined, { signal: ctx.signal });
    return [{ id: 1 }];
  });
  return { rows };
});
app.get('/health', { serverTiming: false }, () => ({ ok: true }));

export default app;
