import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { BoundedCache } from '../src/memory/bounded-cache.ts';
import { cacheRegistry } from '../src/memory/registry.ts';
import { snapshotRefusal, takeHeapSnapshot } from '../src/memory/heap-snapshot.ts';
import type { HeapSnapshotResult, MemoryProbe } from '../src/memory/heap-snapshot.ts';
import { VialError } from '../src/errors.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const MiB = 1024 * 1024;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vial-memory-test-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const plenty: MemoryProbe = { heapUsedBytes: 100 * MiB, freeBytes: 8192 * MiB, cgroupAvailableBytes: null, diskFreeBytes: 8192 * MiB };

describe('heap snapshot guard', () => {
  it('refuses with an exposed 503 when free memory is under twice the heap', async () => {
    const probe = () => Promise.resolve({ ...plenty, freeBytes: 150 * MiB });
    await assert.rejects(takeHeapSnapshot({ dir, probe }), (err: unknown) => {
      assert.ok(err instanceof VialError);
      assert.equal(err.code, 'VIAL_ERR_HEAP_SNAPSHOT_REFUSED');
      assert.equal(err.status, 503);
      assert.equal(err.expose, true);
      assert.equal(err.headers['Retry-After'], '60');
      assert.match(err.message, /needs about 200 MiB .* only 150 MiB of free memory/);
      return true;
    });
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it('counts the cgroup limit, not just the machine, as available memory', () => {
    const reason = snapshotRefusal({ ...plenty, cgroupAvailableBytes: 120 * MiB }, 0.5);
    assert.match(reason ?? '', /only 120 MiB left under the cgroup memory limit/);
  });

  it('refuses when the disk cannot hold the file', () => {
    assert.match(snapshotRefusal({ ...plenty, diskFreeBytes: 50 * MiB }, 0.5) ?? '', /only 50 MiB are free on its filesystem/);
  });

  it('allows a snapshot when there is room, and honours maxHeapFraction', () => {
    assert.equal(snapshotRefusal(plenty, 0.5), null);
    assert.equal(snapshotRefusal({ ...plenty, freeBytes: 150 * MiB }, 0.9), null);
  });

  it('refuses a second snapshot while one is in progress', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // The first call is held inside its probe; its guard then refuses, so nothing is written.
    const first = takeHeapSnapshot({ dir, probe: async () => (await gate, { ...plenty, freeBytes: 1 }) });
    await assert.rejects(takeHeapSnapshot({ dir, probe: () => Promise.resolve(plenty) }), /another heap snapshot is being written/);
    release();
    await assert.rejects(first, { code: 'VIAL_ERR_HEAP_SNAPSHOT_REFUSED' });
  });

  it('rejects a maxHeapFraction outside (0, 1]', async () => {
    await assert.rejects(takeHeapSnapshot({ dir, maxHeapFraction: 0 }), { code: 'VIAL_ERR_MEMORY_OPTIONS' });
  });

  it('writes a real snapshot to the directory and publishes it on vial:heap-snapshot', async () => {
    const published: unknown[] = [];
    const onSnapshot = (msg: unknown): void => void published.push(msg);
    diagnostics.subscribe('vial:heap-snapshot', onSnapshot);
    let result: HeapSnapshotResult;
    try {
      // The real probe: this test process has a small heap and the machine has room.
      result = await takeHeapSnapshot({ dir: path.join(dir, 'nested') });
    } finally {
      diagnostics.unsubscribe('vial:heap-snapshot', onSnapshot);
    }
    assert.equal(path.dirname(result.path), path.join(dir, 'nested'));
    assert.match(path.basename(result.path), new RegExp(`^vial-${process.pid}-.*\\.heapsnapshot$`));
    assert.equal(result.sizeBytes, fs.statSync(result.path).size);
    // A V8 heap snapshot is JSON starting with its metadata.
    const head = Buffer.alloc(64);
    const fd = fs.openSync(result.path, 'r');
    fs.readSync(fd, head, 0, 64, 0);
    fs.closeSync(fd);
    assert.match(head.toString(), /^\{"snapshot":\{/);
    assert.deepEqual(published, [result]);
    fs.rmSync(result.path);
  });
});

describe('cache registry retention', () => {
  it('does not keep a cache alive that the app dropped', async () => {
    (() => {
      const dropped = new BoundedCache<string, string>({ name: 'test-dropped', maxEntries: 10 });
      dropped.set('a', 'b');
    })();
    assert.equal(cacheRegistry.has('test-dropped'), true);
    // WeakRef targets stay alive until the current job ends (ECMA-262 ClearKeptObjects), so yield first.
    for (let i = 0; i < 20 && cacheRegistry.has('test-dropped'); i++) {
      await nextTurn();
      gc();
    }
    assert.equal(cacheRegistry.has('test-dropped'), false);
    assert.equal(cacheRegistry.list().some((s) => s.name === 'test-dropped'), false);
    // The name is free again.
    new BoundedCache<string, string>({ name: 'test-dropped', maxEntries: 10 }).dispose();
  });
});
