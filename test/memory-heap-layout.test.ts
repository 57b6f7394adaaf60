import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type v8 from 'node:v8';
import { fullGc } from '../src/memory/full-gc.ts';
import { heapLayout } from '../src/memory/heap-layout.ts';

const MiB = 1024 * 1024;
const space = (name: string, size: number, used: number): v8.HeapSpaceInfo => ({ space_name: name, space_size: size, space_used_size: used, space_available_size: size - used, physical_space_size: size });

describe('heapLayout', () => {
  it('splits the committed heap into the young and the old generation, and names what lies outside it', () => {
    const layout = heapLayout([
      space('new_space', 64 * MiB, 10 * MiB),
      space('new_large_object_space', 0, 0),
      space('old_space', 30 * MiB, 20 * MiB),
      space('code_space', 2 * MiB, 2 * MiB),
      space('large_object_space', 4 * MiB, 4 * MiB),
    ], 190 * MiB);
    assert.deepEqual(layout, {
      rssBytes: 190 * MiB,
      heapCommittedBytes: 100 * MiB,
      heapUsedBytes: 36 * MiB,
      youngCommittedBytes: 64 * MiB,
      oldCommittedBytes: 36 * MiB,
      oldUsedBytes: 26 * MiB,
      outsideHeapBytes: 90 * MiB,
    });
  });

  it('reads this process when given nothing', () => {
    const layout = heapLayout();
    assert.ok(layout.youngCommittedBytes > 0 && layout.oldCommittedBytes > 0);
    assert.ok(layout.heapCommittedBytes >= layout.heapUsedBytes);
    assert.equal(layout.outsideHeapBytes, layout.rssBytes - layout.heapCommittedBytes);
  });

  it('comes with the full GC that POST /memory/gc runs', () => {
    const result = fullGc();
    assert.equal(result.layout.rssBytes, result.rssBytes);
    assert.ok(result.layout.heapUsedBytes > 0 && result.layout.oldUsedBytes <= result.layout.oldCommittedBytes);
  });
});
