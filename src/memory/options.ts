/**
 * Memory options: defaults (all on), bounds, and a frozen result. Each sub-object is the
 * argument of one factory: `createAllocationSampler(o.allocationSampling)`,
 * `createLeakAlarm({ ...o.leakAlarm, sampler, log })`, `takeHeapSnapshot(o.heapSnapshot)`.
 *
 * Pure module apart from reading `os.tmpdir()` for the default snapshot directory.
 */

import os from 'node:os';
import { ConfigError } from '../errors.ts';
import { inBounds } from '../internal/bounds.ts';

export interface MemoryOptions {
  allocationSampling?: {
    enabled?: boolean;
    /**
     * Default 524288 (512 KiB, as `node --heap-prof-interval`). At 64 KiB the sampler cost ~5% of a
     * small route's throughput (bench/, 2026-11-24); at 512 KiB a leak of tens of MiB still yields
     * hundreds of samples at its site. Lower it while hunting a small leak.
     */
    samplingIntervalBytes?: number;
    includeInternal?: boolean;
  };
  leakAlarm?: {
    enabled?: boolean;
    warmupMs?: number;
    sampleIntervalMs?: number;
    windowSamples?: number;
    minGrowthBytes?: number;
  };
  heapSnapshot?: {
    /** Default: os.tmpdir(). */
    dir?: string;
    maxHeapFraction?: number;
  };
}

export interface ResolvedMemoryOptions {
  readonly allocationSampling: { readonly enabled: boolean; readonly samplingIntervalBytes: number; readonly includeInternal: boolean };
  readonly leakAlarm: {
    readonly enabled: boolean;
    readonly warmupMs: number;
    readonly sampleIntervalMs: number;
    readonly windowSamples: number;
    readonly minGrowthBytes: number;
  };
  readonly heapSnapshot: { readonly dir: string; readonly maxHeapFraction: number };
}

function int(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const advice = `Leave it out to use the default (${fallback}).`;
  return inBounds(value ?? fallback, { name: `memory.${name}`, min, max, advice }, (message) => new ConfigError('VIAL_ERR_MEMORY_OPTIONS', message));
}

function bool(name: string, value: boolean | undefined, fallback: boolean): boolean {
  if (value !== undefined && typeof value !== 'boolean') {
    throw new ConfigError('VIAL_ERR_MEMORY_OPTIONS', `memory.${name} must be true or false, got ${String(value)}.`);
  }
  return value ?? fallback;
}

export function resolveMemoryOptions(partial: MemoryOptions = {}): ResolvedMemoryOptions {
  const a = partial.allocationSampling ?? {};
  const l = partial.leakAlarm ?? {};
  const h = partial.heapSnapshot ?? {};
  const maxHeapFraction = h.maxHeapFraction ?? 0.5;
  if (typeof maxHeapFraction !== 'number' || !(maxHeapFraction > 0 && maxHeapFraction <= 1)) {
    throw new ConfigError('VIAL_ERR_MEMORY_OPTIONS', `memory.heapSnapshot.maxHeapFraction must be a number in (0, 1], got ${String(maxHeapFraction)}. 0.5 means about twice the heap must be free.`);
  }
  const dir = h.dir ?? os.tmpdir();
  if (typeof dir !== 'string' || dir === '') {
    throw new ConfigError('VIAL_ERR_MEMORY_OPTIONS', 'memory.heapSnapshot.dir must be a non-empty directory path.');
  }
  const day = 24 * 60 * 60 * 1000;
  return Object.freeze({
    allocationSampling: Object.freeze({
      enabled: bool('allocationSampling.enabled', a.enabled, true),
      samplingIntervalBytes: int('allocationSampling.samplingIntervalBytes', a.samplingIntervalBytes, 524_288, 1024, 64 * 1024 * 1024),
      includeInternal: bool('allocationSampling.includeInternal', a.includeInternal, false),
    }),
    leakAlarm: Object.freeze({
      enabled: bool('leakAlarm.enabled', l.enabled, true),
      warmupMs: int('leakAlarm.warmupMs', l.warmupMs, 120_000, 0, day),
      sampleIntervalMs: int('leakAlarm.sampleIntervalMs', l.sampleIntervalMs, 30_000, 100, day),
      windowSamples: int('leakAlarm.windowSamples', l.windowSamples, 20, 3, 10_000),
      minGrowthBytes: int('leakAlarm.minGrowthBytes', l.minGrowthBytes, 16 * 1024 * 1024, 1, Number.MAX_SAFE_INTEGER),
    }),
    heapSnapshot: Object.freeze({ dir, maxHeapFraction }),
  });
}
