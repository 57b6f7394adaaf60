/**
 * A full garbage collection on demand, for the admin listener's `POST /memory/gc`: a leak check
 * that reads heap used right after a full GC sees retention only, where RSS and plain heap used
 * also carry garbage that V8 collects lazily (issue 14, class 3). Without `--expose-gc`, the
 * flag is switched on at run time and the function fetched from a fresh context; that is how
 * Node's own tests reach it, and it only makes `gc` callable, it changes no collector setting.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { heapLayout } from './heap-layout.ts';
import type { HeapLayout } from './heap-layout.ts';

let cached: (() => void) | undefined;

function gcFunction(): () => void {
  if (cached !== undefined) return cached;
  const exposed = (globalThis as { gc?: unknown }).gc;
  if (typeof exposed === 'function') cached = exposed as () => void;
  else {
    setFlagsFromString('--expose-gc');
    cached = runInNewContext('gc') as () => void;
  }
  return cached;
}

export interface FullGcResult {
  /** V8 heap used right after the collection: what is still reachable. */
  readonly heapUsedBytes: number;
  readonly rssBytes: number;
  readonly gcMs: number;
  /**
   * Committed memory by generation right after the collection: when RSS is far above
   * heapUsedBytes, this says whether V8's young generation, old-generation pages or memory
   * outside the heap hold the difference (heap-layout.ts).
   */
  readonly layout: HeapLayout;
}

/** Runs a full, blocking GC (tens of ms on a large heap) and reads memory right after it. */
export function fullGc(): FullGcResult {
  const started = performance.now();
  gcFunction()();
  const gcMs = Math.round((performance.now() - started) * 10) / 10;
  const usage = process.memoryUsage();
  return { heapUsedBytes: usage.heapUsed, rssBytes: usage.rss, gcMs, layout: heapLayout(undefined, usage.rss) };
}
