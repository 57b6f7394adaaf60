import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startAdmin } from '../src/admin/server.ts';
import type { RunningAdmin } from '../src/admin/http.ts';
import type { RunningServer } from '../src/app.ts';
import { makeApp } from './helpers/both.ts';
import { pollUntil } from './helpers/wait.ts';

async function getJson<T>(admin: RunningAdmin, path: string): Promise<{ status: number; body: T }> {
  const res = await fetch(admin.url + path, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: (await res.json()) as T };
}

describe('the admin listener beside a running app', () => {
  // The monitors are on here (watchdog, allocation sampling): this file is their only user in its process.
  const app = makeApp({
    security: { session: { store: 'memory' } },
    watchdog: { enabled: true, thresholdMs: 100, checkIntervalMs: 20 },
    memory: { allocationSampling: { enabled: true, samplingIntervalBytes: 4096 } },
    load: { admission: { maxInFlight: 1, maxQueue: 0 } },
  });
  let release: () => void = () => {};
  const kept: string[][] = [];
  app.get('/hold', () => new Promise<string>((resolve) => (release = () => resolve('released'))));
  app.get('/block', () => {
    const end = Date.now() + 300;
    while (Date.now() < end);
    return 'blocked';
  });
  app.get('/grow', () => {
    kept.push(Array.from({ length: 20_000 }, (_, i) => `item-${i}-${kept.length}`));
    return 'grown';
  });
  let running: RunningServer;
  let admin: RunningAdmin;
  before(async () => {
    running = await app.listen({ port: 0, host: '127.0.0.1' });
    admin = await startAdmin(app, { port: 0 });
  });
  after(async () => {
    release();
    await admin.close();
    await running.close();
  });

  it('keeps answering while the app port sheds every request', async () => {
    const held = fetch(running.url + '/hold', { signal: AbortSignal.timeout(10_000) });
    await pollUntil('the held request to be admitted', async () => ((await getJson<{ admission: { inFlight: number } }>(admin, '/load')).body.admission.inFlight === 1 ? true : undefined));
    const shed = await fetch(running.url + '/grow', { signal: AbortSignal.timeout(10_000) });
    assert.equal(shed.status, 503);
    assert.equal((await getJson(admin, '/healthz')).status, 200);
    const load = (await getJson<{ admission: { shed: Record<string, number> } }>(admin, '/load')).body;
    assert.ok((load.admission.shed['queue-full'] ?? 0) + (load.admission.shed['route-full'] ?? 0) >= 1);
    const metrics = await (await fetch(admin.url + '/metrics', { signal: AbortSignal.timeout(10_000) })).text();
    assert.match(metrics, /^vial_in_flight 1$/m);
    assert.match(metrics, /^vial_http_requests_total\{route="GET \/grow",method="GET",status_class="5xx"\} 1$/m);
    release();
    assert.equal((await held).status, 200);
  });

  it('lists top allocation sites and what grew since the previous call', async () => {
    const first = await getJson<{ baseline: boolean; takenAt: number }>(admin, '/memory/allocations/diff');
    assert.equal(first.status, 200);
    assert.equal(first.body.baseline, true);
    for (let i = 0; i < 5; i++) assert.equal((await fetch(running.url + '/grow', { signal: AbortSignal.timeout(10_000) })).status, 200);
    const diff = await getJson<{ since: number; totalGrowthBytes: number; sites: { functionName: string; location: string; growthBytes: number }[]; routes: { route: string; requests: number }[] }>(admin, `/memory/allocations/diff?since=${first.body.takenAt}`);
    assert.equal(diff.status, 200);
    assert.equal(diff.body.since, first.body.takenAt);
    assert.ok(diff.body.sites.some((s) => s.location.includes('admin-monitors.test.ts')), JSON.stringify(diff.body.sites.slice(0, 3)));
    assert.ok(diff.body.routes.some((r) => r.route === 'GET /grow'));
    const top = await getJson<{ sites: { selfBytes: number }[]; totalBytes: number }>(admin, '/memory/allocations');
    assert.equal(top.status, 200);
    assert.ok(top.body.sites.length > 0 && top.body.totalBytes > 0);
    assert.equal((await getJson(admin, '/memory/allocations/diff?since=12345')).status, 404);
  });

  it('shows a blocked event loop with its route and stack, and turns the status to BLOCKED', async () => {
    assert.equal((await fetch(running.url + '/block', { signal: AbortSignal.timeout(10_000) })).status, 200);
    // Other stalls may be reported too on a loaded machine (reading an allocation profile blocks
    // the loop for a moment): look for this route's block, not the first one.
    const block = await pollUntil('the watchdog report', async () => {
      const { body } = await getJson<{ blocks: { route: string | null; durationMs: number; stack: string[]; userFrame: string | null }[] }>(admin, '/loop/blocks');
      return body.blocks.find((b) => b.route === 'GET /block');
    });
    assert.ok(block.durationMs >= 100);
    assert.match(block.userFrame ?? '', /admin-monitors\.test\.ts/);
    const stats = (await getJson<{ status: string; blocks: unknown[] }>(admin, '/stats')).body;
    assert.equal(stats.status, 'BLOCKED');
    assert.ok(stats.blocks.length >= 1);
  });

  it('answers /readyz with 503 once the app is closing', async () => {
    assert.equal((await getJson(admin, '/readyz')).status, 200);
    app.load.admission.close();
    const res = await getJson<{ ready: boolean; reason: string }>(admin, '/readyz');
    assert.equal(res.status, 503);
    assert.deepEqual(res.body, { ready: false, reason: 'closing' });
  });
});
