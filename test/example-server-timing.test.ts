import { it } from 'node:test';
import assert from 'node:assert/strict';
import { VialError } from '../src/index.ts';
import { serverTiming } from '../examples/server-timing/plugin.ts';
import { both, connect, makeApp } from './helpers/both.ts';

function timingApp(): ReturnType<typeof makeApp> {
  const app = makeApp();
  app.plugin(serverTiming, { metric: 'total', statsPath: '/_timing' });
  app.get('/report', async (ctx) => ({ rows: await ctx.timing.measure('db', () => [1, 2]) }));
  app.get('/health', { serverTiming: false }, () => ({ ok: true }));
  return app;
}

both('the server-timing example plugin', (mode) => {
  it('sends Server-Timing with each measured phase and the total', async (t) => {
    const c = await connect(t, mode, timingApp());
    const reply = await c.get('/report');
    assert.deepEqual(reply.json(), { rows: [1, 2] });
    assert.match(reply.header('server-timing') ?? '', /^db;dur=\d+\.\d, total;dur=\d+\.\d$/);
  });

  it('leaves a route that opts out without the header, and lists per-route totals', async (t) => {
    const c = await connect(t, mode, timingApp());
    assert.equal((await c.get('/health')).header('server-timing'), undefined);
    await c.get('/report');
    await c.get('/report');
    const stats = (await c.get('/_timing')).json<{ routes: { route: string; count: number }[] }>();
    assert.deepEqual(stats.routes.map((r) => [r.route, r.count]), [['GET /report', 2]]);
  });
});

it('validates its options and its route option at startup', () => {
  assert.throws(() => makeApp().plugin(serverTiming, { metric: 'has space' }), (e: unknown) => e instanceof VialError && e.code === 'VIAL_ERR_PLUGIN');
  assert.throws(() => makeApp().plugin(serverTiming, { statsPath: 'no-slash' }), /starting with "\/"/);
  const app = makeApp();
  app.plugin(serverTiming);
  app.get('/x', { serverTiming: 'yes' as never }, () => 'x');
  assert.throws(() => app.routeList, /serverTiming is true or false/);
});
