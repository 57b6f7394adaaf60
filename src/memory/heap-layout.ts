/**
 * Where a process's resident memory sits, by V8 generation: what allocation sites and the leak
 * alarm cannot say. Both look at live objects (sites: sampled objects still reachable; the alarm:
 * the old generation's floor after major GCs), so a process whose RSS is high but whose live heap
 * is small and flat shows nothing there. The usual reason is committed heap, not live data: V8
 * grows the young generation (up to 2 x `--max-semi-space-size`, 64 MiB on Node 24) once enough
 * bytes have survived its scavenges, and keeps old-generation pages that promoted garbage
 * occupied until the next mark-compact. The soak scenario (bench/README.md, "soak") found a
 * 190 MiB vial process with 22 MiB live: 64 MiB was the young generation.
 */
import v8 from 'node:v8';

export interface HeapLayout {
  readonly rssBytes: number;
  /** Bytes V8 has committed for its heap (heapTotal), live or not. */
  readonly heapCommittedBytes: number;
  readonly heapUsedBytes: number;
  /** Committed young generation (new space and new large objects): sized by V8 from scavenge survival. */
  readonly youngCommittedBytes: number;
  /** Committed old generation (old, code, trusted and large-object spaces). */
  readonly oldCommittedBytes: number;
  /** Used old generation: live data plus promoted garbage not yet collected by a mark-compact. */
  readonly oldUsedBytes: number;
  /** RSS minus the committed heap: code, stacks, Node and native allocations (buffers, TLS, threads). */
  readonly outsideHeapBytes: number;
}

/** Reads the layout now (no GC). `spaces` and `rssBytes` are injectable for tests. */
export function heapLayout(spaces: readonly v8.HeapSpaceInfo[] = v8.getHeapSpaceStatistics(), rssBytes: number = process.memoryUsage.rss()): HeapLayout {
  let young = 0;
  let oldCommitted = 0;
  let oldUsed = 0;
  let used = 0;
  for (const space of spaces) {
    used += space.space_used_size;
    // V8 names them new_space and new_large_object_space (older versions: the same prefix).
    if (space.space_name.startsWith('new_')) young += space.space_size;
    else {
      oldCommitted += space.space_size;
      oldUsed += space.space_used_size;
    }
  }
  const committed = young + oldCommitted;
  return {
    rssBytes,
    heapCommittedBytes: committed,
    heapUsedBytes: used,
    youngCommittedBytes: young,
    oldCommittedBytes: oldCommitted,
    oldUsedBytes: oldUsed,
    outsideHeapBytes: Math.max(0, rssBytes - committed),
  };
}
