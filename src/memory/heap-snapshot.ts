/**
 * Guarded on-demand heap snapshots. `v8.writeHeapSnapshot` is synchronous: the event loop stops
 * for seconds on a large heap (every request on this process waits), and V8 builds the snapshot
 * graph in memory next to the heap, which needs roughly as much again as the heap uses. On a box
 * or container short of memory, the snapshot meant to diagnose a leak gets the process OOM-killed.
 * So we refuse (503, exposed) unless there is about 2x the heap available, in RAM and within the
 * cgroup limit, plus disk for the file, and we allow one snapshot at a time.
 */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { isMainThread, threadId } from 'node:worker_threads';
import { VialError } from '../errors.ts';
import { typedChannel } from '../internal/channels.ts';

/** `vial:heap-snapshot`: one event per snapshot written. */
export const heapSnapshotChannel = typedChannel<HeapSnapshotResult>('vial:heap-snapshot');

export interface MemoryProbe {
  readonly heapUsedBytes: number;
  /** `os.freemem()`. */
  readonly freeBytes: number;
  /** cgroup limit minus cgroup usage, or null when there is no readable limit. */
  readonly cgroupAvailableBytes: number | null;
  /** Free bytes on the target directory's filesystem, or null when unknown. */
  readonly diskFreeBytes: number | null;
}

export interface HeapSnapshotOptions {
  /** Directory for the file; created if missing. */
  dir: string;
  /** Largest share of available memory the heap may use, in (0, 1]. Default 0.5: about 2x the heap must be available. */
  maxHeapFraction?: number;
  /** Replaces the memory readings (tests). */
  probe?: (dir: string) => Promise<MemoryProbe>;
}

export interface HeapSnapshotResult {
  readonly path: string;
  readonly sizeBytes: number;
  readonly durationMs: number;
}

async function readNumber(file: string): Promise<number | null> {
  try {
    const text = (await fs.promises.readFile(file, 'utf8')).trim();
    const n = Number(text);
    // cgroup v2 writes "max" for no limit; v1 writes a huge number (about 2^63) instead.
    return text === 'max' || !Number.isFinite(n) || n >= 2 ** 60 ? null : n;
  } catch {
    return null; // intentionally: no cgroup file means no cgroup limit to respect
  }
}

async function cgroupAvailable(): Promise<number | null> {
  const v2 = await readNumber('/sys/fs/cgroup/memory.max');
  if (v2 !== null) return v2 - ((await readNumber('/sys/fs/cgroup/memory.current')) ?? 0);
  const v1 = await readNumber('/sys/fs/cgroup/memory/memory.limit_in_bytes');
  if (v1 !== null) return v1 - ((await readNumber('/sys/fs/cgroup/memory/memory.usage_in_bytes')) ?? 0);
  return null;
}

/** Reads the guard's inputs from the OS. */
export async function probeMemory(dir: string): Promise<MemoryProbe> {
  let diskFreeBytes: number | null = null;
  try {
    const st = await fs.promises.statfs(dir);
    diskFreeBytes = st.bavail * st.bsize;
  } catch {
    diskFreeBytes = null; // intentionally: an unknown filesystem should not block the snapshot
  }
  return {
    heapUsedBytes: v8.getHeapStatistics().used_heap_size,
    freeBytes: os.freemem(),
    cgroupAvailableBytes: await cgroupAvailable(),
    diskFreeBytes,
  };
}

const mib = (n: number): string => `${(n / 1048576).toFixed(0)} MiB`;

function refuse(reason: string): VialError {
  return new VialError('VIAL_ERR_HEAP_SNAPSHOT_REFUSED', `Heap snapshot refused: ${reason}`, { status: 503, expose: true, headers: { 'Retry-After': '60' } });
}

/** Why a snapshot would be unsafe with these readings, or null when it is safe (pure). */
export function snapshotRefusal(probe: MemoryProbe, maxHeapFraction: number): string | null {
  const needed = probe.heapUsedBytes / maxHeapFraction;
  const available = Math.min(probe.freeBytes, probe.cgroupAvailableBytes ?? Infinity);
  if (available < needed) {
    const where = probe.cgroupAvailableBytes !== null && probe.cgroupAvailableBytes < probe.freeBytes ? 'left under the cgroup memory limit' : 'of free memory';
    return (
      `writing one needs about ${mib(needed)} (the heap uses ${mib(probe.heapUsedBytes)} and V8 builds the ` +
      `snapshot next to it), but only ${mib(available)} ${where} remain, so it could get the process OOM-killed. ` +
      'Take it when the heap is smaller (soon after a restart, before the leak has grown), on a worker with more ' +
      'headroom, or raise the memory limit.'
    );
  }
  if (probe.diskFreeBytes !== null && probe.diskFreeBytes < probe.heapUsedBytes * 2) {
    return `the snapshot file would be about ${mib(probe.heapUsedBytes)} or more, but only ${mib(probe.diskFreeBytes)} are free on its filesystem. Free disk space or choose another directory.`;
  }
  return null;
}

let inProgress = false;

/** Writes `<dir>/vial-<pid>-<time>.heapsnapshot` when the guard allows it; throws VIAL_ERR_HEAP_SNAPSHOT_REFUSED otherwise. */
export async function takeHeapSnapshot(options: HeapSnapshotOptions): Promise<HeapSnapshotResult> {
  const maxHeapFraction = options.maxHeapFraction ?? 0.5;
  if (!(maxHeapFraction > 0 && maxHeapFraction <= 1)) {
    throw new VialError('VIAL_ERR_MEMORY_OPTIONS', `maxHeapFraction must be in (0, 1], got ${String(maxHeapFraction)}. The default 0.5 requires about 2x the heap to be available.`);
  }
  if (inProgress) {
    throw refuse('another heap snapshot is being written in this process. Wait for it to finish: each one stops the event loop for seconds.');
  }
  inProgress = true; // set before the first await, so a concurrent call sees it
  try {
    await fs.promises.mkdir(options.dir, { recursive: true });
    const reading = await (options.probe ?? probeMemory)(options.dir);
    const reason = snapshotRefusal(reading, maxHeapFraction);
    if (reason !== null) throw refuse(reason);
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const file = path.join(options.dir, `vial-${process.pid}${isMainThread ? '' : `-t${threadId}`}-${stamp}.heapsnapshot`);
    const started = performance.now();
    v8.writeHeapSnapshot(file);
    const durationMs = Math.round(performance.now() - started);
    const { size } = await fs.promises.stat(file);
    const result: HeapSnapshotResult = { path: file, sizeBytes: size, durationMs };
    if (heapSnapshotChannel.hasSubscribers) heapSnapshotChannel.publish(result);
    return result;
  } finally {
    inProgress = false;
  }
}
