/**
 * Pool exhaustion (DESIGN.md failure 2): 20 clients each hold `GET /slow` (2 s of non-blocking
 * waiting) while `GET /fast` arrives at 50/s. A server whose capacity is a pool of workers
 * (gunicorn -w 4) stalls /fast behind the sleepers; an event loop should not.
 */
import { gunicornSystem } from '../lib/kit.ts';
import { runHold } from '../lib/hold.ts';
import type { Scenario } from '../lib/index.ts';

const scenario: Scenario = {
  name: 'pool-exhaustion',
  description: '20 clients hold GET /slow (2 s non-blocking wait) while GET /fast runs open-loop at 50/s',
  systems: [
    { name: 'vial', server: 'servers/scenario-vial.ts', env: { BENCH_SLOW: 'sleep' } },
    { name: 'fastify', server: 'servers/scenario-fastify.ts', env: { BENCH_SLOW: 'sleep' } },
    { name: 'fastify+under-pressure', server: 'servers/scenario-fastify.ts', env: { BENCH_SLOW: 'sleep', BENCH_UNDER_PRESSURE: '1' } },
    gunicornSystem('flask (gunicorn -w 4)', ['-w', '4'], { BENCH_SLOW: 'sleep' }),
  ],
  run: (ctx) =>
    runHold(ctx, {
      slowClients: 20,
      fastRatePerSec: 50,
      targets: [{ system: 'vial', maxP99Ms: 20, noErrors: true }],
      notes: ['vial: production defaults; /slow is `await setTimeout(2000, undefined, { signal: ctx.signal })`. flask: /slow is time.sleep(2) in sync workers.'],
    }),
};

export default scenario;
