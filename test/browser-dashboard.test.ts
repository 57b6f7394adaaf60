import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { startAdmin } from '../src/admin/server.ts';
import type { RunningAdmin } from '../src/admin/http.ts';
import type { RunningServer } from '../src/app.ts';
import { BoundedCache } from '../src/memory/bounded-cache.ts';
import { createMetrics } from '../src/observe/metrics.ts';
import type { Metrics } from '../src/observe/metrics.ts';
import { makeApp } from './helpers/both.ts';

const LOAD_MS = 6000;
const SCREENSHOT = fileURLToPath(new URL('../docs/dashboard.png', import.meta.url));

interface DashboardState {
  polls: number;
  errors: number;
  samples: unknown[];
  charts: Record<string, { data: number[][] }>;
  last: { status: string } | null;
}

describe('the dashboard in a browser, under load', () => {
  const app = makeApp({
    name: 'shop-api',
    security: { session: { store: 'memory' } },
    watchdog: { enabled: true, thresholdMs: 100, checkIntervalMs: 20 },
    memory: { allocationSampling: { enabled: true } },
    load: { admission: { maxInFlight: 6, maxQueue: 4, maxQueueWaitMs: 50 } },
  });
  const products = new BoundedCache<string, string>({ name: 'products', maxEntries: 500 });
  const sessions = new BoundedCache<string, string>({ name: 'rate-limits', maxEntries: 200 });
  app.get('/products/<int:id>', (ctx) => {
    const key = String(ctx.params['id']);
    const hit = products.get(key);
    if (hit !== undefined) return hit;
    products.set(key, `product ${key}`.repeat(20));
    return 'miss';
  });
  app.get('/search', { concurrency: 3 }, () => new Promise<string>((resolve) => setTimeout(() => resolve('results'), 40)));
  app.get('/coupons', { rateLimit: { limit: 3, windowSec: 60 } }, () => 'coupon');
  app.get('/report', () => {
    const end = Date.now() + 150;
    while (Date.now() < end);
    return 'report';
  });
  let running: RunningServer;
  let admin: RunningAdmin;
  let metrics: Metrics;
  let browser: Browser | undefined;

  before(async () => {
    running = await app.listen({ port: 0, host: '127.0.0.1' });
    metrics = createMetrics(app, { live: { intervalMs: 250 } });
    admin = await startAdmin(app, { port: 0, metrics });
  });
  after(async () => {
    await browser?.close();
    await admin.close();
    metrics.close();
    await running.close();
    products.dispose();
    sessions.dispose();
  });

  it('draws live charts and fills its tables with nothing loaded from beyond the admin listener', async () => {
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      timeout: 30_000,
    });
    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    page.setDefaultTimeout(15_000);
    const foreign: string[] = [];
    await page.route('**/*', async (route) => {
      const url = route.request().url();
      if (url.startsWith(admin.url + '/')) await route.continue();
      else {
        foreign.push(url);
        await route.abort();
      }
    });
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(String(error)));

    // A bounded load: 12 concurrent fetch loops for LOAD_MS, some refused by admission.
    const statuses = new Map<number, number>();
    const stopAt = Date.now() + LOAD_MS;
    const paths = ['/products/1', '/products/2', '/search', '/products/3', '/search', '/products/4'];
    const loops = Array.from({ length: 12 }, async (_, i) => {
      for (let n = 0; Date.now() < stopAt; n++) {
        const path = n % 97 === 5 && i === 0 ? '/report' : paths[(i + n) % paths.length]!;
        const res = await fetch(running.url + path, { signal: AbortSignal.timeout(10_000) });
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
    });
    const loaded = Promise.all(loops);
    for (let i = 0; i < 50; i++) sessions.set(`client-${i}`, 'x');
    await page.goto(admin.url + '/', { waitUntil: 'load' });
    await sleep(LOAD_MS - 1500);
    await page.waitForFunction(() => {
      const s = (globalThis as unknown as { vialDashboard?: DashboardState }).vialDashboard;
      return s !== undefined && s.polls >= 3 && (s.charts['latency']?.data[0]?.length ?? 0) > 8;
    });
    const buffer = await page.screenshot({ fullPage: true });
    await loaded;

    const state = await page.evaluate(() => {
      const s = (globalThis as unknown as { vialDashboard: DashboardState }).vialDashboard;
      return {
        polls: s.polls,
        errors: s.errors,
        points: Object.fromEntries(Object.entries(s.charts).map(([name, chart]) => [name, chart.data[0]?.length ?? 0])),
        throughput: s.charts['throughput']?.data[1] ?? [],
        status: s.last?.status,
      };
    });
    assert.deepEqual(foreign, []);
    assert.deepEqual(pageErrors, []);
    assert.equal(state.errors, 0);
    for (const [name, points] of Object.entries(state.points)) assert.ok(points > 8, `chart ${name} has ${points} points`);
    assert.ok(state.throughput.some((v) => v > 0), 'throughput was drawn above zero');
    assert.ok((statuses.get(200) ?? 0) > 0);
    assert.ok(['OK', 'SHEDDING', 'BUSY', 'BLOCKED'].includes(state.status ?? ''));
    assert.equal(await page.locator('canvas').count(), 5);
    const routeRows = await page.locator('#routes tbody tr:not(:has(td.empty))').allTextContents();
    assert.ok(routeRows.some((r) => r.includes('GET /products/<int:id>')), routeRows.join('\n'));
    assert.ok(routeRows.some((r) => r.includes('GET /search')));
    // Rate limits are on the dashboard: by route, limit and key kind.
    for (let i = 0; i < 10; i++) await fetch(running.url + '/coupons');
    const limitedRow = page.locator('#limited tbody tr', { hasText: 'GET /coupons' });
    await limitedRow.waitFor();
    assert.match((await limitedRow.textContent()) ?? '', /GET \/couponsrouteip7/);
    const cacheRows = await page.locator('#caches tbody tr').allTextContents();
    assert.ok(cacheRows.some((r) => r.startsWith('products')), cacheRows.join('\n'));
    assert.ok(buffer.length > 10_000);
    // The committed screenshot is refreshed on demand, so ordinary runs leave the tree clean.
    if (process.env['VIAL_UPDATE_SCREENSHOT'] === '1') writeFileSync(SCREENSHOT, buffer);
  });
});
