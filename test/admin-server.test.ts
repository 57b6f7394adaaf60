import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { startAdmin } from '../src/admin/server.ts';
import type { RunningAdmin } from '../src/admin/http.ts';
import { BoundedCache } from '../src/memory/bounded-cache.ts';
import { TestClient } from '../src/testing.ts';
import type { Vial } from '../src/app.ts';
import { makeApp } from './helpers/both.ts';
import { VialError } from '../src/errors.ts';

const TOKEN = 'test-admin-token-0123456789abcdef';

function smallApp(options: Parameters<typeof makeApp>[0] = {}): Vial {
  const app = makeApp({ security: { session: { store: 'memory' } }, ...options });
  app.get('/hello', () => 'hi');
  app.get('/boom', () => {
    throw new Error('boom');
  });
  return app;
}

async function get(admin: RunningAdmin, path: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; text: string; json: <T>() => T }> {
  const res = await fetch(admin.url + path, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: <T>() => JSON.parse(text) as T };
}

describe('the admin listener token rule', () => {
  it('starts on loopback without a token', async () => {
    const admin = await startAdmin(smallApp(), { port: 0 });
    try {
      assert.match(admin.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal((await get(admin, '/healthz')).status, 200);
    } finally {
      await admin.close();
    }
  });

  for (const host of ['0.0.0.0', '::', '10.1.2.3', 'example.com']) {
    it(`refuses to start on ${host} without a token`, async () => {
      await assert.rejects(startAdmin(smallApp(), { host, port: 0 }), (error: unknown) => {
        assert.ok(error instanceof VialError);
        assert.equal(error.code, 'VIAL_ERR_ADMIN_TOKEN_REQUIRED');
        assert.match(error.message, /admin\.token/);
        return true;
      });
    });
  }

  it('refuses a token too short to be a secret', async () => {
    await assert.rejects(startAdmin(smallApp(), { port: 0, token: 'short' }), { code: 'VIAL_ERR_ADMIN_OPTION' });
  });

  it('starts on 0.0.0.0 with a token and checks the bearer on every data endpoint', async () => {
    const admin = await startAdmin(smallApp(), { host: '0.0.0.0', port: 0, token: TOKEN });
    const at = admin.url.replace('0.0.0.0', '127.0.0.1');
    const fetchAt = (path: string, headers: Record<string, string> = {}): Promise<Response> => fetch(at + path, { headers, signal: AbortSignal.timeout(10_000) });
    try {
      for (const path of ['/healthz', '/metrics', '/stats', '/load']) {
        const missing = await fetchAt(path);
        assert.equal(missing.status, 401, `${path} without a token`);
        assert.match(missing.headers.get('www-authenticate') ?? '', /^Bearer/);
        assert.equal((await fetchAt(path, { authorization: 'Bearer wrong-token-wrong-token-wrong' })).status, 401, `${path} with a wrong token`);
        assert.equal((await fetchAt(path, { authorization: `Bearer ${TOKEN}x` })).status, 401, `${path} with a longer token`);
        assert.equal((await fetchAt(path, { authorization: `Bearer ${TOKEN}` })).status, 200, `${path} with the token`);
      }
      // The page and its scripts hold no data: a browser loads them, then sends the token from the URL fragment.
      assert.equal((await fetchAt('/')).status, 200);
      assert.equal((await fetchAt('/assets/uPlot.iife.min.js')).status, 200);
    } finally {
      await admin.close();
    }
  });
});

describe('the admin endpoints', () => {
  const app = smallApp({ memory: { heapSnapshot: { maxHeapFraction: 1e-9 } } });
  const client = new TestClient(app);
  let admin: RunningAdmin;
  const cache = new BoundedCache<string, string>({ name: 'admin-test-cache', maxEntries: 10 });
  after(async () => {
    cache.dispose();
    await admin.close();
  });

  it('answers /healthz and /readyz', async () => {
    admin = await startAdmin(app, { port: 0 });
    const health = await get(admin, '/healthz');
    assert.equal(health.status, 200);
    assert.equal(health.json<{ status: string; pid: number }>().pid, process.pid);
    assert.deepEqual((await get(admin, '/readyz')).json(), { ready: true });
  });

  it('serves per-route series in /metrics after requests', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await client.get('/hello')).status, 200);
    assert.equal((await client.get('/boom')).status, 500);
    assert.equal((await client.get('/nowhere')).status, 404);
    const res = await get(admin, '/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    assert.match(res.text, /^vial_http_requests_total\{route="GET \/hello",method="GET",status_class="2xx"\} 3$/m);
    assert.match(res.text, /^vial_http_requests_total\{route="GET \/boom",method="GET",status_class="5xx"\} 1$/m);
    assert.match(res.text, /^vial_http_requests_total\{route="<unmatched>",method="GET",status_class="4xx"\} 1$/m);
    assert.match(res.text, /^vial_http_request_duration_seconds_bucket\{route="GET \/hello",method="GET",status_class="2xx",le="\+Inf"\} 3$/m);
    assert.match(res.text, /^vial_http_request_duration_seconds_count\{route="GET \/hello",method="GET",status_class="2xx"\} 3$/m);
    for (const name of ['vial_in_flight', 'vial_queued', 'vial_shed_total', 'vial_csrf_refusals_total', 'vial_offload_active', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'vial_event_loop_utilization']) {
      assert.match(res.text, new RegExp(`^# TYPE ${name} `, 'm'), name);
    }
    assert.match(res.text, /^vial_cache_entries\{cache="admin-test-cache"\} 0$/m);
  });

  it('lists routes, caches, load and security posture', async () => {
    const routes = (await get(admin, '/routes')).json<{ routes: { key: string; method: string }[] }>().routes;
    assert.ok(routes.some((r) => r.key === 'GET /hello' && r.method === 'GET'));
    cache.set('a', 'b');
    const caches = (await get(admin, '/caches')).json<{ caches: { name: string; size: number }[] }>().caches;
    assert.equal(caches.find((c) => c.name === 'admin-test-cache')?.size, 1);
    const load = (await get(admin, '/load')).json<Record<string, Record<string, unknown>>>();
    assert.deepEqual(Object.keys(load).sort(), ['acceptQueue', 'admission', 'connections', 'deadlines', 'offload', 'pressure']);
    // null until the first live sample has read the kernel's table (and always off Linux).
    const acceptQueue: unknown = load['acceptQueue'];
    assert.ok(acceptQueue === null || typeof acceptQueue === 'number');
    assert.equal(load['admission']?.['inFlight'], 0);
    assert.equal(typeof (load['admission']?.['shed'] as Record<string, number>)['queue-full'], 'number');
    assert.ok(Array.isArray(load['admission']?.['routes']));
    const security = (await get(admin, '/security')).json<{ session: { store: string; cookie: { name: string; httpOnly: boolean } }; csrf: { refusals: Record<string, number> } }>();
    assert.equal(security.session.store, 'memory');
    assert.equal(security.session.cookie.httpOnly, true);
    assert.equal(security.csrf.refusals['cross-site'], 0);
  });


  it('refuses a GET on /memory/heap-snapshot and a POST when memory is short', async () => {
    const wrong = await get(admin, '/memory/heap-snapshot');
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get('allow'), 'POST');
    const refused = await get(admin, '/memory/heap-snapshot', { method: 'POST' });
    assert.equal(refused.status, 503);
    assert.equal(refused.json<{ error: { code: string } }>().error.code, 'VIAL_ERR_HEAP_SNAPSHOT_REFUSED');
    assert.match(refused.json<{ error: { message: string } }>().error.message, /OOM/);
  });

  it('says allocation sampling is off when the monitors did not start', async () => {
    const res = await get(admin, '/memory/allocations');
    assert.equal(res.status, 503);
    assert.equal(res.json<{ error: { code: string } }>().error.code, 'VIAL_ERR_ALLOCATION_SAMPLER_STOPPED');
  });

  it('serves the dashboard page and uPlot from the listener itself', async () => {
    const page = await get(admin, '/');
    assert.equal(page.status, 200);
    assert.match(page.text, /<script src="\/assets\/uPlot\.iife\.min\.js">/);
    assert.doesNotMatch(page.text, /https?:\/\//);
    assert.match((await get(admin, '/assets/uPlot.iife.min.js')).text, /uPlot/);
    assert.match((await get(admin, '/dashboard.css')).headers.get('content-type') ?? '', /text\/css/);
    assert.equal((await get(admin, '/nope')).status, 404);
  });

  it('answers /stats with history, routes and a status', async () => {
    const stats = (await get(admin, '/stats')).json<{ status: string; intervalMs: number; samples: unknown[]; routes: { route: string; requests: number }[]; caches: unknown[]; blocks: unknown[] }>();
    assert.equal(stats.status, 'OK');
    assert.equal(stats.intervalMs, 1000);
    assert.ok(Array.isArray(stats.samples));
    assert.equal(stats.routes.find((r) => r.route === 'GET /hello')?.requests, 3);
  });
});
