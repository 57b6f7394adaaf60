/**
 * The Flask classic, twice: a module-level Map filled from request data (a leak), and the same
 * cache with a bound. Two routes show what vial reports about each while the app runs.
 *
 *   node --expose-gc examples/leaky-cache/app.ts        # listens on 127.0.0.1:5000 (VIAL_PORT)
 *   node examples/leaky-cache/feed.ts leaky 100000      # see README.md
 *   curl 'localhost:5000/memory/report?format=text'
 *
 * --expose-gc is optional: with it, /memory/report collects garbage first, so the report shows
 * only what is really retained. Without it, recent garbage shows up too until V8 collects it.
 */
import { pathToFileURL } from 'node:url';
import { BoundedCache, Vial, VialResponse, cacheRegistry } from '../../src/index.ts';
import type { AllocationDiff, AllocationSite, AllocationSnapshot, Context } from '../../src/index.ts';

export const app = new Vial({ name: 'leaky-cache' });

// The leak: nothing ever removes an entry, so every new key stays until the process dies.
const leaky = new Map<string, { value: string; storedAt: number }>();

app.get('/leaky', function leakyRoute(ctx: Context) {
  const key = ctx.query.get('key') ?? '';
  leaky.set(key, { value: ctx.query.get('value') ?? '', storedAt: Date.now() });
  return { cached: key, entries: leaky.size };
});

// The fix: a bound (and a TTL). Past 10,000 entries the least recently used ones go.
const bounded = new BoundedCache<string, { value: string; storedAt: number }>({ name: 'bounded-example', maxEntries: 10_000, ttlMs: 10 * 60_000 });

app.get('/bounded', function boundedRoute(ctx: Context) {
  const key = ctx.query.get('key') ?? '';
  bounded.set(key, { value: ctx.query.get('value') ?? '', storedAt: Date.now() });
  return { cached: key, entries: bounded.size };
});

// The snapshot the next report diffs against.
let previous: AllocationSnapshot | undefined;

const MiB = 1024 * 1024;
const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;
const siteLine = (s: AllocationSite, bytes: number): string =>
  `  ${s.functionName.padEnd(14)} ${s.location}:${s.column}  ${mib(bytes).padStart(10)}  (${s.count.toLocaleString('en-US')} samples)`;

function asText(snapshot: AllocationSnapshot, diff: AllocationDiff | undefined, heapUsedBytes: number): string {
  const lines = [`heap used ${mib(heapUsedBytes)}; sampled live ${mib(snapshot.totalBytes)}, of which vial/node internals ${mib(snapshot.internalBytes)}`, '', 'top live allocation sites:'];
  for (const s of snapshot.sites.slice(0, 5)) lines.push(siteLine(s, s.selfBytes));
  if (diff !== undefined) {
    lines.push('', `grew since the previous report (${(diff.elapsedMs / 1000).toFixed(1)} s ago):`);
    for (const s of diff.sites.slice(0, 5)) lines.push(siteLine(s, s.growthBytes));
    lines.push('', 'routes served in between:');
    for (const r of diff.routes) lines.push(`  ${r.route.padEnd(20)} ${r.requests.toLocaleString('en-US')} requests`);
  }
  return `${lines.join('\n')}\n`;
}

/** The live allocation sites now, and what grew since the previous call. */
app.get('/memory/report', async (ctx) => {
  const sampler = app.monitors.sampler;
  if (sampler === undefined) return { error: 'the allocation sampler is not running (it starts with app.listen(); memory.allocationSampling.enabled)' };
  (globalThis as { gc?: () => void }).gc?.();
  const snapshot = await sampler.snapshot();
  const diff = previous === undefined ? undefined : sampler.diff(previous, snapshot);
  previous = snapshot;
  const heapUsedBytes = process.memoryUsage().heapUsed;
  if (ctx.query.get('format') === 'text') return new VialResponse(asText(snapshot, diff, heapUsedBytes), 200, { 'content-type': 'text/plain; charset=utf-8' });
  return { heapUsedBytes, totalBytes: snapshot.totalBytes, internalBytes: snapshot.internalBytes, top: snapshot.sites.slice(0, 10), diff: diff === undefined ? null : { ...diff, sites: diff.sites.slice(0, 10) } };
});

/** Every registered BoundedCache with its size, bounds, hit rate and evictions. */
app.get('/memory/caches', () => ({ caches: cacheRegistry.list() }));

export default app;

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const running = await app.listen({ port: Number(process.env['VIAL_PORT'] ?? 5000) });
  const stop = (): void => void running.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
