/**
 * The dashboard tells a long turn of many requests from a route's block (issue 14, class 10): a
 * burst of 300 connections to a cheap route makes one long event-loop turn that no single request
 * held, and it must read as a long turn (amber BUSY, "many requests" in the table, no per-route
 * metric); a route that busy-loops for 300 ms is that route's block (red BLOCKED, the route named,
 * counted under its route in /metrics). Real Chromium, a real watchdog thread, a real burst from
 * another process.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { startAdmin } from '../src/admin/server.ts';
import type { RunningAdmin } from '../src/admin/http.ts';
import type { RunningServer } from '../src/app.ts';
import { createMetrics } from '../src/observe/metrics.ts';
import type { Metrics } from '../src/observe/metrics.ts';
import { makeApp } from './helpers/both.ts';
import { pollUntil } from './helpers/wait.ts';

const BURST = fileURLToPath(new URL('./fixtures/admin/burst.ts', import.meta.url));

interface BlockJson { kind: string; route: string | null; sampledRoute: string | null; confirmed: boolean; durationMs: number }

describe('the dashboard on a burst and on a real block', { timeout: 120_000 }, () => {
  const app = makeApp({
    name: 'cache-api',
    security: { session: { store: 'memory' } },
    watchdog: { enabled: true, thresholdMs: 100, checkIntervalMs: 20 },
    load: { admission: { maxInFlight: 10_000, maxQueue: 10_000 } },
  });
  app.get('/cache', () => {
    // About 1 ms of work: cheap alone, a long turn when 300 arrive at once.
    const end = performance.now() + 1;
    while (performance.now() < end);
    return 'hit';
  });
  app.get('/report', function buildReport() {
    const end = Date.now() + 300;
    while (Date.now() < end);
    return 'report';
  });
  let running: RunningServer;
  let admin: RunningAdmin;
  let metrics: Metrics;
  let browser: Browser | undefined;
  let page: Page;

  before(async () => {
    running = await app.listen({ port: 0, host: '127.0.0.1' });
    await app.monitors.startWatchdog();
    metrics = createMetrics(app, { live: { intervalMs: 250 } });
    admin = await startAdmin(app, { port: 0, metrics });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'], timeout: 30_000 });
    page = await browser.newPage();
    page.setDefaultTimeout(15_000);
    await page.goto(admin.url + '/', { waitUntil: 'load' });
  });
  after(async () => {
    await browser?.close();
    await admin.close();
    metrics.close();
    await running.close();
  });

  const blocks = async (): Promise<BlockJson[]> => ((await (await fetch(admin.url + '/loop/blocks')).json()) as { blocks: BlockJson[] }).blocks;
  const scrape = async (): Promise<string> => (await fetch(admin.url + '/metrics')).text();

  it('shows a burst of connections to a cheap route as a long turn, not as the route\'s block', async () => {
    let bursts = 0;
    const turn = await pollUntil('a long turn from a burst', async () => {
      bursts++;
      const { stdout } = await promisify(execFile)(process.execPath, [BURST, `${running.url}/cache`, '300'], { timeout: 30_000 });
      assert.ok(Number((JSON.parse(stdout) as Record<string, number>)['200']) > 0, stdout);
      return (await blocks()).find((b) => b.kind === 'long-turn');
    }, { timeoutMs: 60_000, intervalMs: 200 });
    assert.equal(turn.route, null, `a long turn names no route (after ${bursts} bursts)`);
    assert.equal(turn.sampledRoute, 'GET /cache');
    const confirmed = (await blocks()).filter((b) => b.kind === 'block');
    // The burst itself must not have produced a block blamed on the cheap route.
    assert.deepEqual(confirmed.filter((b) => b.route === 'GET /cache'), []);
    await page.locator('#status').filter({ hasText: /^BUSY$/ }).waitFor();
    // The page polls once a second: wait for the poll that saw this long turn (an earlier stall
    // outside any request, e.g. a burst's connections being accepted, may have made it BUSY first).
    await page.locator('#reasons').filter({ hasText: /long turn of many requests/ }).waitFor();
    assert.doesNotMatch((await page.locator('#reasons').textContent()) ?? '', /GET \/cache/);
    const rows = await page.locator('#blocks tbody tr').allTextContents();
    assert.ok(rows.some((r) => r.includes('long turn') && r.includes('many requests')), rows.join('\n'));
    assert.ok(rows.every((r) => !r.includes('GET /cache')), rows.join('\n'));
    const text = await scrape();
    assert.match(text, /^vial_event_loop_long_turns_total [1-9]/m);
    assert.doesNotMatch(text, /vial_event_loop_blocks_total\{route="GET \/cache"\}/);
  });

  it('shows a route that holds the loop as that route\'s block', async () => {
    assert.equal((await fetch(running.url + '/report', { signal: AbortSignal.timeout(10_000) })).status, 200);
    const block = await pollUntil('the block of GET /report', async () => (await blocks()).find((b) => b.route === 'GET /report'));
    assert.equal(block.kind, 'block');
    assert.equal(block.confirmed, true);
    await page.locator('#status').filter({ hasText: /^BLOCKED$/ }).waitFor();
    assert.match((await page.locator('#reasons').textContent()) ?? '', /event loop blocked \d+ ms in GET \/report/);
    const rows = await page.locator('#blocks tbody tr.hot').allTextContents();
    assert.ok(rows.some((r) => r.includes('GET /report') && r.includes('buildReport')), rows.join('\n'));
    assert.match(await scrape(), /^vial_event_loop_blocks_total\{route="GET \/report"\} 1$/m);
  });
});
