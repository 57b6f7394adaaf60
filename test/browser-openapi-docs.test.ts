/**
 * The docs page of examples/json-api, as `npm start` serves it, in a real Chromium: Swagger UI
 * loads from the app alone (any request elsewhere is aborted and fails the test), renders every
 * operation of the OpenAPI document with its summary, and expands one to show the request body
 * schema. `VIAL_UPDATE_SCREENSHOT=1` refreshes docs/json-api-docs.png (linked from docs/schemas.md).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { pollUntil } from './helpers/wait.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCREENSHOT = fileURLToPath(new URL('../docs/json-api-docs.png', import.meta.url));

describe('the json-api example docs page in a browser', () => {
  // Exactly `npm start`, on a free port and without the admin listener (its port may be taken).
  const child = spawn(process.execPath, ['src/cli/main.ts', 'run', 'examples/json-api/app.ts', '--port', '0', '--no-admin'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_ENV: 'development' },
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  let browser: Browser | undefined;

  after(async () => {
    await browser?.close();
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('renders every operation of the document with nothing loaded from beyond the app', async () => {
    const base = await pollUntil('vial run to print its address', () => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1], { timeoutMs: 20_000 })
      .catch((error: unknown) => {
        throw new Error(`${(error as Error).message}; output:\n${output}`);
      });
    const document = (await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, Record<string, { summary?: string }>> };
    const summaries = Object.values(document.paths).flatMap((ops) => Object.values(ops).map((op) => op.summary ?? ''));
    assert.ok(summaries.length >= 6, `the example documents its operations: ${summaries.join(', ')}`);

    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      timeout: 30_000,
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(15_000);
    const foreign: string[] = [];
    await page.route('**/*', async (route) => {
      const url = route.request().url();
      if (url.startsWith(`${base}/`)) await route.continue();
      else {
        foreign.push(url);
        await route.abort();
      }
    });
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(String(error)));

    await page.goto(`${base}/docs`, { waitUntil: 'load' });
    await page.locator('.opblock').first().waitFor();
    await page.locator('.info .title').filter({ hasText: 'Todo API' }).waitFor();
    // Swagger UI shows its warnings (an unsupported dialect, a broken $ref) in the page itself.
    assert.equal(await page.locator('.version-pragma, .errors-wrapper').count(), 0, await page.locator('.version-pragma, .errors-wrapper').allInnerTexts().then((t) => t.join('\n')));
    const operations = await page.locator('.opblock-summary').allTextContents();
    for (const summary of summaries) assert.ok(operations.some((text) => text.includes(summary)), `"${summary}" is on the page: ${operations.join(' | ')}`);
    assert.equal(await page.locator('.opblock').count(), summaries.length);
    for (const method of ['get', 'post', 'patch', 'delete']) assert.ok((await page.locator(`.opblock-${method}`).count()) > 0, `a ${method} operation is drawn`);

    // The overview, every operation collapsed, is the committed screenshot (one screen, not five).
    const buffer = await page.screenshot({ fullPage: true });

    // Open "Create a todo": its request body and responses come from the zod schemas.
    await page.locator('.opblock-post .opblock-summary').first().click();
    const create = page.locator('.opblock-post.is-open');
    await create.locator('.opblock-section-request-body').waitFor();
    const responses = await create.locator('.responses-table .response .response-col_status').allTextContents();
    for (const status of ['201', '409', '422']) assert.ok(responses.some((s) => s.trim().startsWith(status)), `POST documents ${status}: ${responses.join(', ')}`);
    assert.match(await create.locator('.opblock-section-request-body').innerText(), /title/);

    assert.deepEqual(foreign, []);
    assert.deepEqual(pageErrors, []);
    assert.ok(buffer.length > 10_000);
    // The committed screenshot is refreshed on demand, so ordinary runs leave the tree clean.
    if (process.env['VIAL_UPDATE_SCREENSHOT'] === '1') writeFileSync(SCREENSHOT, buffer);
  });
});
