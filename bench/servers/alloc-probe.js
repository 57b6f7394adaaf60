/**
 * Preloaded into a bench server (`NODE_OPTIONS=--import=.../alloc-probe.js`) to count the bytes its
 * JavaScript heap allocates over a window, the same way for every system. SIGUSR2 opens the window,
 * the next SIGUSR2 closes it and writes `{ allocatedBytes, gcs }` to `$BENCH_ALLOC_FILE`.
 *
 * Allocated = what the heap grew by between collections, summed: for each GC in the window, heap
 * used just before it minus heap used just after the previous one (v8.GCProfiler reports both),
 * plus the growth after the last one. Exact for everything V8 allocates on its heap (young and old
 * generation, large objects); Buffers' backing stores live outside it (`external`) and are not
 * counted, for any system. Intentionally not the sampling heap profiler: it samples, and keeping
 * collected objects in its profile changes what it costs.
 *
 * Plain JavaScript on purpose: worker threads inherit the preload, and a .ts preload would make
 * every worker (vial's watchdog thread) load Node's type stripper, ~10 MiB that no user pays.
 */
import { writeFileSync } from 'node:fs';
import { getHeapStatistics, GCProfiler } from 'node:v8';
import { isMainThread } from 'node:worker_threads';

const file = process.env.BENCH_ALLOC_FILE;
/** @type {{ profiler: GCProfiler, usedAtStart: number } | undefined} */
let window;

if (isMainThread && file !== undefined && file !== '') {
  process.on('SIGUSR2', () => {
    if (window === undefined) {
      const profiler = new GCProfiler();
      profiler.start();
      window = { profiler, usedAtStart: getHeapStatistics().used_heap_size };
      return;
    }
    const usedAtEnd = getHeapStatistics().used_heap_size;
    const gcs = window.profiler.stop()?.statistics ?? [];
    let previousAfter = window.usedAtStart;
    let allocatedBytes = 0;
    for (const gc of gcs) {
      allocatedBytes += Math.max(0, gc.beforeGC.heapStatistics.usedHeapSize - previousAfter);
      previousAfter = gc.afterGC.heapStatistics.usedHeapSize;
    }
    allocatedBytes += Math.max(0, usedAtEnd - previousAfter);
    window = undefined;
    writeFileSync(file, JSON.stringify({ allocatedBytes, gcs: gcs.length }));
  });
}
