import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';
import { fileURLToPath } from 'node:url';
import { createAllocationSampler, diffAllocationSnapshots } from '../src/memory/allocation.ts';
import type { AllocationSampler, AllocationSnapshot } from '../src/memory/allocation.ts';
import { sitesFromProfile } from '../src/memory/allocation.ts';
import { serve } from './fixtures/memory/leaky-app.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const fixture = fileURLToPath(new URL('./fixtures/memory/leaky-app.ts', import.meta.url));
const fixtureLines = fs.readFileSync(fixture, 'utf8').split('\n');
/** 1-based line of the first line containing `text`. */
const lineOf = (text: string): number => fixtureLines.findIndex((l) => l.includes(text)) + 1;

describe('allocation sampler', () => {
  let sampler: AllocationSampler;
  let older: AllocationSnapshot;
  let newer: AllocationSnapshot;

  before(async () => {
    sampler = createAllocationSampler({ samplingIntervalBytes: 4096 });
    await sampler.start();
    gc();
    older = await sampler.snapshot();
    serve('leaky', 50_000); // 50,000 "requests" to the leaky handler, interleaved with five others
    gc();
    newer = await sampler.snapshot();
  });
  after(() => sampler.stop());

  it('names the leaky handler in the fixture file among the top live allocation sites', () => {
    const top = newer.sites.slice(0, 3);
    const site = top.find((s) => s.functionName === 'handleLeaky');
    assert.ok(site, `top sites: ${top.map((s) => `${s.functionName} ${s.location}`).join(', ')}`);
    assert.equal(site.file, fixture);
    // V8 reports where the allocating function starts (1-based here), which the `.set` line is inside.
    assert.equal(site.line, lineOf('export function handleLeaky('));
    assert.ok(fixtureLines[site.line]?.includes('leaky.set(key, { payload'));
    assert.equal(site.location, `${fixture}:${site.line}`);
    assert.ok(site.selfBytes > 5_000_000, `only ${site.selfBytes} bytes attributed`);
    assert.ok(site.count > 0);
  });

  it('shows the leaky handler as the top grower between before and after', () => {
    const diff = sampler.diff(older, newer);
    assert.equal(diff.sites[0]?.functionName, 'handleLeaky');
    assert.equal(diff.sites[0]?.file, fixture);
    assert.ok(diff.sites[0].growthBytes > 5_000_000);
    assert.ok(diff.elapsedMs >= 0);
  });

  it('attaches the routes that served requests between the two snapshots', () => {
    const diff = diffAllocationSnapshots(older, newer);
    assert.deepEqual(diff.routes.find((r) => r.route === 'GET /leaky'), { route: 'GET /leaky', requests: 50_000 });
    assert.equal(diff.routes.length, 6);
    assert.deepEqual(newer.routes.find((r) => r.route === 'GET /leaky'), { route: 'GET /leaky', requests: 50_000 });
  });

  it('reports no vial or node: internal frames by default', () => {
    const vialSrc = new URL('../src/', import.meta.url).href;
    for (const site of newer.sites) {
      assert.ok(site.url !== '' && !site.url.startsWith('node:') && !site.url.startsWith(vialSrc), site.location);
    }
  });

  it('refuses a second sampler while one runs, since V8 has one sampling profiler per isolate', async () => {
    await assert.rejects(createAllocationSampler().start(), { code: 'VIAL_ERR_ALLOCATION_SAMPLER_BUSY' });
  });

  it('refuses a snapshot from a sampler that is not running', async () => {
    await assert.rejects(createAllocationSampler().snapshot(), { code: 'VIAL_ERR_ALLOCATION_SAMPLER_STOPPED' });
  });
});

describe('sitesFromProfile', () => {
  const frame = (functionName: string, url: string, lineNumber: number) => ({ functionName, url, lineNumber, columnNumber: 4, scriptId: '1' });
  const vialUrl = new URL('../src/memory/bounded-cache.ts', import.meta.url).href;
  const profile = {
    head: {
      callFrame: frame('(root)', '', -1), selfSize: 0, id: 1,
      children: [{
        callFrame: frame('handler', 'file:///app/routes.ts', 9), selfSize: 100, id: 2,
        children: [
          { callFrame: frame('set', vialUrl, 150), selfSize: 1000, id: 3, children: [] },
          { callFrame: frame('parse', 'node:internal/url', 3), selfSize: 10, id: 4, children: [] },
        ],
      }, { callFrame: frame('(program)', '', -1), selfSize: 7, id: 5, children: [] }],
    },
    samples: [{ size: 100, nodeId: 3, ordinal: 1 }, { size: 100, nodeId: 3, ordinal: 2 }, { size: 10, nodeId: 2, ordinal: 3 }],
  };

  it('blames the nearest app frame for allocations made inside vial or node internals', () => {
    const { sites, totalBytes, internalBytes } = sitesFromProfile(profile, false);
    assert.equal(sites.length, 1);
    assert.deepEqual(sites[0], {
      functionName: 'handler', url: 'file:///app/routes.ts', file: '/app/routes.ts', line: 10, column: 5,
      location: '/app/routes.ts:10', selfBytes: 1110, count: 3,
    });
    assert.equal(totalBytes, 1117);
    assert.equal(internalBytes, 7);
  });

  it('keeps internal frames as their own sites when asked to', () => {
    const { sites } = sitesFromProfile(profile, true);
    assert.deepEqual(sites.map((s) => [s.functionName, s.selfBytes]), [['set', 1000], ['handler', 100], ['parse', 10], ['(program)', 7]]);
  });
});
