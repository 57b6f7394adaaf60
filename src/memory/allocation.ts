/**
 * Allocation sites, the tracemalloc of Node: V8's sampling heap profiler, driven in-process
 * through `node:inspector`, says which functions allocated the memory that is still alive.
 *
 * What V8 reports (checked on Node 22 and 24): each sample carries the JS stack at allocation
 * time, but a frame's position is where its *function* starts (V8 records the function's
 * start position, not the allocating statement), and functions TurboFan inlined into a caller
 * are reported as that caller. So a site is "function `handle` defined at app.ts:41", and the
 * leak is inside that function. Node's type stripping replaces types with whitespace, so lines
 * and columns of .ts files are the ones in the source. V8 counts them from 0; sites here are 1-based.
 *
 * `includeObjectsCollectedByMajorGC/MinorGC: false` (V8's default, set explicitly) drops samples
 * whose objects were collected, so a snapshot shows live memory, not allocation churn.
 */

import { Session } from 'node:inspector/promises';
import { fileURLToPath } from 'node:url';
import { VialError } from '../errors.ts';
import { routeActivity, routeDelta } from './route-activity.ts';
import type { RouteCount } from './route-activity.ts';

export interface AllocationSamplerOptions {
  /** Average bytes between samples (V8 uses a Poisson process). Smaller is more precise and costlier. Default 524288 (512 KiB, as `node --heap-prof-interval`). */
  samplingIntervalBytes?: number;
  /** Keep frames of vial itself, `node:` internals and V8 builtins as sites. Default false: blame the nearest app frame. */
  includeInternal?: boolean;
}

export interface AllocationSite {
  readonly functionName: string;
  readonly url: string;
  /** Path for file: URLs, else the URL as V8 reported it. */
  readonly file: string;
  /** 1-based line where the allocating function starts. */
  readonly line: number;
  /** 1-based column of that function's start. */
  readonly column: number;
  /** `file:line`, for logs. */
  readonly location: string;
  /** Estimated live bytes allocated by this site (V8 scales samples up to the whole heap). */
  readonly selfBytes: number;
  /** Live samples at this site; each stands for roughly `samplingIntervalBytes` of allocation. */
  readonly count: number;
}

export interface AllocationSnapshot {
  /** Date.now() when taken. */
  readonly takenAt: number;
  readonly samplingIntervalBytes: number;
  /** All live sampled bytes, including those no site in `sites` accounts for. */
  readonly totalBytes: number;
  /** Bytes whose stack had no app frame (filtered out of `sites` unless includeInternal). */
  readonly internalBytes: number;
  /** Every site, largest first. */
  readonly sites: readonly AllocationSite[];
  /** Routes that served requests since this sampler's previous snapshot. */
  readonly routes: readonly RouteCount[];
  /** Cumulative per-route counters at this moment; `diff` subtracts them. */
  readonly routeTotals: Readonly<Record<string, number>>;
}

export interface AllocationGrowth extends AllocationSite {
  readonly growthBytes: number;
  readonly olderBytes: number;
}

export interface AllocationDiff {
  readonly elapsedMs: number;
  readonly totalGrowthBytes: number;
  /** Sites whose live bytes grew, largest growth first. */
  readonly sites: readonly AllocationGrowth[];
  /** Routes that served requests between the two snapshots, busiest first. */
  readonly routes: readonly RouteCount[];
}

export interface AllocationSampler {
  readonly samplingIntervalBytes: number;
  readonly running: boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
  snapshot(): Promise<AllocationSnapshot>;
  diff(older: AllocationSnapshot, newer: AllocationSnapshot): AllocationDiff;
}

// The profile format as V8 sends it (@types/node lacks `id` and `samples`).
interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  selfSize: number;
  id: number;
  children: ProfileNode[];
}
interface Profile {
  head: ProfileNode;
  samples?: { size: number; nodeId: number; ordinal: number }[];
}

/** vial's own source directory: its frames are the framework, not the app's allocation site. */
const VIAL_SRC = new URL('..', import.meta.url).href;

/**
 * lru-cache stores a BoundedCache's entries: blame the app line that called `set`, not the cache
 * internals (the same reason vial's own frames are skipped).
 */
const CACHE_LIBRARY = '/node_modules/lru-cache/';

function isInternal(url: string): boolean {
  return url === '' || url.startsWith('node:') || url.startsWith(VIAL_SRC) || url.includes(CACHE_LIBRARY);
}

/** Aggregates a profile by allocation site (pure). */
export function sitesFromProfile(profile: Profile, includeInternal: boolean): { sites: AllocationSite[]; totalBytes: number; internalBytes: number } {
  const counts = new Map<number, number>();
  for (const s of profile.samples ?? []) counts.set(s.nodeId, (counts.get(s.nodeId) ?? 0) + 1);
  const bySite = new Map<string, { frame: ProfileNode['callFrame']; bytes: number; count: number }>();
  let totalBytes = 0;
  let internalBytes = 0;
  const stack: ProfileNode[] = [];
  const visit = (node: ProfileNode): void => {
    stack.push(node);
    if (node.selfSize > 0) {
      totalBytes += node.selfSize;
      let frame: ProfileNode['callFrame'] | undefined;
      if (includeInternal) frame = node.callFrame;
      else {
        // Walk from the allocating frame towards the root: the first app frame is the one to blame.
        for (let i = stack.length - 1; i >= 0 && frame === undefined; i--) {
          const f = stack[i]!.callFrame;
          if (!isInternal(f.url)) frame = f;
        }
      }
      if (frame === undefined) internalBytes += node.selfSize;
      else {
        const key = `${frame.url}\0${frame.lineNumber}\0${frame.columnNumber}\0${frame.functionName}`;
        const site = bySite.get(key) ?? { frame, bytes: 0, count: 0 };
        site.bytes += node.selfSize;
        site.count += counts.get(node.id) ?? 0;
        bySite.set(key, site);
      }
    }
    for (const child of node.children) visit(child);
    stack.pop();
  };
  visit(profile.head);
  const sites = [...bySite.values()].map(({ frame, bytes, count }) => toSite(frame, bytes, count));
  sites.sort((a, b) => b.selfBytes - a.selfBytes);
  return { sites, totalBytes, internalBytes };
}

function toSite(frame: ProfileNode['callFrame'], selfBytes: number, count: number): AllocationSite {
  let file = frame.url;
  if (file.startsWith('file:')) {
    try {
      file = fileURLToPath(file);
    } catch {
      // intentionally keep the URL: a malformed file URL is still better than no location
    }
  }
  const line = frame.lineNumber + 1;
  return {
    functionName: frame.functionName === '' ? '(anonymous)' : frame.functionName,
    url: frame.url,
    file: file === '' ? '(native)' : file,
    line,
    column: frame.columnNumber + 1,
    location: `${file === '' ? '(native)' : file}:${line}`,
    selfBytes,
    count,
  };
}

const siteKey = (s: AllocationSite): string => `${s.url}\0${s.line}\0${s.column}\0${s.functionName}`;

/** What grew between two snapshots (pure). Sites that shrank or vanished are left out. */
export function diffAllocationSnapshots(older: AllocationSnapshot, newer: AllocationSnapshot): AllocationDiff {
  const before = new Map(older.sites.map((s) => [siteKey(s), s]));
  const sites: AllocationGrowth[] = [];
  for (const site of newer.sites) {
    const olderBytes = before.get(siteKey(site))?.selfBytes ?? 0;
    const growthBytes = site.selfBytes - olderBytes;
    if (growthBytes > 0) sites.push({ ...site, growthBytes, olderBytes });
  }
  sites.sort((a, b) => b.growthBytes - a.growthBytes);
  return {
    elapsedMs: newer.takenAt - older.takenAt,
    totalGrowthBytes: newer.totalBytes - older.totalBytes,
    sites,
    routes: routeDelta(older.routeTotals, newer.routeTotals),
  };
}

// V8 has one sampling heap profiler per isolate; two owners would stop each other's sampling.
let owner: object | undefined;

export function createAllocationSampler(options: AllocationSamplerOptions = {}): AllocationSampler {
  const samplingIntervalBytes = options.samplingIntervalBytes ?? 524_288;
  if (!Number.isSafeInteger(samplingIntervalBytes) || samplingIntervalBytes < 1024) {
    throw new VialError('VIAL_ERR_MEMORY_OPTIONS', `samplingIntervalBytes must be an integer >= 1024, got ${String(samplingIntervalBytes)}. The default, 524288, costs little in production.`);
  }
  const includeInternal = options.includeInternal ?? false;
  let session: Session | undefined;
  let lastRoutes: Record<string, number> = routeActivity.totals();

  const sampler: AllocationSampler = {
    samplingIntervalBytes,
    get running() {
      return session !== undefined;
    },
    async start() {
      if (session !== undefined) return;
      if (owner !== undefined) {
        throw new VialError('VIAL_ERR_ALLOCATION_SAMPLER_BUSY', 'Another allocation sampler is already running in this process; V8 allows one. Reuse it (the app exposes its sampler) or stop it first.');
      }
      owner = sampler;
      const s = new Session();
      try {
        s.connect();
        await s.post('HeapProfiler.enable');
        const params = { samplingInterval: samplingIntervalBytes, includeObjectsCollectedByMajorGC: false, includeObjectsCollectedByMinorGC: false };
        await s.post('HeapProfiler.startSampling', params);
      } catch (cause) {
        owner = undefined;
        s.disconnect();
        throw new VialError('VIAL_ERR_ALLOCATION_SAMPLER_BUSY', 'Could not start V8\'s sampling heap profiler (is a debugger profiling this process?). Stop the other profiler and retry.', { cause });
      }
      session = s;
      lastRoutes = routeActivity.totals();
    },
    async stop() {
      const s = session;
      if (s === undefined) return;
      session = undefined;
      owner = undefined;
      try {
        await s.post('HeapProfiler.stopSampling');
        await s.post('HeapProfiler.disable');
      } finally {
        s.disconnect();
      }
    },
    async snapshot() {
      if (session === undefined) {
        throw new VialError('VIAL_ERR_ALLOCATION_SAMPLER_STOPPED', 'The allocation sampler is not running: call start() first (allocation sites are only recorded while it runs).');
      }
      const { profile } = (await session.post('HeapProfiler.getSamplingProfile')) as unknown as { profile: Profile };
      const { sites, totalBytes, internalBytes } = sitesFromProfile(profile, includeInternal);
      const routeTotals = routeActivity.totals();
      const routes = routeDelta(lastRoutes, routeTotals);
      lastRoutes = routeTotals;
      return { takenAt: Date.now(), samplingIntervalBytes, totalBytes, internalBytes, sites, routes, routeTotals };
    },
    diff: diffAllocationSnapshots,
  };
  return sampler;
}
