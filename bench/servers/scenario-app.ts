/**
 * The vial app of the load and memory scenarios, as a module (no listen) so that both
 * scenario-vial.ts and `vial run scenario-app.ts --workers 2` serve the same thing.
 *
 *   BENCH_SLOW           /slow: `sleep` (2 s non-blocking wait, default), `busy` (2 s busy loop on the
 *                        event loop) or `worker` (the same loop in the worker-thread pool)
 *   BENCH_VIAL_OPTIONS   JSON merged into the options (e.g. tuned `load.admission`, leak-alarm timing)
 *
 * Routes: /fast, /slow, /work (5 ms wait + JSON), /cpu (0.3 ms busy loop), /hold (until the client leaves), /store
 * (unbounded Map), /cache (BoundedCache of 10,000), and /__bench/mem (full GC, then process.memoryUsage()) when run with --expose-gc.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Context, VialOptions } from '../../src/index.ts';
import { vial } from './vial-package.ts';
import { busyLoop, CPU_ROUTE_MS, storedValue, workPayload } from './busy.ts';

const options = JSON.parse(process.env['BENCH_VIAL_OPTIONS'] ?? '{}') as VialOptions;
const { BoundedCache, Vial } = vial;
// allowedHosts: production requires it; this module is also loaded in-process by the bench tests.
export const app = new Vial({ env: 'production', name: 'bench', allowedHosts: ['127.0.0.1', 'localhost'], ...options });

app.get('/fast', () => ({ fast: true }));

const slow = process.env['BENCH_SLOW'] ?? 'sleep';
if (slow === 'worker') {
  app.get('/slow', { worker: new URL('./busy-route.ts', import.meta.url) });
} else if (slow === 'busy') {
  app.get('/slow', function busySlow() {
    return { slow: true, spins: busyLoop(2000) };
  });
} else {
  app.get('/slow', async function sleepySlow(ctx: Context) {
    await sleep(2000, undefined, { signal: ctx.signal });
    return { slow: true };
  });
}

app.get('/work', async function work(ctx: Context) {
  await sleep(5, undefined, { signal: ctx.signal });
  return workPayload();
});

// Holds its slot until the client leaves: with `maxInFlight: 1, maxQueue: 0` every other request is
// refused (bench overload measures what a refusal costs that way).
app.get('/hold', { timeoutMs: 600_000 }, async function hold(ctx: Context) {
  await new Promise<void>((resolve) => { ctx.signal.addEventListener('abort', () => resolve(), { once: true }); });
  return { held: true };
});

// Synchronous CPU work (template rendering, a JSON transform): never in flight between reads.
app.get('/cpu', function cpu() {
  return { spins: busyLoop(CPU_ROUTE_MS) };
});

// Intentionally unbounded: the leak the memory scenario wants the leak alarm to name.
const store = new Map<string, string>();
app.get('/store', function unboundedStore(ctx: Context) {
  const key = ctx.query.get('key') ?? '';
  store.set(key, storedValue(key));
  return { entries: store.size };
});

const cache = new BoundedCache<string, string>({ name: 'bench-cache', maxEntries: 10_000 });
app.get('/cache', function boundedStore(ctx: Context) {
  const key = ctx.query.get('key') ?? '';
  cache.set(key, storedValue(key));
  return { entries: cache.size };
});

const gc = (globalThis as { gc?: () => void }).gc;
if (gc !== undefined) {
  app.get('/__bench/mem', () => {
    gc();
    return process.memoryUsage();
  });
}

export default app;
