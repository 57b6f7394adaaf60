/**
 * A CPU-bound route (DESIGN.md failures 2 and 3): 20 clients keep `GET /slow` busy, each request a
 * 2 s busy loop, while `GET /fast` arrives at 50/s. On one event loop nothing can help; vial's two
 * answers are moving the route off the loop (`{ worker }`) and several worker processes
 * (`vial run --workers 2`, where the watchdog names the route and admission limits it after the first block).
 */
import { gunicornSystem, vialRunSystem } from '../lib/kit.ts';
import { runHold } from '../lib/hold.ts';
import type { Scenario } from '../lib/index.ts';

const busy = { BENCH_SLOW: 'busy' };

const scenario: Scenario = {
  name: 'blocking-route',
  description: '20 clients on GET /slow (a 2 s busy loop) while GET /fast runs open-loop at 50/s',
  systems: [
    { name: 'node:http', server: 'servers/scenario-node-http.ts' },
    { name: 'fastify', server: 'servers/scenario-fastify.ts', env: busy },
    { name: 'fastify+under-pressure', server: 'servers/scenario-fastify.ts', env: { ...busy, BENCH_UNDER_PRESSURE: '1' } },
    gunicornSystem('flask (gunicorn -w 4)', ['-w', '4'], busy),
    gunicornSystem('flask (gthread 4x4)', ['-k', 'gthread', '-w', '4', '--threads', '4'], busy),
    { name: 'vial (route in worker pool)', server: 'servers/scenario-vial.ts', env: { BENCH_SLOW: 'worker' } },
    vialRunSystem('vial run --workers 2', 'scenario-app.ts', 2, busy),
  ],
  run: (ctx) =>
    runHold(ctx, {
      slowClients: 20,
      fastRatePerSec: 50,
      targets: [
        { system: 'vial (route in worker pool)', maxP99Ms: 50, noErrors: true },
        { system: 'vial run --workers 2', answers: true },
      ],
      notes: [
        'vial (route in worker pool): app.get("/slow", { worker: new URL("./busy-route.ts", import.meta.url) }), defaults (offload pool: cpus - 1 threads, queue 64).',
        'vial run --workers 2: the busy route stays on the event loop; `node src/cli/main.ts run scenario-app.ts --workers 2`. All systems are pinned to one core (threads and processes share it).',
      ],
    }),
};

export default scenario;
