/**
 * The vial app of the load and memory scenarios, as a module (no listen) so that both
 * scenario-vial.ts and `vial run scenario-app.ts --workers 2` serve the same thing.
 *
 *   BENCH_SLOW           /slow: `sleep` (2 s non-blocking wait, default), `busy` (2 s busy loop on the
 *                        event loop) or `worker` (the same loop in the worker-thread pool)
 *   BENCH_VIAL_OPTIONS   JSON merged into the options (e.g. tuned `load.admission`, leak-alarm timing)
 *
 * Routes: /fast, /slow, /work (5 ms wait + JSON), /cpu (0.3 ms busy loop), /hold (until the client leaves), /store
 * (unbounded Map), /cache (BoundedCache of 10,000), /g-after-await (sets `g` in the handler, reads it after a 1 ms
 * wait), /wait-300 (300 ms non-blocking wait), /__bench/usage (process.memoryUsage(), committed bytes per heap
 * space and the pid, no GC: the soak's heap series), and /__bench/mem (full GC, then process.memoryUsage()) when
 * run with --expose-gc.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import type { Context, VialOptions } from '../../src/index.ts';
import { vial } from './vial-package.ts';
import { busyLoop, CPU_ROUTE_MS, storedValue, workPayload } from './busy.ts';

const options = JSON.parse(process.env['BENCH_VIAL_OPTIONS'] ?? '{}') as VialOptions;
const { BoundedCache, Vial, g } = vial;
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

// The soak's request-context route: `g` must still be this request's after an await (AsyncLocalStorage).
app.get('/g-after-await', async function gAfterAwait(ctx: Context) {
  const id = ctx.query.get('id') ?? '';
  g['soakId'] = id;
  await sleep(1, undefined, { signal: ctx.signal });
  return { same: g['soakId'] === id };
});

// The soak's slow route: 300 ms of waiting that holds nothing but the request (a slow upstream).
app.get('/wait-300', async function wait300(ctx: Context) {
  await sleep(300, undefined, { signal: ctx.signal });
  return { waited: 300 };
});

// Read by the soak every ~10 s: what the process holds now, without forcing a GC (that would change
// what the soak measures). The pid says which worker answered under `vial run --workers`.
app.get('/__bench/usage', () => ({ pid: process.pid, ...process.memoryUsage(), spaces: heapSpaces() }));

/** Committed bytes per V8 heap space (new_space, old_space, code_space, ...): where heapTotal goes. */
export function heapSpaces(): Record<string, number> {
  return Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.space_size]));
}

const gc = (globalThis as { gc?: () => void }).gc;
if (gc !== undefined) {
  app.get('/__bench/mem', () => {
    gc();
    return process.memoryUsage();
  });
}

export default app;
