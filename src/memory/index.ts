// Public surface of vial's memory tools; the package index re-exports from here.

export { BoundedCache, estimateBytes } from './bounded-cache.ts';
export type { BoundedCacheOptions, EvictReason, NonNullish } from './bounded-cache.ts';

export { cacheRegistry, CacheRegistry } from './registry.ts';
export type { CacheStats, RegisteredCache, RegisterOptions } from './registry.ts';

export { createAllocationSampler, diffAllocationSnapshots } from './allocation.ts';
export type { AllocationSampler, AllocationSamplerOptions, AllocationSite, AllocationSnapshot, AllocationGrowth, AllocationDiff } from './allocation.ts';

export { routeActivity, recordRoute } from './route-activity.ts';
export type { RouteCount } from './route-activity.ts';

export { createLeakAlarm, leakChannel } from './leak-alarm.ts';
export type { LeakAlarm, LeakAlarmEvent, LeakAlarmOptions, WarnLogger } from './leak-alarm.ts';

export { takeHeapSnapshot, probeMemory, snapshotRefusal, heapSnapshotChannel } from './heap-snapshot.ts';
export type { HeapSnapshotOptions, HeapSnapshotResult, MemoryProbe } from './heap-snapshot.ts';

export { resolveMemoryOptions } from './options.ts';
export type { MemoryOptions, ResolvedMemoryOptions } from './options.ts';
