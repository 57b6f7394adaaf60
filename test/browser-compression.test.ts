/**
 * Compression in a real browser: Chromium fetches a large JSON reply and an event stream that vial
 * compressed (with the coding it prefers among what this Chromium offers: zstd for Chromium 156 on
 * loopback), and the page sees the original JSON and every event as it arrives.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { html, sse } from '../src/index.ts';
import { makeApp } from './helpers/both.ts';

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const rows = Array.from({ length: 800 }, (_, i) => ({ id: i, name: `user ${i}`, email: `user${i}@example.com` }));

describe('compression in Chromium', () => {
  it('decodes the JSON and the event stream vial compressed', { timeout: 60_000 }, async (t) => {
    const app = makeApp(); // compression is on by default
    app.get('/', () => html`<!doctype html><title>c</title><script>
      window.results = (async () => {
        const res = await fetch('/rows');
        const body = await res.json();
        const events = await new Promise((resolve) => {
          const seen = [];
          const source = new EventSource('/events');
          source.addEventListener('tick', (e) => { seen.push(JSON.parse(e.data).i); if (seen.length === 3) { source.close(); resolve(seen); } });
        });
        return { count: body.rows.length, last: body.rows[body.rows.length - 1], events };
      })();
    </script>`);
    app.get('/rows', () => ({ rows }));
    app.get('/events', () =>
      sse(
        (async function* () {
          for (let i = 0; i < 3; i++) {
            yield { event: 'tick', data: { i } };
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
          // Keep the stream open: the page closes it once it has all three, so each must have been flushed.
          await new Promise((resolve) => setTimeout(resolve, 1_000));
        })(),
      ),
    );
    const running = await app.listen({ port: 0, host: '127.0.0.1' });
    t.after(() => running.close());
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS, timeout: 30_000 });
    t.after(() => browser.close());
    const page = await browser.newPage();
    const encodings = new Map<string, string | undefined>();
    const reading: Promise<void>[] = [];
    page.on('response', (res) => {
      reading.push(res.allHeaders().then((h) => void encodings.set(new URL(res.url()).pathname, h['content-encoding'])));
    });
    await page.goto(running.url);
    const results = await page.evaluate('window.results');
    // Each response's headers arrive asynchronously: all of them, before they are compared.
    await Promise.all(reading);
    assert.deepEqual(results, { count: 800, last: rows[799], events: [0, 1, 2] });
    // Whatever this Chromium offers (gzip, br, zstd), vial picked one and the browser decoded it.
    assert.match(encodings.get('/rows') ?? 'identity', /^(gzip|br|zstd)$/);
    assert.equal(encodings.get('/events'), encodings.get('/rows'));
  });
});
