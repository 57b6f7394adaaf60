/**
 * Heap-growth alarm: names a leak while it happens instead of after the OOM kill.
 *
 * Why the post-GC floor: heap used between collections is mostly garbage waiting to be
 * collected, so it saws up and down with load. What survives a *major* (mark-compact) GC is
 * live data; if that floor keeps rising across many collections, something is retaining memory.
 * A `PerformanceObserver` on 'gc' entries (Node delivers them on a later tick, not inside the
 * GC) tells us a major GC happened; we then read the *old generation* used size
 * (`v8.getHeapSpaceStatistics()`, every space but new/young ones). Young objects allocated
 * between the GC and our callback sit in new space, so they do not blur the floor the way
 * `heapUsed` would. An interval without a major GC adds no sample: a heap that is not under
 * pressure gives no evidence either way. When `gc` is passed (e.g. `globalThis.gc` under
 * `--expose-gc`, in tests), each sample forces a full GC and reads the floor right after it.
 *
 * The alarm fires when, over the last `windowSamples` samples, both hold: the least-squares
 * slope projects at least `minGrowthBytes` of growth across the window, and the lowest floor of
 * the last third is above the lowest floor of the first third by `minGrowthBytes` (so one
 * spike cannot fire it). One alarm per episode: it re-arms once the window stops showing growth.
 */

import { PerformanceObserver, constants, performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import type { PerformanceObserverEntryList } from 'node:perf_hooks';
import type { AllocationGrowth, AllocationSampler, AllocationSnapshot } from './allocation.ts';
import type { RouteCount } from './route-activity.ts';
import { typedChannel } from '../internal/channels.ts';

/** `vial:leak`: one event per alarm raised. */
export const leakChannel = typedChannel<LeakAlarmEvent>('vial:leak');

/** The subset of a pino logger the alarm uses. */
export interface WarnLogger {
  warn(obj: object, msg: string): void;
}

export interface LeakAlarmOptions {
  /** No samples until this long after start(): caches fill and code gets compiled first. Default 120000. */
  warmupMs?: number;
  /** Default 30000. */
  sampleIntervalMs?: number;
  /** Samples in the rolling window, at least 3. Default 20. */
  windowSamples?: number;
  /** Floor growth across the window that counts as a leak. Default 16 MiB. */
  minGrowthBytes?: number;
  /** Source of `topSites`; the alarm starts it if needed but never stops it (it may be shared). */
  sampler?: AllocationSampler;
  log?: WarnLogger;
  /** Force a full GC before each sample (only when you already run with --expose-gc and accept the pauses). */
  gc?: () => void;
}

export interface LeakAlarmEvent {
  readonly growthBytesPerMin: number;
  readonly windowMs: number;
  /** Floor growth between the first and last third of the window. */
  readonly floorGrowthBytes: number;
  /** Total V8 heap used when the alarm fired. */
  readonly heapUsedBytes: number;
  /** Sites whose live bytes grew most since the alarm was armed (empty without a sampler). */
  readonly topSites: readonly AllocationGrowth[];
  /** Routes that served requests since the alarm was armed. */
  readonly routes: readonly RouteCount[];
}

export interface LeakAlarm {
  start(): void;
  /** Samples now and evaluates the window; resolves to the event if this call raised the alarm. */
  check(): Promise<LeakAlarmEvent | undefined>;
  stop(): void;
  readonly state: { readonly samples: number; readonly armed: boolean };
}

interface Sample {
  readonly atMs: number;
  readonly bytes: number;
}

/** Old-generation used bytes: every heap space except the young generation. */
function oldGenerationUsed(): number {
  let used = 0;
  for (const space of v8.getHeapSpaceStatistics()) {
    if (!space.space_name.startsWith('new_')) used += space.space_used_size;
  }
  return used;
}

/** Least-squares slope in bytes per ms (pure). */
export function slopeBytesPerMs(samples: readonly Sample[]): number {
  const n = samples.length;
  if (n < 2) return 0;
  const t0 = samples[0]!.atMs;
  let sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const { atMs, bytes } of samples) {
    const x = atMs - t0;
    sx += x; sy += bytes; sxx += x * x; sxy += x * bytes;
  }
  const den = n * sxx - sx * sx;
  return den === 0 ? 0 : (n * sxy - sx * sy) / den;
}

/** Whether the window shows sustained growth (pure). */
export function evaluateWindow(samples: readonly Sample[], minGrowthBytes: number): { growing: boolean; slope: number; floorGrowthBytes: number; windowMs: number } {
  const third = Math.max(1, Math.floor(samples.length / 3));
  const head = Math.min(...samples.slice(0, third).map((s) => s.bytes));
  const tail = Math.min(...samples.slice(-third).map((s) => s.bytes));
  const windowMs = samples.length < 2 ? 0 : samples.at(-1)!.atMs - samples[0]!.atMs;
  const slope = slopeBytesPerMs(samples);
  const floorGrowthBytes = tail - head;
  // Sample times can coincide (check() called back to back): then judge by the floors alone.
  const projected = windowMs === 0 ? floorGrowthBytes : slope * windowMs;
  return { growing: projected >= minGrowthBytes && floorGrowthBytes >= minGrowthBytes, slope, floorGrowthBytes, windowMs };
}

export function createLeakAlarm(options: LeakAlarmOptions = {}): LeakAlarm {
  const warmupMs = options.warmupMs ?? 120_000;
  const sampleIntervalMs = options.sampleIntervalMs ?? 30_000;
  const windowSamples = Math.max(3, options.windowSamples ?? 20);
  const minGrowthBytes = options.minGrowthBytes ?? 16 * 1024 * 1024;
  const { sampler, log, gc } = options;

  const samples: Sample[] = [];
  let floorSinceLast = Infinity;
  let armed = true;
  let baseline: AllocationSnapshot | undefined;
  let observer: PerformanceObserver | undefined;
  let warmup: NodeJS.Timeout | undefined;
  let ticker: NodeJS.Timeout | undefined;

  const onGc = (list: PerformanceObserverEntryList): void => {
    for (const entry of list.getEntries()) {
      const kind = (entry as { detail?: { kind?: number } | null }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) floorSinceLast = Math.min(floorSinceLast, oldGenerationUsed());
    }
  };

  const takeBaseline = async (): Promise<void> => {
    if (sampler === undefined) return;
    if (!sampler.running) await sampler.start();
    baseline = await sampler.snapshot();
  };

  const sample = (): void => {
    let bytes = floorSinceLast;
    if (gc !== undefined) {
      gc();
      bytes = oldGenerationUsed();
    }
    floorSinceLast = Infinity;
    if (bytes === Infinity) return;
    samples.push({ atMs: performance.now(), bytes });
    if (samples.length > windowSamples) samples.shift();
  };

  const raise = async (verdict: ReturnType<typeof evaluateWindow>): Promise<LeakAlarmEvent> => {
    let topSites: readonly AllocationGrowth[] = [];
    let routes: readonly RouteCount[] = [];
    if (sampler !== undefined) {
      const now = await sampler.snapshot();
      const diff = sampler.diff(baseline ?? now, now);
      topSites = diff.sites.slice(0, 10);
      routes = diff.routes;
      baseline = now;
    }
    const event: LeakAlarmEvent = {
      growthBytesPerMin: Math.round(verdict.slope * 60_000),
      windowMs: Math.round(verdict.windowMs),
      floorGrowthBytes: verdict.floorGrowthBytes,
      heapUsedBytes: v8.getHeapStatistics().used_heap_size,
      topSites,
      routes,
    };
    if (leakChannel.hasSubscribers) leakChannel.publish(event);
    const top = topSites[0];
    log?.warn(
      { leak: event },
      `vial: heap keeps growing after GC (+${(verdict.floorGrowthBytes / 1048576).toFixed(1)} MiB over the window)` +
        (top === undefined ? '; start an allocation sampler to name the site' : `; top growing allocation site: ${top.location} (${top.functionName})`),
    );
    return event;
  };

  const check = async (): Promise<LeakAlarmEvent | undefined> => {
    sample();
    if (baseline === undefined) await takeBaseline(); // growth is measured from the first sample
    if (samples.length < windowSamples) return undefined;
    const verdict = evaluateWindow(samples, minGrowthBytes);
    if (!verdict.growing) {
      if (!armed) {
        armed = true;
        await takeBaseline(); // a new episode is measured from here
      }
      return undefined;
    }
    if (!armed) return undefined;
    armed = false;
    return raise(verdict);
  };

  const tick = (): void => {
    check().catch((err: unknown) => log?.warn({ err }, 'vial: leak alarm check failed'));
  };

  return {
    start() {
      if (observer !== undefined) return;
      observer = new PerformanceObserver(onGc);
      observer.observe({ entryTypes: ['gc'] });
      warmup = setTimeout(() => {
        takeBaseline().catch((err: unknown) => log?.warn({ err }, 'vial: leak alarm could not start the allocation sampler'));
        ticker = setInterval(tick, sampleIntervalMs);
        ticker.unref();
      }, warmupMs);
      warmup.unref();
    },
    check,
    stop() {
      observer?.disconnect();
      observer = undefined;
      clearTimeout(warmup);
      clearInterval(ticker);
    },
    get state() {
      return { samples: samples.length, armed };
    },
  };
}
